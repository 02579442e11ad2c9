package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"caregraph/audit"
	"caregraph/audit/demo"
	"caregraph/auth"
	"caregraph/store"
	"caregraph/submissions"
	"caregraph/sync/aggregate"
	"caregraph/sync/schedule"
)

const demoUsage = `demo-data --year YEAR [--patients N] [--out DIR] [--units PZ001,PZ002] [--seed N] [--invalid SHARE] [--submit]

Writes a realistic, entirely synthetic NPDA CSV for every unit of the register (or for
--units) into DIR, as PZxxx_YEAR.csv: N patients in all, shared between the units as
unevenly as real units are, with believable ages, diabetes types, HbA1c, visits,
admissions, blank measures and a share of invalid cells. With --submit each file is
then submitted as the operator would with 'server submit', so that the API shows a
populated system.`

func cmdDemoData(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "demo-data", demoUsage)
	year := fs.Int("year", 0, "the audit year, e.g. 2024 (required)")
	patients := fs.Int("patients", 40000, "patients in all, shared between the units")
	out := fs.String("out", "demo-data", "folder to write the files to")
	unitList := fs.String("units", "", "comma-separated PZ codes (default: every unit of the register)")
	seed := fs.Uint64("seed", 1, "seed of the generator: the same seed writes the same files")
	invalid := fs.Float64("invalid", 0.005, "share of filled cells written invalid (0 for none)")
	submit := fs.Bool("submit", false, "submit each file after writing it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *year == 0 {
		fs.Usage()
		return fmt.Errorf("%w: demo-data needs --year and no other arguments", errUsage)
	}
	if err := audit.ValidYear(*year); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *patients < 1 || *invalid < 0 || *invalid > 0.5 {
		return fmt.Errorf("%w: --patients must be at least 1 and --invalid between 0 and 0.5", errUsage)
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	st := store.New(db.Pool)
	units, err := demoUnits(ctx, st, *unitList)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	shares := unitSizes(len(units), *patients, *seed)
	svc := submissions.New(st, submissions.Options{Logger: e.logger})
	share := *invalid
	if share == 0 {
		share = -1 // demo.Options reads 0 as the default share
	}
	start := time.Now()
	var rows, written, refused int
	for i, pz := range units {
		if shares[i] == 0 {
			continue
		}
		var buf bytes.Buffer
		stats, err := demo.Write(&buf, pz, demo.Options{AuditYear: *year, Patients: shares[i], Seed: *seed, InvalidShare: share, Today: time.Now()})
		if err != nil {
			return fmt.Errorf("write %s: %w", pz, err)
		}
		path := filepath.Join(*out, fmt.Sprintf("%s_%d.csv", pz, *year))
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
		rows += stats.Rows
		written++
		fmt.Fprintf(e.stderr, "[%d/%d] %s: %d patients, %d rows, %d invalid cells", i+1, len(units), path, stats.Patients, stats.Rows, stats.InvalidCells)
		if *submit {
			res, err := svc.Submit(ctx, auth.Operator(), submissions.Request{PZCode: pz, AuditYear: *year, FileName: filepath.Base(path), File: buf.Bytes(), Via: store.ViaCommandLine})
			if err != nil {
				fmt.Fprintln(e.stderr)
				return fmt.Errorf("submit %s: %w", pz, err)
			}
			if res.Rejection != nil {
				refused++
				fmt.Fprintf(e.stderr, "; refused: %s", res.Rejection.Message)
			} else {
				fmt.Fprintf(e.stderr, "; submission %d active, %d errors (%s)", res.Submission.ID, res.Submission.Errors, res.Took.Round(time.Millisecond))
			}
		}
		fmt.Fprintln(e.stderr)
	}
	fmt.Fprintf(e.stdout, "%d files, %d rows, %d patients written to %s in %s\n", written, rows, *patients, *out, time.Since(start).Round(time.Millisecond))
	if refused > 0 {
		return fmt.Errorf("%d files were refused", refused)
	}
	if *submit && written > 0 {
		// One recompute of the whole year, rather than one per unit as each activation
		// would start, so that the KPIs of the populated system are there at once.
		fmt.Fprintf(e.stderr, "recomputing the %d KPIs\n", *year)
		agg := newAggregator(st, e.logger)
		counts, err := schedule.RunManual(ctx, st, aggregate.Job, agg.Host, func(ctx context.Context) (map[string]int, error) {
			return runAggregation(ctx, agg, *year, nil, e.stderr)
		})
		if err != nil {
			return fmt.Errorf("recompute the KPIs: %w", err)
		}
		fmt.Fprintf(e.stdout, "KPIs recomputed: %d patients, %d places, %d rows\n", counts["patients"], counts["places"], counts["rows"])
	}
	return nil
}

// demoUnits is the units to write files for: those listed, or every unit of the
// register except RCPCH's own test unit.
func demoUnits(ctx context.Context, st *store.Store, list string) ([]string, error) {
	if list != "" {
		var out []string
		for _, c := range strings.Split(list, ",") {
			code, err := audit.ParsePZ(c)
			if err != nil {
				return nil, fmt.Errorf("%w: --units: %q is not a PZ code", errUsage, c)
			}
			out = append(out, code)
		}
		return out, nil
	}
	units, _, err := st.Units(ctx, time.Now(), "", 10_000)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range units {
		if u.PZCode != "PZ999" {
			out = append(out, u.PZCode)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the register has no paediatric diabetes units: run 'server seed' first, or pass --units")
	}
	return out, nil
}

// unitSizes shares total patients between n units unevenly, as real units are (a few
// large teaching hospitals, many small units): log-normal weights.
func unitSizes(n, total int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 42))
	weights := make([]float64, n)
	sum := 0.0
	for i := range weights {
		weights[i] = 0.3 + rng.ExpFloat64()
		sum += weights[i]
	}
	out := make([]int, n)
	given := 0
	for i, w := range weights {
		out[i] = int(float64(total) * w / sum)
		given += out[i]
	}
	for i := 0; given < total; i = (i + 1) % n {
		out[i]++
		given++
	}
	return out
}
