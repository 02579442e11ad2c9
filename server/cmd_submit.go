package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"caregraph/audit"
	"caregraph/auth"
	"caregraph/store"
	"caregraph/submissions"

	"github.com/jackc/pgx/v5/pgxpool"
)

const submitUsage = `submit --pdu PZCODE --year YEAR [--errors FILE] FILE

Submits a unit's NPDA CSV for an audit year (2024 is April 2024 to March 2025), as the
operator: the file is read and checked cell by cell, stored, and made the unit's
active submission for the year, replacing the previous one in one transaction. The
operator may submit for closed periods, like the RCPCH audit team. Progress goes to
standard error, a summary to standard output. A file refused as a whole (wrong
columns, another unit's PDU number, ...) exits with status 1 and nothing stored.`

func cmdSubmit(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "submit", submitUsage)
	pdu := fs.String("pdu", "", "the unit's PZ code, e.g. PZ041 (required)")
	year := fs.Int("year", 0, "the audit year: the year the period starts, e.g. 2024 (required)")
	errorsFile := fs.String("errors", "", "also write the file annotated with its errors to this path")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pdu == "" || *year == 0 || fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: submit needs --pdu, --year and one FILE", errUsage)
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	agg := newAggregator(store.New(db.Pool), e.logger)
	// The unit's KPIs are recomputed after activation, as when the server takes an
	// upload; the command waits for that before it closes the pool.
	defer agg.Wait()
	svc := submissions.New(store.New(db.Pool), submissions.Options{Logger: e.logger, OnActivated: agg.AfterActivation})
	res, err := svc.Submit(ctx, auth.Operator(), submissions.Request{
		PZCode: *pdu, AuditYear: *year, FileName: filepath.Base(path), File: data, Via: store.ViaCommandLine,
		Progress: progressPrinter(e.stderr),
	})
	if err != nil {
		return err
	}
	if r := res.Rejection; r != nil {
		printRejection(e.stderr, r)
		return fmt.Errorf("the file was refused (%s); nothing was stored", r.Reason)
	}
	printSubmission(ctx, e.stdout, store.New(db.Pool), res)
	if *errorsFile != "" {
		f, err := svc.Annotated(ctx, auth.Operator(), res.Submission.ID)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*errorsFile, f.Data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", *errorsFile, err)
		}
		fmt.Fprintf(e.stdout, "annotated file written to %s\n", *errorsFile)
	}
	return nil
}

// progressPrinter reports an upload's stages on w.
func progressPrinter(w io.Writer) func(string, int) {
	start := time.Now()
	return func(stage string, n int) {
		switch stage {
		case "reading":
			fmt.Fprintln(w, "reading and checking the file…")
		case "read":
			fmt.Fprintf(w, "  %d rows read and grouped (%s)\n", n, time.Since(start).Round(time.Millisecond))
		case "storing":
			fmt.Fprintf(w, "  %d rows stored\n", n)
		case "activating":
			fmt.Fprintf(w, "  stored; activating (%s)\n", time.Since(start).Round(time.Millisecond))
		case "done":
			fmt.Fprintf(w, "done in %s\n", time.Since(start).Round(time.Millisecond))
		}
	}
}

func printRejection(w io.Writer, r *audit.Rejection) {
	fmt.Fprintf(w, "refused: %s\n", r.Message)
	fmt.Fprintf(w, "  expected: %s\n", strings.Join(r.Expected, "; "))
	fmt.Fprintf(w, "  found:    %s\n", strings.Join(r.Found, "; "))
	if len(r.Rows) > 0 {
		fmt.Fprintf(w, "  rows:     %v\n", r.Rows)
	}
}

// printSubmission writes the summary: counts and the errors by column and kind (never
// the cells themselves).
func printSubmission(ctx context.Context, w io.Writer, st *store.Store, res submissions.Result) {
	s := res.Submission
	fmt.Fprintf(w, "submission %d for %s, audit year %s, dataset %d: %s\n", s.ID, s.PZCode, audit.PeriodOf(s.AuditYear).Label(), s.DatasetVersion, s.State)
	fmt.Fprintf(w, "  %d rows, %d patients, %d errors on %d rows (%s, %s)\n", s.Rows, s.Patients, s.Errors, s.InvalidRows, s.Encoding, res.Took.Round(time.Millisecond))
	if res.Superseded != nil {
		fmt.Fprintf(w, "  replaces submission %d (its file and history are kept)\n", *res.Superseded)
	}
	sums, err := st.ErrorSummaries(ctx, []int64{s.ID})
	if err != nil || len(sums[s.ID]) == 0 {
		return
	}
	counts := sums[s.ID]
	sort.SliceStable(counts, func(i, j int) bool { return counts[i].Count > counts[j].Count })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  errors\trows\tcolumn\tkind")
	for i, c := range counts {
		if i == 15 {
			fmt.Fprintf(tw, "  …\t\t%d more kinds\t\n", len(counts)-15)
			break
		}
		fmt.Fprintf(tw, "  %d\t%d\t%s\t%s\n", c.Count, c.Rows, submissions.HeadingOf(s.DatasetVersion, c.Field), c.Code)
	}
	tw.Flush()
}

// cleanUpInterruptedUploads fails the submissions a dead process left half-made (state
// processing or inactive, from before this process started, with no live upload
// holding them) and removes what they loaded. A failure is logged: serving matters more.
func cleanUpInterruptedUploads(ctx context.Context, e env, pool *pgxpool.Pool, started time.Time) {
	ids, err := submissions.New(store.New(pool), submissions.Options{}).CleanUp(ctx, started)
	if err != nil && !errors.Is(err, context.Canceled) {
		e.logger.Error("clean up interrupted uploads", "error", err)
	}
	for _, id := range ids {
		e.logger.Warn("an upload was interrupted by a stop of the server; marked failed, the previous data is intact", "submission_id", id)
	}
}
