package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"caregraph/audit"
	"caregraph/store"
	"caregraph/sync/aggregate"
	"caregraph/sync/schedule"
)

const aggregateUsage = `aggregate [--year YEAR] [--pdu PZCODE]...

Recomputes the audit KPIs of the units' active submissions and their aggregates by
place (unit, trust or health board, ICB, NHS England region, diabetes network, country,
nation) for the audit year and each of its quarters. Without --pdu every unit is
recomputed and the year's figures are replaced in one transaction; with --pdu (repeat
it, or separate codes with commas) only those units and the places above them. Without
--year every audit year with an active submission or stored figures is recomputed.
Runs are recorded in job_runs as manual runs of kpi-aggregate, under the same lock as
the nightly run. Progress goes to standard error, a summary to standard output.`

// newAggregator is the aggregation the server and the commands share.
func newAggregator(st *store.Store, logger *slog.Logger) *aggregate.Aggregator {
	host, _ := os.Hostname()
	return &aggregate.Aggregator{Store: st, Logger: logger, Host: fmt.Sprintf("%s/%d", host, os.Getpid())}
}

// registerKPIAggregation schedules the nightly full recompute of every audit year.
func registerKPIAggregation(e env, s *schedule.Scheduler, st *store.Store) error {
	agg := newAggregator(st, e.logger)
	e.logger.Info("kpi aggregation", "schedule_kpis", e.cfg.ScheduleKPIs)
	return s.Register(aggregate.Job, e.cfg.ScheduleKPIs, func(ctx context.Context) (map[string]int, error) {
		return runAggregation(ctx, agg, 0, nil, nil)
	})
}

// pzList collects --pdu values, repeated or comma-separated.
type pzList []string

func (l *pzList) String() string { return strings.Join(*l, ",") }

func (l *pzList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, audit.NormalisePZ(p))
		}
	}
	return nil
}

func cmdAggregate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "aggregate", aggregateUsage)
	year := fs.Int("year", 0, "the audit year, e.g. 2024 for April 2024 to March 2025 (default: every year with data)")
	var pdus pzList
	fs.Var(&pdus, "pdu", "recompute only this unit (PZ code) and the places above it; repeatable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *year != 0 {
		if err := audit.ValidYear(*year); err != nil {
			return fmt.Errorf("%w: --year: %v", errUsage, err)
		}
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	st := store.New(db.Pool)
	var unitIDs []int64
	if len(pdus) > 0 {
		ids, err := st.UnitIDsByPZ(ctx, pdus)
		if err != nil {
			return err
		}
		for _, pz := range pdus {
			if ids[pz] == 0 {
				return fmt.Errorf("%w: no unit with PZ code %s", errUsage, pz)
			}
			unitIDs = append(unitIDs, ids[pz])
		}
	}
	agg := newAggregator(st, e.logger)
	start := time.Now()
	counts, err := schedule.RunManual(ctx, st, aggregate.Job, agg.Host, func(ctx context.Context) (map[string]int, error) {
		return runAggregation(ctx, agg, *year, unitIDs, e.stderr)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "KPIs recomputed: %d audit year(s), %d units, %d patients, %d visits, %d places, %d rows in %s\n",
		counts["years"], counts["units"], counts["patients"], counts["visits"], counts["places"], counts["rows"],
		time.Since(start).Round(time.Millisecond))
	return nil
}

// runAggregation recomputes one audit year, or every year with data (year 0): all
// units, or the units given and the places above them. Progress goes to w when set.
func runAggregation(ctx context.Context, agg *aggregate.Aggregator, year int, unitIDs []int64, w io.Writer) (map[string]int, error) {
	years := []int{year}
	if year == 0 {
		var err error
		if years, err = agg.Years(ctx); err != nil {
			return nil, err
		}
	}
	total := map[string]int{"years": 0}
	for _, y := range years {
		var progress aggregate.Progress
		if w != nil {
			progress = aggregateProgress(w, y)
		}
		var rep aggregate.Report
		var err error
		if unitIDs == nil {
			rep, err = agg.RunYear(ctx, y, progress)
		} else {
			rep, err = agg.RunUnits(ctx, y, unitIDs, progress)
		}
		for k, v := range rep.Counts() {
			if k != "audit_year" {
				total[k] += v
			}
		}
		if err != nil {
			return total, err
		}
		total["years"]++
		if w != nil {
			fmt.Fprintf(w, "  %d: loaded in %s, evaluated and summed in %s, written in %s\n", y,
				rep.Load.Round(time.Millisecond), rep.Evaluate.Round(time.Millisecond), rep.Write.Round(time.Millisecond))
		}
	}
	return total, nil
}

func aggregateProgress(w io.Writer, year int) aggregate.Progress {
	return func(stage string, n int) {
		switch stage {
		case "loading":
			fmt.Fprintf(w, "audit year %d: loading patients and visits…\n", year)
		case "loaded patients":
			fmt.Fprintf(w, "  %d patients loaded; evaluating the KPIs…\n", n)
		case "writing":
			fmt.Fprintf(w, "  writing %d aggregate rows…\n", n)
		}
	}
}
