package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
)

// TestServeRunsTheScheduler starts the server with the RCPCH sync due every second and
// the NHS DD sync off, waits for a recorded run, and checks that shutdown stops it.
func TestServeRunsTheScheduler(t *testing.T) {
	db := dbtest.New(t)
	env := envFunc(map[string]string{
		"DATABASE_URL":             db.URL,
		"CAREGRAPH_ADDR":           "127.0.0.1:0",
		"CAREGRAPH_AUTO_IMPORT":    "false",
		"CAREGRAPH_SCHEDULE_RCPCH": "* * * * * *",
		"CAREGRAPH_SCHEDULE_NHSDD": "off",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, nil, io.Discard, logs) }()

	st := store.New(db.Pool)
	var runs []store.JobRun
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if runs, err = st.JobRuns(context.Background(), jobRCPCH, 5); err == nil && len(runs) > 0 && runs[len(runs)-1].FinishedAt != nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("server stopped early: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(runs) == 0 {
		t.Fatalf("no scheduled run recorded:\n%s", logs.String())
	}
	first := runs[len(runs)-1]
	// The register is empty, so every list fails, loudly, and says what to do.
	if first.Trigger != store.TriggerSchedule || first.Outcome != store.OutcomeFailed || first.Counts["failed"] != 7 ||
		first.Error == nil || !strings.Contains(*first.Error, "RCPCH lists failed") {
		t.Errorf("first run: %+v", first)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("shutdown: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
	for _, want := range []string{`msg="job disabled" job=nhs-dd`, `msg="job scheduled" job=rcpch`, `msg="job failed" job=rcpch`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
