package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"caregraph/store"
	"caregraph/sync/fetch"
	"caregraph/sync/nhsdd"
	"caregraph/sync/rcpch"
	"caregraph/sync/schedule"
)

// The job names of the dataset syncs, shared by the scheduler and the commands so that
// a manual run and a scheduled one never overlap and both land in job_runs.
const (
	jobNHSDD = "nhs-dd"
	jobRCPCH = "rcpch"
)

// syncCommands are the subcommands of `server sync`; other syncs add theirs here.
func syncCommands() []command {
	return []command{
		{"nhs-dd", "scrape the NHS Data Dictionary code lists listed in docs/nhs-data-dictionary-datasets.md", cmdSyncNHSDD},
		{"rcpch", "build the seven RCPCH organisation lists (API when configured, else our own tables)", cmdSyncRCPCH},
		{"ods", "bring sites, trusts, boards and ICBs in line with NHS ODS (changes, successions, review queue)", cmdSyncODS},
	}
}

func cmdSync(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(e.stderr, "Usage: server sync SOURCE [flags]\n\nSources:")
		for _, c := range syncCommands() {
			fmt.Fprintf(e.stderr, "  %-8s %s\n", c.name, c.summary)
		}
		fmt.Fprintln(e.stderr, "\nRun 'server sync SOURCE --help' for its flags.")
		if len(args) == 0 {
			return fmt.Errorf("%w: sync needs a source", errUsage)
		}
		return flag.ErrHelp
	}
	for _, c := range syncCommands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	return fmt.Errorf("%w: unknown sync source %q (see server sync --help)", errUsage, args[0])
}

// syncFlags are the flags both dataset syncs take.
type syncFlags struct {
	dataset                    string
	force, dryRun, allowShrink bool
}

func parseSyncFlags(e env, name, synopsis string, args []string) (syncFlags, error) {
	var f syncFlags
	fs := newFlags(e, "sync "+name, "sync "+name+" [--dataset KEY] [--force] [--dry-run] [--allow-shrink]\n\n"+synopsis)
	fs.StringVar(&f.dataset, "dataset", "", "sync only the dataset with this key")
	fs.BoolVar(&f.force, "force", false, "sync datasets that are still fresh too")
	fs.BoolVar(&f.dryRun, "dry-run", false, "fetch and compare, report what would change, write nothing")
	fs.BoolVar(&f.allowShrink, "allow-shrink", false, "accept a source with far fewer options than the dataset holds (after checking it)")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	return f, nil
}

// newFetchClient is the outbound HTTP client of the dataset syncs.
func newFetchClient(e env) *fetch.Client {
	return fetch.New(fetch.Options{UserAgent: "caregraph dataset sync", Logger: e.logger})
}

// syncReport is what both syncs report.
type syncReport interface {
	Counts() map[string]int
	Err() error
	Summary() string
}

func cmdSyncNHSDD(ctx context.Context, e env, args []string) error {
	f, err := parseSyncFlags(e, "nhs-dd", "Reads the table of data elements compiled from docs/nhs-data-dictionary-datasets.md,\n"+
		"creates missing datasets, fetches each page from NHS_DD_BASE_URL (at most 4 at a time) and\n"+
		"stores its National, Permitted National and Default Codes. Datasets scraped in the last\n"+
		"7 days are skipped unless --force. A page with no code table, or far fewer codes than\n"+
		"before, fails and the dataset keeps its options. Exits non-zero when any dataset failed.", args)
	if err != nil {
		return err
	}
	return runSync(ctx, e, jobNHSDD, f.dryRun, func(ctx context.Context, st *store.Store) (syncReport, error) {
		sy := &nhsdd.Syncer{Store: st, Client: newFetchClient(e), BaseURL: e.cfg.NHSDDBaseURL, Progress: e.stderr,
			Actor: store.Actor{Name: "server sync nhs-dd"}}
		rep, err := sy.Run(ctx, nhsdd.Options{Dataset: f.dataset, Force: f.force, DryRun: f.dryRun, AllowShrink: f.allowShrink})
		if rep == nil {
			return nil, err
		}
		return rep, err
	})
}

func cmdSyncRCPCH(ctx context.Context, e env, args []string) error {
	f, err := parseSyncFlags(e, "rcpch", "Builds hospitals, NHS trusts, Welsh local health boards, London boroughs, NHS England\n"+
		"regions, paediatric diabetes units and integrated care boards from the RCPCH NHS\n"+
		"Organisations API at EXTERNAL_DATASET_API_URL (key in EXTERNAL_DATASET_API_KEY), or from\n"+
		"our own organisation register and boundaries when it is not set. Lists synced in the last\n"+
		"day are skipped unless --force; one list failing does not stop the others. Exits\n"+
		"non-zero when any list failed.", args)
	if err != nil {
		return err
	}
	return runSync(ctx, e, jobRCPCH, f.dryRun, func(ctx context.Context, st *store.Store) (syncReport, error) {
		sy := &rcpch.Syncer{Store: st, Client: newFetchClient(e), BaseURL: e.cfg.ExternalAPIURL, APIKey: e.cfg.ExternalAPIKey,
			Progress: e.stderr, Actor: store.Actor{Name: "server sync rcpch"}}
		rep, err := sy.Run(ctx, rcpch.Options{Dataset: f.dataset, Force: f.force, DryRun: f.dryRun, AllowShrink: f.allowShrink})
		if rep == nil {
			return nil, err
		}
		return rep, err
	})
}

// runSync opens the database and runs one sync: a real run as a manual run of the job
// (under the job's lock, recorded in job_runs), a dry run directly. It prints the
// summary and fails when any dataset failed.
func runSync(ctx context.Context, e env, job string, dryRun bool, do func(context.Context, *store.Store) (syncReport, error)) error {
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	st := store.New(db.Pool)
	var rep syncReport
	run := func(ctx context.Context) (map[string]int, error) {
		r, err := do(ctx, st)
		if err != nil {
			if r == nil {
				return nil, err
			}
			rep = r
			return r.Counts(), err
		}
		rep = r
		return r.Counts(), r.Err()
	}
	if dryRun {
		_, err = run(ctx)
	} else {
		host, _ := os.Hostname()
		_, err = schedule.RunManual(ctx, st, job, "cli "+host, run)
	}
	if rep != nil {
		prefix := job + ":"
		if dryRun {
			prefix = job + " (dry run, nothing written):"
		}
		fmt.Fprintln(e.stderr, prefix, rep.Summary())
	}
	return err
}
