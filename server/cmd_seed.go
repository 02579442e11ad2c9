package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"caregraph/refdata"
	"caregraph/store"
)

func cmdSeed(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "seed", "seed [--report] [--dir DIR] [--effective YYYY-MM-DD]\n\n"+
		"Loads the organisation reference lists (DIR/reference/*.json) into the register:\n"+
		"regions, ICBs, health boards, trusts, sites, diabetes units and networks, OPEN UK\n"+
		"networks. New facts hold since before our records begin; changes to facts already\n"+
		"recorded take effect on --effective, keeping the old ones as history. Running it\n"+
		"again changes nothing. Problems in the rows are reported, not fatal.")
	report := fs.Bool("report", false, "list every site whose geographic placement differs from the lookup tables, with both values")
	dir := fs.String("dir", e.cfg.DataDir, "data folder holding reference/*.json (CAREGRAPH_DATA_DIR), or the reference folder itself")
	effective := fs.String("effective", "", "the date changes take effect, YYYY-MM-DD (default today)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	var from time.Time
	if *effective != "" {
		t, err := time.Parse(time.DateOnly, *effective)
		if err != nil {
			return fmt.Errorf("%w: --effective must be a date like 2025-04-01, got %q", errUsage, *effective)
		}
		from = t
	}
	lists, err := refdata.Load(referenceDir(*dir))
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	r, err := refdata.Seed(ctx, store.New(db.Pool), lists, refdata.Options{Effective: from, Progress: e.stderr})
	if err != nil {
		return err
	}
	printSeedReport(e.stdout, r, *report)
	return nil
}

// referenceDir accepts the data folder (holding reference/) or the reference folder.
func referenceDir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, refdata.FileSites)); err == nil {
		return dir
	}
	return filepath.Join(dir, "reference")
}

// seedIfEmpty seeds the register on a first start, when it holds no organisation yet.
// Serving without organisations is still useful, so a failure is logged, not fatal.
func seedIfEmpty(ctx context.Context, e env, st *store.Store) {
	empty, err := st.RegisterEmpty(ctx)
	if err != nil || !empty {
		if err != nil {
			e.logger.Error("check the organisation register", "error", err)
		}
		return
	}
	dir := referenceDir(e.cfg.DataDir)
	e.logger.Info("seeding the organisation register on first start", "dir", dir)
	lists, err := refdata.Load(dir)
	if err != nil {
		e.logger.Error("organisation seed skipped; serving without organisations (run `server seed` once the lists are in place)", "error", err)
		return
	}
	r, err := refdata.Seed(ctx, st, lists, refdata.Options{Progress: e.stderr})
	if err != nil {
		e.logger.Error("organisation seed failed; serving without organisations (run `server seed`)", "error", err)
		return
	}
	e.logger.Info("seeded the organisation register", "created", r.Created, "problems", len(r.Problems),
		"placement_disagreements", len(r.Disagreements))
}

// kindLabels name the register's counts in the summary, in order.
var kindLabels = []struct{ key, label string }{
	{"nhs_england_region", "NHS England regions"},
	{"integrated_care_board", "integrated care boards"},
	{"local_health_board", "local health boards"},
	{"nhs_trust", "NHS trusts"},
	{"site", "sites"},
	{"other", "other organisations"},
	{"paediatric_diabetes_unit", "paediatric diabetes units"},
	{"paediatric_diabetes_network", "paediatric diabetes networks"},
	{"open_uk_network", "OPEN UK networks"},
	{"succession", "successions"},
}

func printSeedReport(w io.Writer, r *refdata.Report, full bool) {
	if r.Unchanged() {
		fmt.Fprintln(w, "Nothing changed: the register already matches the lists.")
	} else {
		fmt.Fprintf(w, "Seeded: %d rows created, %d facts recorded or changed, %d placements computed.\n", r.Created, r.Changed, r.Replaced)
	}
	var counts []string
	for _, k := range kindLabels {
		counts = append(counts, fmt.Sprintf("%d %s", r.Counts[k.key], k.label))
	}
	fmt.Fprintf(w, "Register: %s.\n", strings.Join(counts, ", "))
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "\nProblems in the lists (%d):\n", len(r.Problems))
		ps := append([]refdata.Problem(nil), r.Problems...)
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].File < ps[j].File })
		for _, p := range ps {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	sites := map[string]bool{}
	for _, d := range r.Disagreements {
		sites[d.Code] = true
	}
	switch {
	case len(r.Disagreements) == 0:
		fmt.Fprintln(w, "\nEvery placed site's areas agree with the lookup tables.")
	case !full:
		fmt.Fprintf(w, "\n%d sites are placed differently from the lookup tables (%d differences); run with --report to list them.\n",
			len(sites), len(r.Disagreements))
	default:
		fmt.Fprintf(w, "\nSites placed differently from the lookup tables (%d sites, %d differences):\n", len(sites), len(r.Disagreements))
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SITE\tNAME\tFIELD\tGEOGRAPHIC (POINT)\tLOOKUP TABLE")
		for _, d := range r.Disagreements {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", d.Code, d.Name, d.Field, d.Geographic, d.Lookup)
		}
		tw.Flush()
	}
}
