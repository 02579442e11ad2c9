package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"caregraph/store/dbtest"
)

func TestAggregateCommand(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	for _, pz := range []string{"PZ041", "PZ042"} {
		insertUnit(t, db, pz)
	}
	env := envFunc(map[string]string{"DATABASE_URL": db.URL})
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, env, nil, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	year := strconv.Itoa(openYear())
	if _, errOut, err := cli("demo-data", "--year", year, "--patients", "60", "--out", t.TempDir(), "--submit"); err != nil {
		t.Fatalf("demo-data: %v\n%s", err, errOut)
	}
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// demo-data --submit has recomputed the year once already, as one recorded run.
	if n := count(`SELECT count(*) FROM kpi_patient_results`); n != 60 {
		t.Errorf("%d patient results after demo-data, want 60", n)
	}

	out, errOut, err := cli("aggregate", "--year", year)
	if err != nil {
		t.Fatalf("aggregate: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "KPIs recomputed: 1 audit year(s), 2 units, 60 patients") || !strings.Contains(errOut, "loading patients") ||
		!strings.Contains(errOut, "written in") {
		t.Errorf("stdout %q\nstderr %q", out, errOut)
	}
	// Two units and the nation (no lead organisations in this register), 51 KPIs, 5 periods.
	if n := count(`SELECT count(*) FROM kpi_aggregates`); n != 3*51*5 {
		t.Errorf("%d aggregate rows, want %d", n, 3*51*5)
	}
	if n := count(`SELECT count(*) FROM kpi_patient_results`); n != 60 {
		t.Errorf("%d patient results, want 60", n)
	}
	if n := count(`SELECT count(*) FROM job_runs WHERE job = 'kpi-aggregate' AND trigger = 'manual' AND outcome = 'succeeded'`); n != 2 {
		t.Errorf("%d recorded manual runs, want 2 (demo-data's and this)", n)
	}

	// One unit, and every year with data (the default).
	if out, errOut, err = cli("aggregate", "--pdu", "pz041"); err != nil || !strings.Contains(out, "1 units") {
		t.Errorf("aggregate --pdu: %v\nstdout %q\nstderr %s", err, out, errOut)
	}
	if _, _, err = cli("aggregate", "--pdu", "PZ777"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "PZ777") {
		t.Errorf("unknown unit: %v", err)
	}
	if _, _, err = cli("aggregate", "--year", "1999"); !errors.Is(err, errUsage) {
		t.Errorf("bad year: %v", err)
	}
}

func TestKPIScheduleConfig(t *testing.T) {
	cfg, err := loadConfig(envFunc(map[string]string{}))
	if err != nil || cfg.ScheduleKPIs != "30 2 * * *" {
		t.Fatalf("default schedule %q, %v", cfg.ScheduleKPIs, err)
	}
	if cfg, err = loadConfig(envFunc(map[string]string{"CAREGRAPH_SCHEDULE_KPIS": "off"})); err != nil || cfg.ScheduleKPIs != "off" {
		t.Errorf("off: %q, %v", cfg.ScheduleKPIs, err)
	}
	if _, err := loadConfig(envFunc(map[string]string{"CAREGRAPH_SCHEDULE_KPIS": "every night"})); err == nil || !strings.Contains(err.Error(), "CAREGRAPH_SCHEDULE_KPIS") {
		t.Errorf("a bad schedule: %v", err)
	}
}
