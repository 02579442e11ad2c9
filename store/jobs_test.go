package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
)

func TestJobLockIsExclusiveAcrossSessions(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	a, err := st.TryLockJob(ctx, "nhsdd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.TryLockJob(ctx, "nhsdd"); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second lock while held: %v, want ErrLocked", err)
	}
	other, err := st.TryLockJob(ctx, "rcpch")
	if err != nil {
		t.Fatalf("another job's lock: %v", err)
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := st.TryLockJob(ctx, "nhsdd")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	_ = b.Unlock(ctx)
	_ = other.Unlock(ctx)
	if err := st.InTx(ctx, func(tx *store.Store) error {
		_, err := tx.TryLockJob(ctx, "nhsdd")
		return err
	}); err == nil {
		t.Error("a job lock inside a transaction should be refused")
	}
}

func TestJobRunsRecordEachTickOnce(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	tick := time.Date(2026, 6, 7, 5, 0, 0, 0, time.UTC)
	id, err := st.StartJobRun(ctx, "nhsdd", store.TriggerSchedule, &tick, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartJobRun(ctx, "nhsdd", store.TriggerSchedule, &tick, "b"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second claim of the tick: %v", err)
	}
	m1, err := st.StartJobRun(ctx, "nhsdd", store.TriggerManual, nil, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartJobRun(ctx, "nhsdd", store.TriggerManual, nil, "cli"); err != nil {
		t.Fatalf("manual runs claim no tick: %v", err)
	}
	if err := st.FinishJobRun(ctx, id, store.OutcomeSucceeded, map[string]int{"updated": 3}, nil); err != nil {
		t.Fatal(err)
	}
	msg := "page layout changed"
	if err := st.FinishJobRun(ctx, m1, store.OutcomeFailed, nil, &msg); err != nil {
		t.Fatal(err)
	}
	n, err := st.AbandonJobRuns(ctx, "nhsdd")
	if err != nil || n != 1 {
		t.Fatalf("abandoned %d runs, %v; want the one left running", n, err)
	}
	runs, err := st.JobRuns(ctx, "nhsdd", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("runs: %+v", runs)
	}
	byID := map[int64]store.JobRun{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	if r := byID[id]; r.Outcome != store.OutcomeSucceeded || r.Counts["updated"] != 3 || r.FinishedAt == nil || !r.ScheduledFor.Equal(tick) {
		t.Errorf("scheduled run: %+v", r)
	}
	if r := byID[m1]; r.Outcome != store.OutcomeFailed || r.Error == nil || *r.Error != msg {
		t.Errorf("failed run: %+v", r)
	}
	if other, _ := st.JobRuns(ctx, "rcpch", 10); len(other) != 0 {
		t.Errorf("runs of another job: %+v", other)
	}
}
