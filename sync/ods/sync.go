package ods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"caregraph/store"
)

// DefaultWindow is how far back a first run looks when no --since is given.
const DefaultWindow = 30 * 24 * time.Hour

// Syncer brings the register in line with ODS.
type Syncer struct {
	Store  *store.Store
	Source Source
	// Progress receives a line per organisation changed, added, queued or failed.
	Progress io.Writer
	// Now is the clock (time.Now).
	Now func() time.Time
	// Workers apply changes at once, each organisation in its own transaction (4).
	Workers int
	// progressMu keeps the workers' lines whole.
	progressMu sync.Mutex
}

// Options choose what a run does.
type Options struct {
	// Since starts the window (zero: where the last complete run ended, else
	// DefaultWindow ago).
	Since  time.Time
	DryRun bool
}

// FieldChange is one field's old and new value.
type FieldChange struct{ Field, Old, New string }

// Outcome is what happened to one organisation.
type Outcome string

// The outcomes.
const (
	OutcomeChanged   Outcome = "changed"
	OutcomeAdded     Outcome = "added"
	OutcomeQueued    Outcome = "queued for review"
	OutcomeUnchanged Outcome = "unchanged"
	OutcomeFailed    Outcome = "failed"
)

// Entry is the report of one organisation.
type Entry struct {
	Code, Name  string
	ChangedOn   time.Time
	Outcome     Outcome
	Fields      []FieldChange
	Parent      *FieldChange
	Successions []string
	Reviews     []string
	Err         error
	// note records the change date of a held record found unchanged.
	note    bool
	change  *store.ODSChange
	reviews []store.ODSReviewItem
}

// Report is what a run did (or, dry, would do).
type Report struct {
	Source      string
	From, To    time.Time
	DryRun      bool
	Requests    int
	Examined    int
	Changed     int
	Added       int
	Queued      int
	Unchanged   int
	Failed      int
	NotTracked  int
	Entries     []*Entry
	WindowNotes []string
	mu          sync.Mutex
}

// Counts returns the report's numbers by name, for the job record.
func (r *Report) Counts() map[string]int {
	return map[string]int{"examined": r.Examined, "changed": r.Changed, "added": r.Added, "queued": r.Queued,
		"unchanged": r.Unchanged, "failed": r.Failed, "requests": r.Requests}
}

// Err is non-nil when any record failed.
func (r *Report) Err() error {
	if r.Failed > 0 {
		return fmt.Errorf("%d of the ODS records failed", r.Failed)
	}
	return nil
}

// Summary is the one-line summary. An organisation with some changes applied and
// others queued counts as changed and as queued.
func (r *Report) Summary() string {
	return fmt.Sprintf("%d examined, %d changed, %d added, %d queued for review, %d unchanged, %d failed (source %s, window %s .. %s, %d requests)",
		r.Examined, r.Changed, r.Added, r.Queued, r.Unchanged, r.Failed, r.Source,
		r.From.Format(time.DateOnly), r.To.Format(time.DateOnly), r.Requests)
}

// kindOf maps a record's primary role to the register's kind ("" when untracked).
func kindOf(r Record) store.OrgKind {
	switch r.PrimaryRole() {
	case RoleTrustSite, RoleLHBSite:
		return store.KindSite
	case RoleTrust:
		return store.KindTrust
	case RoleLHB:
		return store.KindLHB
	case RoleICB:
		return store.KindICB
	}
	return ""
}

// Run syncs one window.
func (s *Syncer) Run(ctx context.Context, opts Options) (*Report, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	today := store.Day(now())
	rep := &Report{Source: s.Source.Name(), To: today, DryRun: opts.DryRun}
	since := opts.Since
	if since.IsZero() {
		to, ok, err := s.Store.ODSSyncedTo(ctx, s.Source.Name())
		if err != nil {
			return nil, err
		}
		since = today.Add(-DefaultWindow)
		if ok {
			since = to
		}
	}
	since = store.Day(since)
	if lb := s.Source.MaxLookback(); lb > 0 && since.Before(today.Add(-lb)) {
		rep.WindowNotes = append(rep.WindowNotes, fmt.Sprintf("the %s source lists changes of the last %d days only: the window starts %s, not %s",
			s.Source.Name(), int(lb.Hours()/24), today.Add(-lb).Format(time.DateOnly), since.Format(time.DateOnly)))
		since = today.Add(-lb)
	}
	if since.After(today) {
		return nil, fmt.Errorf("--since %s is in the future", since.Format(time.DateOnly))
	}
	rep.From = since
	held, err := s.Store.ODSHeld(ctx)
	if err != nil {
		return nil, err
	}
	succs, err := s.Store.ODSSuccessions(ctx)
	if err != nil {
		return nil, err
	}
	s.progress("ods: listing changes from %s (%s source)", since.Format(time.DateOnly), s.Source.Name())
	p := &planner{held: held, succs: succs, today: today, added: map[string]bool{}, planned: map[string]bool{}}
	// Each batch is planned as it arrives and written by the workers while the source
	// fetches the next; successions wait for the end (they move sites between parents).
	workers := s.Workers
	if workers <= 0 {
		workers = 4
	}
	work := make(chan *Entry, 256)
	var wg sync.WaitGroup
	if !opts.DryRun {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for e := range work {
					s.applyOne(ctx, e)
				}
			}()
		}
	}
	var last []*Entry
	emit := func(ch Changes) error {
		for _, e := range p.plan(rep, ch) {
			if e.Outcome == OutcomeFailed {
				s.progress("ods %s: FAILED: %v", e.Code, e.Err)
			}
			if opts.DryRun {
				continue
			}
			switch {
			case e.Outcome == OutcomeFailed:
				// Nothing of it is written, not even its change date: the next run tries again.
			case e.change == nil && len(e.reviews) == 0 && !e.note:
			case e.change != nil && e.change.New != nil && e.change.New.Kind != store.KindSite:
				// A new trust or board first: a site of this batch may hang from it.
				s.applyOne(ctx, e)
			case e.change != nil && len(e.change.Successions) > 0:
				last = append(last, e)
			default:
				select {
				case work <- e:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}
	err = s.Source.Changes(ctx, since, wantFor(held), emit)
	close(work)
	wg.Wait()
	for _, e := range last {
		s.applyOne(ctx, e)
	}
	rep.Requests = s.Source.Requests()
	rep.tally()
	if err != nil {
		return rep, err
	}
	if !opts.DryRun && rep.Failed == 0 {
		if err := s.Store.SetODSSyncedTo(ctx, s.Source.Name(), today); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *Syncer) progress(format string, args ...any) {
	if s.Progress != nil {
		s.progressMu.Lock()
		fmt.Fprintf(s.Progress, format+"\n", args...)
		s.progressMu.Unlock()
	}
}

// wantFor admits, from a list of bare codes, those the register holds and those that
// could be a new site of a trust or board it holds (five characters beginning with the
// three of the parent), so that the ORD source need not fetch every GP and pharmacy.
func wantFor(held map[string]store.HeldOrg) func(string) bool {
	return func(code string) bool {
		if _, ok := held[code]; ok {
			return true
		}
		if len(code) == 5 {
			if h, ok := held[code[:3]]; ok && (h.Kind == store.KindTrust || h.Kind == store.KindLHB) {
				return true
			}
		}
		return false
	}
}

func (s *Syncer) applyOne(ctx context.Context, e *Entry) {
	if e.change != nil {
		if err := s.Store.ApplyODSChange(ctx, *e.change); err != nil {
			e.Outcome, e.Err = OutcomeFailed, err
			s.progress("ods %s: FAILED: %v", e.Code, err)
			return
		}
	} else if e.note {
		if err := s.Store.NoteODSChange(ctx, e.Code, e.ChangedOn); err != nil {
			e.Outcome, e.Err = OutcomeFailed, err
			return
		}
	}
	for _, it := range e.reviews {
		if _, err := s.Store.QueueODSReview(ctx, it); err != nil {
			e.Outcome, e.Err = OutcomeFailed, err
			s.progress("ods %s: FAILED: %v", e.Code, err)
			return
		}
	}
	switch {
	case e.Outcome == OutcomeChanged && len(e.reviews) > 0:
		s.progress("ods %s: changed; %d change(s) queued for review", e.Code, len(e.reviews))
	case e.Outcome != OutcomeUnchanged:
		s.progress("ods %s: %s", e.Code, e.Outcome)
	}
}

func (r *Report) tally() {
	r.Changed, r.Added, r.Queued, r.Unchanged, r.Failed = 0, 0, 0, 0, 0
	for _, e := range r.Entries {
		switch e.Outcome {
		case OutcomeChanged:
			r.Changed++
			if len(e.Reviews) > 0 {
				// Changed and, for what could not be applied, queued too.
				r.Queued++
			}
		case OutcomeAdded:
			r.Added++
		case OutcomeQueued:
			r.Queued++
		case OutcomeUnchanged:
			r.Unchanged++
		case OutcomeFailed:
			r.Failed++
		}
	}
	sort.Slice(r.Entries, func(i, j int) bool { return r.Entries[i].Code < r.Entries[j].Code })
}

type planner struct {
	held  map[string]store.HeldOrg
	succs map[string]bool
	today time.Time
	// added are codes this run creates, so that a new site may hang from a new trust.
	added map[string]bool
	// planned are the successions this run records ("PRED>SUCC").
	planned map[string]bool
}

// plan decides, for every record of a batch, what would change; it appends the
// entries to the report and returns them.
func (p *planner) plan(rep *Report, ch Changes) []*Entry {
	var out []*Entry
	recs := append([]Record(nil), ch.Records...)
	// Trusts and boards before sites, so that a new trust is known to its new sites.
	sort.SliceStable(recs, func(i, j int) bool {
		return (kindOf(recs[i]) != store.KindSite) && (kindOf(recs[j]) == store.KindSite)
	})
	for _, f := range ch.Failures {
		rep.Examined++
		out = append(out, &Entry{Code: f.Code, Outcome: OutcomeFailed, Err: f.Err})
	}
	for _, r := range recs {
		if _, ok := p.held[r.Code]; !ok && kindOf(r) == "" {
			rep.NotTracked++
			continue
		}
		rep.Examined++
		out = append(out, p.planOne(r, p.planned))
	}
	for _, d := range ch.Deletions {
		h, ok := p.held[d.Code]
		if !ok || !h.Open {
			continue
		}
		rep.Examined++
		at := d.At
		if at.IsZero() {
			at = p.today
		}
		detail := fmt.Sprintf("ODS withdrew %s from publication on %s", d.Code, at.Format(time.DateOnly))
		if d.Reason != "" {
			detail += " (" + strings.ToLower(d.Reason) + ")"
		}
		out = append(out, &Entry{Code: d.Code, Name: h.Attrs.Name, ChangedOn: at, Outcome: OutcomeQueued, Reviews: []string{detail},
			reviews: []store.ODSReviewItem{{ODSCode: d.Code, Kind: store.ReviewDeletion, EffectiveOn: &at, ODSChangeDate: &at, Detail: detail}}})
	}
	rep.mu.Lock()
	rep.Entries = append(rep.Entries, out...)
	rep.mu.Unlock()
	return out
}

func (p *planner) known(code string) bool {
	if p.added[code] {
		return true
	}
	h, ok := p.held[code]
	return ok && h.Open
}

func (p *planner) planOne(r Record, planned map[string]bool) *Entry {
	e := &Entry{Code: r.Code, Name: r.Name, ChangedOn: r.LastChange, Outcome: OutcomeUnchanged}
	on := r.LastChange
	if on.IsZero() {
		on = p.today
		e.ChangedOn = on
	}
	h, held := p.held[r.Code]
	if !held {
		return p.planNew(r, e, on)
	}
	if h.ODSChangedOn != nil && !r.LastChange.IsZero() && !r.LastChange.After(*h.ODSChangedOn) {
		// Already applied: ODS lists it again without a newer change.
		e.ChangedOn = time.Time{}
		return e
	}
	if !h.Open {
		return e
	}
	e.note = !r.LastChange.IsZero()
	c := store.ODSChange{Code: r.Code, ChangedOn: on}
	next, fields := mergeAttrs(h.Attrs, r)
	if len(fields) > 0 {
		e.Fields = fields
		c.Attrs = &next
	}
	if h.Kind == store.KindSite {
		if parent, ok := r.ActiveParent(); ok && parent != h.Parent {
			if !p.known(parent) {
				e.Outcome, e.Err = OutcomeFailed, fmt.Errorf("%s moves to %s, which is not in the register; nothing applied", r.Code, parent)
				return e
			}
			e.Parent = &FieldChange{Field: "parent", Old: h.Parent, New: parent}
			c.Parent = &parent
		}
	}
	closing := false
	var successors []Succ
	for _, s := range r.Succs {
		if strings.EqualFold(s.Type, "Successor") && s.Target != "" {
			successors = append(successors, s)
		}
	}
	for _, s := range successors {
		key := r.Code + ">" + s.Target
		if p.succs[key] || planned[key] {
			continue
		}
		planned[key] = true
		date := s.On
		if date.IsZero() {
			date = on
		}
		switch {
		case date.After(p.today):
			e.review(store.ReviewSuccession, r, s.Target, date, fmt.Sprintf("%s passes to %s on %s, after this run's window", r.Code, s.Target, date.Format(time.DateOnly)))
		case !p.known(s.Target):
			e.review(store.ReviewSuccession, r, s.Target, date, fmt.Sprintf("%s passed to %s on %s, which is not in the register", r.Code, s.Target, date.Format(time.DateOnly)))
		case len(successors) > 1:
			e.review(store.ReviewSuccession, r, s.Target, date, fmt.Sprintf("%s split between %d successors; %s is one (from %s)", r.Code, len(successors), s.Target, date.Format(time.DateOnly)))
		default:
			c.Successions = append(c.Successions, store.NewSuccession{PredecessorCode: r.Code, SuccessorCode: s.Target,
				Kind: store.SuccessionMerger, EffectiveOn: date, Note: "from NHS ODS"})
			e.Successions = append(e.Successions, fmt.Sprintf("%s → %s from %s (merger)", r.Code, s.Target, date.Format(time.DateOnly)))
			closing = true
		}
	}
	if !r.Active && !closing && len(e.reviews) == 0 {
		end := r.EndDate()
		if end.IsZero() {
			end = on
		}
		e.review(store.ReviewClosure, r, "", end, fmt.Sprintf("ODS marks %s inactive (closed %s)", r.Code, end.Format(time.DateOnly)))
	}
	if c.Attrs != nil || c.Parent != nil || len(c.Successions) > 0 {
		e.change = &c
		e.Outcome = OutcomeChanged
	} else if len(e.reviews) > 0 {
		e.Outcome = OutcomeQueued
	}
	return e
}

func (e *Entry) review(kind store.ReviewKind, r Record, successor string, on time.Time, detail string) {
	d, lcd := on, r.LastChange
	it := store.ODSReviewItem{ODSCode: r.Code, Kind: kind, SuccessorCode: successor, EffectiveOn: &d, Detail: detail}
	if !lcd.IsZero() {
		it.ODSChangeDate = &lcd
	}
	e.reviews = append(e.reviews, it)
	e.Reviews = append(e.Reviews, detail)
}

// planNew adds a site or trust that ODS has and the register does not, when it is
// active and (for a site) its parent is known.
func (p *planner) planNew(r Record, e *Entry, on time.Time) *Entry {
	kind := kindOf(r)
	if !r.Active {
		e.Outcome = OutcomeUnchanged
		return e
	}
	from := r.StartDate()
	if from.IsZero() {
		from = on
	}
	attrs, _ := mergeAttrs(store.OrgAttrs{}, r)
	c := store.ODSChange{Code: r.Code, ChangedOn: on,
		New: &store.NewOrganisation{ODSCode: r.Code, Kind: kind, Attrs: attrs, From: from}}
	switch kind {
	case store.KindSite:
		parent, ok := r.ActiveParent()
		if !ok || !p.known(parent) {
			// A site of a trust we do not hold is none of ours.
			e.Outcome = OutcomeUnchanged
			return e
		}
		c.Parent = &parent
		e.Parent = &FieldChange{Field: "parent", New: parent}
	case store.KindTrust, store.KindLHB:
	default:
		// ICBs and regions come with their boundaries, not from ODS.
		return e
	}
	p.added[r.Code] = true
	e.change = &c
	e.Outcome = OutcomeAdded
	e.Fields = []FieldChange{{Field: "name", New: attrs.Name}}
	return e
}

// same compares values as ODS and our lists write them: case and runs of spaces do not
// make a change (ODS publishes names in capitals, the reference lists in mixed case).
func same(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

// mergeAttrs lays the record's fields over cur, field by field, and lists the real
// changes. Blocks the record lacks change nothing.
func mergeAttrs(cur store.OrgAttrs, r Record) (store.OrgAttrs, []FieldChange) {
	next := cur
	var changes []FieldChange
	set := func(field string, dst *string, v string) {
		v = strings.TrimSpace(v)
		if same(*dst, v) {
			return
		}
		changes = append(changes, FieldChange{Field: field, Old: *dst, New: v})
		*dst = v
	}
	set("name", &next.Name, r.Name)
	if r.HasAddress {
		set("address line 1", &next.AddressLine1, r.Address.Line1)
		set("address line 2", &next.AddressLine2, r.Address.Line2)
		set("address line 3", &next.AddressLine3, r.Address.Line3)
		set("town", &next.Town, r.Address.Town)
		set("county", &next.County, r.Address.County)
		set("postcode", &next.Postcode, r.Address.Postcode)
	}
	if r.HasContacts {
		set("phone", &next.Phone, r.Phone)
		set("website", &next.Website, r.Website)
		if r.Email != "" {
			set("email", &next.Email, r.Email)
		}
	}
	return next, changes
}

// WriteMarkdown writes the report as markdown: per organisation the ODS change date,
// the fields old → new, relationship and succession changes and what awaits review.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := "NHS ODS sync"
	if r.DryRun {
		title += " (dry run: nothing was written)"
	}
	fmt.Fprintf(&b, "# %s\n\nSource: %s. Window: %s to %s. Requests: %d.\n\n", title, r.Source, r.From.Format(time.DateOnly), r.To.Format(time.DateOnly), r.Requests)
	for _, n := range r.WindowNotes {
		fmt.Fprintf(&b, "> Note: %s.\n\n", n)
	}
	fmt.Fprintf(&b, "| examined | changed | added | queued for review | unchanged | failed |\n|---|---|---|---|---|---|\n| %d | %d | %d | %d | %d | %d |\n\n",
		r.Examined, r.Changed, r.Added, r.Queued, r.Unchanged, r.Failed)
	for _, e := range r.Entries {
		if e.Outcome == OutcomeUnchanged {
			continue
		}
		fmt.Fprintf(&b, "## %s %s — %s\n\n", e.Code, mdEscape(e.Name), e.Outcome)
		if !e.ChangedOn.IsZero() {
			fmt.Fprintf(&b, "ODS change date: %s\n\n", e.ChangedOn.Format(time.DateOnly))
		}
		if len(e.Fields) > 0 {
			b.WriteString("| field | old | new |\n|---|---|---|\n")
			for _, f := range e.Fields {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", f.Field, mdEscape(f.Old), mdEscape(f.New))
			}
			b.WriteString("\n")
		}
		if e.Parent != nil {
			old := e.Parent.Old
			if old == "" {
				old = "(none)"
			}
			fmt.Fprintf(&b, "- Parent: %s → %s\n", old, e.Parent.New)
		}
		for _, s := range e.Successions {
			fmt.Fprintf(&b, "- Succession: %s\n", s)
		}
		for _, s := range e.Reviews {
			fmt.Fprintf(&b, "- For review (not applied): %s\n", mdEscape(s))
		}
		if e.Err != nil {
			fmt.Fprintf(&b, "- Error: %s\n", mdEscape(e.Err.Error()))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// IsNotFound reports whether err is a code ODS does not know.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
