package schedule

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"

	"github.com/go-co-op/gocron/v2"
)

// TestTwoSchedulersRunEachTickOnce starts two schedulers on one database (two replicas)
// with a job every second and checks that every tick ran exactly once.
func TestTwoSchedulersRunEachTickOnce(t *testing.T) {
	db := dbtest.New(t)
	st := store.New(db.Pool)
	var calls atomic.Int32
	fn := func(ctx context.Context) (map[string]int, error) {
		calls.Add(1)
		return map[string]int{"done": 1}, nil
	}
	var scheds []*Scheduler
	for _, host := range []string{"replica-a", "replica-b"} {
		s, err := New(Options{Store: st, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Register("every-second", "* * * * * *", fn); err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	start := time.Now()
	for _, s := range scheds {
		s.Start()
	}
	time.Sleep(4500 * time.Millisecond)
	for _, s := range scheds {
		if err := s.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)

	runs, err := st.JobRuns(context.Background(), "every-second", 100)
	if err != nil {
		t.Fatal(err)
	}
	ticks := map[time.Time]int{}
	for _, r := range runs {
		if r.Trigger != store.TriggerSchedule || r.ScheduledFor == nil {
			t.Errorf("run without a tick: %+v", r)
			continue
		}
		ticks[*r.ScheduledFor]++
		if r.Outcome != store.OutcomeSucceeded || r.Counts["done"] != 1 || r.FinishedAt == nil {
			t.Errorf("run not recorded as succeeded: %+v", r)
		}
		if r.ScheduledFor.Nanosecond() != 0 {
			t.Errorf("tick %s is not on a second", r.ScheduledFor)
		}
	}
	for tick, n := range ticks {
		if n != 1 {
			t.Errorf("tick %s ran %d times", tick, n)
		}
	}
	n := int(calls.Load())
	if n != len(runs) {
		t.Errorf("the job ran %d times but %d runs were recorded", n, len(runs))
	}
	// Two replicas without coordination would run about twice per second.
	if max := int(elapsed/time.Second) + 1; n < 3 || n > max {
		t.Errorf("%d runs in %s, want between 3 and %d: one per tick", n, elapsed.Round(time.Millisecond), max)
	}
}

// TestLongRunsDoNotOverlapAcrossReplicas: a run longer than the interval holds the
// advisory lock, so the other replica's ticks in the meantime do not start a second run.
func TestLongRunsDoNotOverlapAcrossReplicas(t *testing.T) {
	st := store.New(dbtest.New(t).Pool)
	var running, maxRunning atomic.Int32
	fn := func(ctx context.Context) (map[string]int, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, nil
	}
	var scheds []*Scheduler
	for _, host := range []string{"a", "b"} {
		s, err := New(Options{Store: st, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Register("slow", "* * * * * *", fn); err != nil {
			t.Fatal(err)
		}
		s.Start()
		scheds = append(scheds, s)
	}
	time.Sleep(4 * time.Second)
	for _, s := range scheds {
		_ = s.Shutdown()
	}
	if m := maxRunning.Load(); m != 1 {
		t.Errorf("%d runs of the job overlapped", m)
	}
}

func TestRunsRecordFailuresPanicsAndShutdown(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	s, err := New(Options{Store: st, Host: "h", StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 10)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("fails", "* * * * * *", func(ctx context.Context) (map[string]int, error) {
		return map[string]int{"failed": 2}, errors.New("2 datasets failed")
	}))
	must(s.Register("panics", "* * * * * *", func(ctx context.Context) (map[string]int, error) {
		panic("boom")
	}))
	must(s.Register("blocks", "* * * * * *", func(ctx context.Context) (map[string]int, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	must(s.Register("disabled", "off", nil))
	if err := s.Register("bad", "every sunday", func(context.Context) (map[string]int, error) { return nil, nil }); err == nil || !strings.Contains(err.Error(), "not a cron schedule") {
		t.Errorf("bad schedule: %v", err)
	}
	if _, ok := s.Jobs()["disabled"]; ok {
		t.Error("a job scheduled off was registered")
	}
	s.Start()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking job never started")
	}
	time.Sleep(300 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not cancel the running job")
	}
	check := func(job string, want func(store.JobRun) bool) {
		t.Helper()
		runs, err := st.JobRuns(ctx, job, 10)
		if err != nil || len(runs) == 0 {
			t.Fatalf("%s: %v, %d runs", job, err, len(runs))
		}
		if !want(runs[len(runs)-1]) {
			t.Errorf("%s: %+v", job, runs[len(runs)-1])
		}
	}
	check("fails", func(r store.JobRun) bool {
		return r.Outcome == store.OutcomeFailed && r.Error != nil && *r.Error == "2 datasets failed" && r.Counts["failed"] == 2
	})
	check("panics", func(r store.JobRun) bool {
		return r.Outcome == store.OutcomeFailed && r.Error != nil && strings.Contains(*r.Error, "panicked: boom")
	})
	check("blocks", func(r store.JobRun) bool {
		return r.Outcome == store.OutcomeFailed && r.Error != nil && strings.Contains(*r.Error, "context canceled")
	})
}

func TestRunManualSharesTheLock(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	lock, err := st.TryLockJob(ctx, "nhsdd")
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunManual(ctx, st, "nhsdd", "cli", func(context.Context) (map[string]int, error) { return nil, nil })
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("while locked: %v", err)
	}
	_ = lock.Unlock(ctx)
	counts, err := RunManual(ctx, st, "nhsdd", "cli", func(context.Context) (map[string]int, error) {
		return map[string]int{"updated": 4}, nil
	})
	if err != nil || counts["updated"] != 4 {
		t.Fatalf("%v %v", counts, err)
	}
	runs, _ := st.JobRuns(ctx, "nhsdd", 10)
	if len(runs) != 1 || runs[0].Trigger != store.TriggerManual || runs[0].Outcome != store.OutcomeSucceeded || runs[0].Host != "cli" {
		t.Errorf("runs: %+v", runs)
	}
}

func TestLatestTick(t *testing.T) {
	weekly, _, err := parseSpec("0 5 * * 0")
	if err != nil {
		t.Fatal(err)
	}
	sunday := time.Date(2026, 6, 7, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		c    gocron.Cron
		now  time.Time
		want time.Time
	}{
		{weekly, sunday.Add(3 * time.Millisecond), sunday},
		{weekly, sunday.Add(-10 * time.Millisecond), sunday},
		{weekly, sunday.Add(9 * time.Minute), sunday},
	}
	for _, tt := range tests {
		if got := latestTick(tt.c, tt.now); !got.Equal(tt.want) {
			t.Errorf("latestTick(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
	if got := latestTick(weekly, sunday.Add(2*time.Hour+1500*time.Millisecond)); !got.Equal(sunday.Add(2*time.Hour + time.Second)) {
		t.Errorf("long after the tick: %s", got)
	}
	secs, withSeconds, err := parseSpec("* * * * * *")
	if err != nil || !withSeconds {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 7, 5, 0, 7, 400_000_000, time.UTC)
	if got := latestTick(secs, now); !got.Equal(now.Truncate(time.Second)) {
		t.Errorf("every second: %s", got)
	}
	for _, bad := range []string{"@every 1m", "TZ=Europe/London 0 5 * * 0", "61 * * * *", "every day"} {
		if _, _, err := parseSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
