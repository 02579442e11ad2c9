package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"caregraph/store/dbtest"
)

func TestSubmitAndDemoDataCommands(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	for _, pz := range []string{"PZ041", "PZ042", "PZ999"} {
		insertUnit(t, db, pz)
	}
	env := envFunc(map[string]string{"DATABASE_URL": db.URL})
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, env, nil, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	dir := t.TempDir()
	year := openYear()

	// demo-data for every unit but RCPCH's test unit, submitted.
	out, errOut, err := cli("demo-data", "--year", strconv.Itoa(year), "--patients", "90", "--out", dir, "--submit")
	if err != nil {
		t.Fatalf("demo-data: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "2 files") || !strings.Contains(errOut, "PZ041_") || strings.Contains(errOut, "PZ999") || !strings.Contains(errOut, "active") {
		t.Errorf("demo-data stdout %q\nstderr %s", out, errOut)
	}
	var active int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM submissions WHERE state = 'active' AND audit_year = $1`, year).Scan(&active); err != nil || active != 2 {
		t.Fatalf("%d active submissions (%v)", active, err)
	}

	// submit replaces the unit's submission and prints a summary without cell values.
	file := filepath.Join(dir, "PZ041_"+strconv.Itoa(year)+".csv")
	annotated := filepath.Join(dir, "errors.csv")
	out, errOut, err = cli("submit", "--pdu", "41", "--year", strconv.Itoa(year), "--errors", annotated, file)
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "for PZ041") || !strings.Contains(out, "replaces submission") || !strings.Contains(errOut, "done in") {
		t.Errorf("submit stdout %q\nstderr %q", out, errOut)
	}
	if b, err := os.ReadFile(annotated); err != nil || !bytes.Contains(b, []byte("Errors found by caregraph")) {
		t.Errorf("annotated file: %v", err)
	}

	// Another unit's file is refused with expected and found, and exits with an error.
	_, errOut, err = cli("submit", "--pdu", "PZ042", "--year", strconv.Itoa(year), file)
	if err == nil || !strings.Contains(errOut, "expected: PZ042") || !strings.Contains(errOut, "found:    PZ041") {
		t.Errorf("refused file: %v\n%s", err, errOut)
	}
	// Usage mistakes.
	for _, args := range [][]string{{"submit", file}, {"submit", "--pdu", "PZ041", "--year", strconv.Itoa(year)}, {"demo-data"}, {"demo-data", "--year", "1999"}} {
		if _, _, err := cli(args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if _, _, err := cli("submit", "--pdu", "PZ041", "--year", strconv.Itoa(year), filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("a missing file was accepted")
	}
}
