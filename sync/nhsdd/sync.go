package nhsdd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"caregraph/store"
	"caregraph/sync/fetch"
	"caregraph/sync/tally"

	"golang.org/x/sync/errgroup"
)

// DefaultBaseURL is where the pages are published.
const DefaultBaseURL = "https://www.datadictionary.nhs.uk"

// Freshness is how long a scraped dataset is left alone unless forced.
const Freshness = 7 * 24 * time.Hour

// Slack is taken off Freshness when deciding whether a dataset is due, so that a weekly
// run is not skipped because last week's run stored the dataset a few minutes after the
// hour.
const Slack = time.Hour

// MinKeepRatio refuses a page with fewer than half the codes the dataset holds: a page
// that lost most of its codes more likely broke than changed.
const MinKeepRatio = 0.5

// Syncer brings the NHS DD datasets in line with their pages.
type Syncer struct {
	Store  *store.Store
	Client *fetch.Client
	// BaseURL replaces the scheme and host of the listed pages (DefaultBaseURL when empty).
	BaseURL string
	// Elements are the data elements to keep; nil reads the table compiled in.
	Elements []Element
	// Progress receives a line per page (discarded when nil).
	Progress io.Writer
	// Actor is recorded in the audit log.
	Actor store.Actor
	// Now is the clock (time.Now).
	Now func() time.Time
	// Workers is how many pages are worked on at once (4); the client bounds the
	// requests in flight on its own as well.
	Workers int
}

// Options choose what a run does.
type Options struct {
	// Dataset restricts the run to one key.
	Dataset string
	// Force fetches datasets scraped within Freshness too.
	Force bool
	// DryRun fetches and compares but writes nothing.
	DryRun bool
	// AllowShrink accepts a page with far fewer codes than the dataset holds.
	AllowShrink bool
}

// Failure is a dataset that could not be synced, and why.
type Failure = tally.Failure

// Report is what a run did.
type Report struct {
	tally.Tally
	// Unlisted are datasets in the database no longer in the table; they are left as
	// they are.
	Unlisted []string
}

// ErrUnknownDataset is returned for a --dataset key the table does not list.
var ErrUnknownDataset = errors.New("not in docs/nhs-data-dictionary-datasets.md")

// Run syncs the datasets. An error means the run could not start (the table, the
// database); failures of single datasets are in the report.
func (s *Syncer) Run(ctx context.Context, o Options) (*Report, error) {
	elements := s.Elements
	if elements == nil {
		var err error
		if elements, err = Elements(); err != nil {
			return nil, err
		}
	}
	if o.Dataset != "" {
		var one []Element
		for _, e := range elements {
			if e.Key == o.Dataset {
				one = append(one, e)
			}
		}
		if len(one) == 0 {
			return nil, fmt.Errorf("dataset %q: %w", o.Dataset, ErrUnknownDataset)
		}
		elements = one
	}
	base := s.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	progress := s.Progress
	if progress == nil {
		progress = io.Discard
	}
	workers := s.Workers
	if workers <= 0 {
		workers = 4
	}
	states, err := s.Store.SyncStates(ctx, store.CategoryNHSDD)
	if err != nil {
		return nil, err
	}
	rep := &Report{Tally: tally.Tally{Of: "NHS DD datasets"}}
	if o.Dataset == "" {
		listed := map[string]bool{}
		for _, e := range elements {
			listed[e.Key] = true
		}
		for k := range states {
			if !listed[k] {
				rep.Unlisted = append(rep.Unlisted, k)
			}
		}
		sort.Strings(rep.Unlisted)
	}

	var mu sync.Mutex
	done := 0
	report := func(key string, outcome store.SyncOutcome, msg string, err error) {
		mu.Lock()
		defer mu.Unlock()
		done++
		switch outcome {
		case store.SyncCreated:
			rep.Created++
		case store.SyncUpdated:
			rep.Updated++
		case store.SyncUnchanged:
			rep.Unchanged++
		case store.SyncSkipped:
			rep.Skipped++
		case store.SyncFailed:
			rep.Failed++
			rep.Failures = append(rep.Failures, Failure{Key: key, Err: err})
			msg = "FAILED: " + err.Error()
		}
		fmt.Fprintf(progress, "nhs-dd [%*d/%d] %s: %s\n", len(fmt.Sprint(len(elements))), done, len(elements), key, msg)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, e := range elements {
		if gctx.Err() != nil {
			break
		}
		st, known := states[e.Key]
		if !o.Force && known && st.LastScrapedAt != nil && now().Sub(*st.LastScrapedAt) < Freshness-Slack {
			report(e.Key, store.SyncSkipped, fmt.Sprintf("skipped (scraped %s ago; --force to fetch anyway)", roundAge(now().Sub(*st.LastScrapedAt))), nil)
			continue
		}
		g.Go(func() error {
			outcome, msg, err := s.syncOne(gctx, e, base, o)
			if err != nil {
				if ctx.Err() != nil {
					// Cancelled (shutdown): not the dataset's fault; stop quietly.
					return ctx.Err()
				}
				outcome = store.SyncFailed
				if !o.DryRun {
					if rerr := s.Store.RecordSyncFailure(context.WithoutCancel(ctx), e.Key, store.CategoryNHSDD, store.ActionScrape, s.Actor, err); rerr != nil {
						err = errors.Join(err, rerr)
					}
				}
			}
			report(e.Key, outcome, msg, err)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	for _, k := range rep.Unlisted {
		fmt.Fprintf(progress, "nhs-dd: %s is no longer in the table; left as it is\n", k)
	}
	return rep, nil
}

// syncOne fetches, parses and stores one dataset.
func (s *Syncer) syncOne(ctx context.Context, e Element, base string, o Options) (store.SyncOutcome, string, error) {
	url, err := Rebase(e.URL, base)
	if err != nil {
		return "", "", err
	}
	body, err := s.Client.Get(ctx, url, nil)
	if err != nil {
		return "", "", err
	}
	page, err := ParsePage(body)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", url, err)
	}
	desc := page.Summary
	if desc == "" {
		desc = "NHS Data Dictionary data element " + e.Name + "."
	}
	ratio := MinKeepRatio
	if o.AllowShrink {
		ratio = 0
	}
	ref := e.URL
	res, err := s.Store.SyncDataset(ctx, store.SyncInput{
		Key: e.Key, Name: e.Name, Description: desc, Category: store.CategoryNHSDD, SourceType: store.SourceScrape,
		ReferenceURL: &ref, Tags: e.Tags, SyncFrequencyHours: int(Freshness / time.Hour), PublishedOn: page.PublishedOn,
		Options: page.Options, Action: store.ActionScrape, Actor: s.Actor, MinKeepRatio: ratio, DryRun: o.DryRun,
	})
	if err != nil {
		if errors.Is(err, store.ErrOptionsShrank) {
			err = fmt.Errorf("%w; the dataset keeps its options (check the page, then --allow-shrink to accept)", err)
		}
		return "", "", err
	}
	var msg string
	switch res.Outcome {
	case store.SyncCreated:
		msg = fmt.Sprintf("created with %d options", res.After)
	case store.SyncUpdated:
		msg = fmt.Sprintf("updated to version %d (%d → %d options; %d added, %d removed, %d changed)", res.Version, res.Before, res.After, res.Diff.Added, res.Diff.Removed, res.Diff.Changed)
	default:
		msg = fmt.Sprintf("unchanged (%d options, version %d)", res.After, res.Version)
	}
	if o.DryRun {
		msg = "would be " + msg
	}
	return res.Outcome, msg, nil
}

func roundAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		return d.Round(time.Minute).String()
	}
}
