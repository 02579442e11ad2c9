package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"caregraph/refdata"
	"caregraph/store"
	"caregraph/sync/ods"
)

// jobODS is the ODS sync's job name, shared by the scheduler and the command.
const jobODS = "ods"

func cmdSyncODS(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "sync ods", "sync ods [--since DATE] [--dry-run] [--report FILE]\n\n"+
		"Brings sites, trusts, health boards and ICBs in line with NHS ODS (ODS_SOURCE: ord or fhir).\n"+
		"Each changed record is compared field by field; real changes are written as new\n"+
		"versions dated at the ODS change date, parent moves as membership changes, successions\n"+
		"recorded. Closures, successions dated after the window and deletions are queued for\n"+
		"review (odsReviewItems in GraphQL). --dry-run writes nothing and, with --report, a\n"+
		"markdown report of what would change. Exits non-zero when any record failed.")
	since := fs.String("since", "", "start of the window, YYYY-MM-DD (default: where the last complete run ended)")
	dryRun := fs.Bool("dry-run", false, "compare and report, write nothing")
	report := fs.String("report", "", "write a markdown report of the run to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	var opts ods.Options
	opts.DryRun = *dryRun
	if *since != "" {
		t, err := time.Parse(time.DateOnly, *since)
		if err != nil {
			return fmt.Errorf("%w: --since: want YYYY-MM-DD, got %q", errUsage, *since)
		}
		opts.Since = t
	}
	return runSync(ctx, e, jobODS, *dryRun, func(ctx context.Context, st *store.Store) (syncReport, error) {
		sy := &ods.Syncer{Store: st, Source: e.odsSource(), Progress: e.stderr}
		rep, err := sy.Run(ctx, opts)
		if rep == nil {
			return nil, err
		}
		if *report != "" {
			if werr := writeReport(*report, rep); werr != nil && err == nil {
				err = werr
			}
		}
		return rep, err
	})
}

func writeReport(path string, rep *ods.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := rep.WriteMarkdown(f); err != nil {
		f.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	return f.Close()
}

func cmdMergers(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "mergers", "mergers --organisations CODE [CODE ...] (--create | --delete) [--dry-run] [--yes]\n\n"+
		"--create looks each site up in NHS ODS, hangs it from the trust of its active RE6\n"+
		"relationship, places it like any other site and gives it the unit and networks of the\n"+
		"reference lists; it asks before creating a site without an OPEN UK network or a\n"+
		"diabetes unit. --delete shows everything tied to each site, asks, and closes it (ends\n"+
		"its history and records a closure); it refuses a site with audit data. The whole batch\n"+
		"is checked before anything is written; each organisation is its own transaction.\n"+
		"--yes answers yes; without a terminal the answer is no.")
	create := fs.Bool("create", false, "create the sites from ODS")
	del := fs.Bool("delete", false, "close the sites")
	dryRun := fs.Bool("dry-run", false, "check and show, write nothing")
	yes := fs.Bool("yes", false, "answer yes to every question")
	var codes []string
	fs.Func("organisations", "ODS codes: one or more, space- or comma-separated", func(v string) error {
		codes = append(codes, strings.Fields(strings.ReplaceAll(v, ",", " "))...)
		return nil
	})
	if err := parseFlags(fs, spreadCodes(args)); err != nil {
		return err
	}
	codes = append(codes, fs.Args()...)
	if *create == *del {
		return fmt.Errorf("%w: give exactly one of --create and --delete", errUsage)
	}
	if len(codes) == 0 {
		return fmt.Errorf("%w: --organisations needs at least one ODS code", errUsage)
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	st := store.New(db.Pool)
	ask := asker(e, *yes)
	if *create {
		return mergersCreate(ctx, e, st, codes, *dryRun, ask)
	}
	return mergersDelete(ctx, e, st, codes, *dryRun, ask)
}

// spreadCodes lets --organisations take several codes, as the command it replaces did
// (--organisations RGT01 RGT02 --create): the flag package takes one value per flag and
// stops at the first argument that is not a flag, so each further code is given its
// own --organisations.
func spreadCodes(args []string) []string {
	var out []string
	inCodes := false
	for _, a := range args {
		switch {
		case a == "--organisations" || a == "-organisations":
			inCodes = true
			out = append(out, a)
			continue
		case strings.HasPrefix(a, "-"):
			inCodes = false
		case inCodes && len(out) > 0 && out[len(out)-1] != "--organisations" && out[len(out)-1] != "-organisations":
			out = append(out, "--organisations")
		}
		out = append(out, a)
	}
	return out
}

// asker answers questions: yes with --yes, no without a terminal, else what is typed.
func asker(e env, yes bool) func(q string) bool {
	var in *bufio.Reader
	return func(q string) bool {
		fmt.Fprintf(e.stderr, "%s [y/N] ", q)
		if yes {
			fmt.Fprintln(e.stderr, "yes (--yes)")
			return true
		}
		f, ok := e.stdin.(*os.File)
		if !ok || f == nil {
			fmt.Fprintln(e.stderr, "no (no terminal to ask)")
			return false
		}
		if !isTerminal(f) {
			fmt.Fprintln(e.stderr, "no (no terminal to ask)")
			return false
		}
		if in == nil {
			in = bufio.NewReader(f)
		}
		line, _ := in.ReadString('\n')
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes"
	}
}

func mergersCreate(ctx context.Context, e env, st *store.Store, codes []string, dryRun bool, ask func(string) bool) error {
	ref, err := loadReference(e)
	if err != nil {
		return err
	}
	plans, err := ods.PlanCreate(ctx, st, e.odsSource(), ref, codes)
	if err != nil {
		return fmt.Errorf("nothing created: %w", err)
	}
	steps := make([]mergerStep, len(plans))
	for i, p := range plans {
		var d strings.Builder
		fmt.Fprintf(&d, "%s %s: parent %s (active RE6), from %s, unit %s, OPEN UK %s\n", p.Code, p.Name, p.Parent,
			p.From.Format(time.DateOnly), orDash(p.Unit), orDash(strings.Join(p.OpenUK, ", ")))
		for _, w := range p.Warnings {
			fmt.Fprintf(&d, "  warning: %s\n", w)
		}
		steps[i] = mergerStep{code: p.Code, describe: d.String(), apply: func() error { return p.Create(ctx, st) }}
		if p.NeedsAsking() {
			steps[i].question = fmt.Sprintf("Create %s without %s?", p.Code, strings.Join(missing(p), " and "))
		}
	}
	return runMergers(e, steps, dryRun, ask, "created")
}

// mergerStep is one organisation of a mergers batch: what is shown of it, the question
// asked before acting (none: no need to ask) and the action.
type mergerStep struct {
	code, describe, question string
	apply                    func() error
}

// runMergers shows each step and, unless dryRun, asks and acts on one organisation at a
// time, then sums up; done names the action in the summary ("created", "closed"). A
// failure is reported and the rest go on; the command then fails.
func runMergers(e env, steps []mergerStep, dryRun bool, ask func(string) bool, done string) error {
	applied, skipped, failed := 0, 0, 0
	for _, s := range steps {
		fmt.Fprint(e.stderr, s.describe)
		if dryRun {
			continue
		}
		if s.question != "" && !ask(s.question) {
			skipped++
			continue
		}
		if err := s.apply(); err != nil {
			failed++
			fmt.Fprintf(e.stderr, "%s: FAILED: %v\n", s.code, err)
			continue
		}
		applied++
	}
	if dryRun {
		fmt.Fprintf(e.stderr, "mergers (dry run, nothing written): %d would be %s\n", len(steps), done)
		return nil
	}
	fmt.Fprintf(e.stderr, "mergers: %d %s, %d skipped, %d failed\n", applied, done, skipped, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d sites could not be %s", failed, len(steps), done)
	}
	return nil
}

func missing(p ods.CreatePlan) []string {
	var m []string
	if len(p.OpenUK) == 0 {
		m = append(m, "an OPEN UK network")
	}
	if p.Unit == "" {
		m = append(m, "a diabetes unit")
	}
	return m
}

func mergersDelete(ctx context.Context, e env, st *store.Store, codes []string, dryRun bool, ask func(string) bool) error {
	plans, err := ods.PlanDelete(ctx, st, codes)
	if err != nil {
		return fmt.Errorf("nothing closed: %w", err)
	}
	today := store.Day(time.Now())
	steps := make([]mergerStep, len(plans))
	for i, p := range plans {
		steps[i] = mergerStep{code: p.Code, describe: fmt.Sprintf("%s:\n%s\n", p.Code, p.Describe()),
			question: fmt.Sprintf("Close %s from %s (its history is kept)?", p.Code, today.Format(time.DateOnly)),
			apply:    func() error { return p.Close(ctx, st, today) }}
	}
	return runMergers(e, steps, dryRun, ask, "closed")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// loadReference reads what the reference lists say about sites: points, the units
// organisations lead and the OPEN UK networks of trusts and boards.
func loadReference(e env) (ods.Reference, error) {
	l, err := refdata.Load(filepath.Join(e.cfg.DataDir, "reference"))
	if err != nil {
		return ods.Reference{}, err
	}
	ref := ods.Reference{Points: map[string]store.LatLon{}, UnitLedBy: map[string]string{}, OpenUK: map[string][]string{}}
	for _, s := range l.Sites {
		if pt, ok := refdata.SitePoint(s); ok {
			ref.Points[s.Code] = pt
		}
	}
	for _, u := range l.Units {
		if _, dup := ref.UnitLedBy[u.OrgCode]; !dup && u.PZCode != "" {
			ref.UnitLedBy[u.OrgCode] = u.PZCode
		}
	}
	for _, m := range l.OpenUKMembers {
		ref.OpenUK[m.OrgCode] = append(ref.OpenUK[m.OrgCode], m.NetworkCode)
	}
	return ref, nil
}
