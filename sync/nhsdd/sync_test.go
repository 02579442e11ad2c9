package nhsdd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/sync/fetch"
)

// site is a fake NHS Data Dictionary: it serves testdata pages by file name, generated
// pages for the rest, and whatever faults a test sets per page.
type site struct {
	*httptest.Server
	mu       sync.Mutex
	pages    map[string]string // slug → testdata file (without .html)
	faults   map[string][]int  // slug → statuses to answer before the page
	delay    time.Duration
	revision int // changes the generated pages' labels
	requests map[string]int

	inFlight, maxInFlight atomic.Int32
}

func newSite(t testing.TB) *site {
	s := &site{pages: map[string]string{}, faults: map[string][]int{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	slug := strings.TrimSuffix(path.Base(r.URL.Path), ".html")
	s.mu.Lock()
	s.requests[slug]++
	var fault int
	if f := s.faults[slug]; len(f) > 0 {
		fault, s.faults[slug] = f[0], f[1:]
	}
	file, ok := s.pages[slug]
	delay, rev := s.delay, s.revision
	s.mu.Unlock()
	time.Sleep(delay)
	switch {
	case fault == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(fault)
		return
	case fault != 0:
		w.WriteHeader(fault)
		return
	case !strings.HasPrefix(r.URL.Path, "/data_elements/"):
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if ok {
		b, err := os.ReadFile(filepath.Join("testdata", file+".html"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
		return
	}
	_, _ = w.Write(generatedPage(slug, rev))
}

func (s *site) set(slug, file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[slug] = file
}

func (s *site) fail(slug string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[slug] = statuses
}

// generatedPage is a page in the live site's layout with a deterministic number of
// codes (3 to 40) for data elements without a hand-written test page.
func generatedPage(slug string, revision int) []byte {
	h := fnv.New32a()
	h.Write([]byte(slug))
	n := 3 + int(h.Sum32()%38)
	title := strings.ToUpper(strings.ReplaceAll(strings.Trim(slug, "_"), "_", " "))
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title></head><body>
<main class="nhsuk-main-wrapper" id="maincontent"><article>
<h1 class="title topictitle1">%s</h1>
<div class="body conbody"><p class="shortdesc">The %s recorded for a <a class="xref" href="../classes/person.html">PERSON</a>.</p>
<div class="section"><h2 class="title sectiontitle">Format / Length</h2><p>an2</p></div>
<div class="section"><h2 class="title sectiontitle">National Codes</h2>
<div class="table-container"><table class="table"><thead class="thead"><tr class="row"><th class="entry">Code</th><th class="entry">Description</th></tr></thead><tbody class="tbody">
`, title, title, strings.ToLower(title))
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `<tr class="row"><td class="entry">%02d</td><td class="entry">%s value %d (revision %d)</td></tr>`+"\n", i, title, i, revision)
	}
	b.WriteString(`</tbody></table></div></div>
<div class="section"><h2 class="title sectiontitle">Default Codes</h2><div class="table-container"><table class="table"><thead class="thead"><tr class="row"><th class="entry">Code</th><th class="entry">Description</th></tr></thead><tbody class="tbody"><tr class="row"><td class="entry">99</td><td class="entry">Not Known</td></tr></tbody></table></div></div>
<div class="section"><h2 class="title sectiontitle">Where Used</h2><table class="table"><thead><tr><th>Type</th><th>Link</th><th>How used</th></tr></thead><tbody><tr><td>Data Set</td><td>Community Services Data Set</td><td>references in description</td></tr></tbody></table></div>
</div></article></main></body></html>`)
	return b.Bytes()
}

func slugOf(e Element) string { return strings.TrimSuffix(path.Base(e.URL), ".html") }

// handWritten are the elements with a test page of their own, by key.
var handWritten = map[string]string{
	"ethnic_category":                          "ethnic_category",
	"gender_identity_code":                     "gender_identity_code",
	"smoking_status_code":                      "smoking_status_code",
	"admission_source_hospital_provider_spell": "admission_source__hospital_provider_spell_",
	"treatment_function_code_mental_health":    "treatment_function_code__mental_health_",
	"consultation_medium_used":                 "consultation_medium_used",
}

func testElements(t testing.TB) ([]Element, map[string]Element) {
	t.Helper()
	all, err := Elements()
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Element{}
	var some []Element
	for _, e := range all {
		byKey[e.Key] = e
		if _, ok := handWritten[e.Key]; ok {
			some = append(some, e)
		}
	}
	if len(some) != len(handWritten) {
		t.Fatalf("the table lacks some test elements: %v", some)
	}
	return some, byKey
}

func newSyncer(st *store.Store, s *site, elements []Element, progress *bytes.Buffer, now func() time.Time) *Syncer {
	sy := &Syncer{
		Store:    st,
		Client:   fetch.New(fetch.Options{Timeout: 5 * time.Second, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
		BaseURL:  s.URL,
		Elements: elements,
		Actor:    store.Actor{Name: "test"},
		Now:      now,
	}
	if progress != nil {
		sy.Progress = progress
	}
	return sy
}

func TestSyncEndToEnd(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	s := newSite(t)
	elements, _ := testElements(t)
	for _, e := range elements {
		s.set(slugOf(e), handWritten[e.Key])
	}
	clock := time.Now()
	now := func() time.Time { return clock }
	var progress bytes.Buffer
	sy := newSyncer(st, s, elements, &progress, now)

	// A 503 and a 429 with Retry-After on the way in are retried and succeed.
	s.fail("ethnic_category", http.StatusServiceUnavailable)
	s.fail("smoking_status_code", http.StatusTooManyRequests)
	rep, err := sy.Run(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 6 || rep.Failed != 0 || rep.Err() != nil {
		t.Fatalf("first run: %+v\n%s", rep, progress.String())
	}
	d, err := st.DatasetByKey(ctx, "gender_identity_code")
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || d.OptionCount != 6 || d.NHSDDPublishedOn == nil || d.Category != store.CategoryNHSDD || strings.Join(d.Tags, ",") != "demographic" {
		t.Errorf("gender identity: %+v", d)
	}
	if !strings.Contains(progress.String(), "gender_identity_code: created with 6 options") {
		t.Errorf("progress:\n%s", progress.String())
	}

	// Within 7 days everything is skipped; with --force it is fetched and unchanged.
	rep, _ = sy.Run(ctx, Options{})
	if rep.Skipped != 6 {
		t.Errorf("second run: %+v", rep)
	}
	rep, _ = sy.Run(ctx, Options{Force: true})
	if rep.Unchanged != 6 {
		t.Errorf("forced run: %+v", rep)
	}
	if d, _ := st.DatasetByKey(ctx, "ethnic_category"); d.Version != 1 {
		t.Errorf("an unchanged page raised the version to %d", d.Version)
	}

	// A week later: one page lost most of its codes, one changed layout, one is gone,
	// one keeps failing with 503. Each fails alone, keeps its options, and the rest sync.
	clock = clock.Add(8 * 24 * time.Hour)
	s.set("ethnic_category", "ethnic_category_truncated")
	s.set("smoking_status_code", "layout_changed")
	s.set("consultation_medium_used", "no-such-page")
	s.fail("gender_identity_code", 503, 503, 503, 503)
	progress.Reset()
	rep, err = sy.Run(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 4 || rep.Unchanged != 2 || rep.Err() == nil {
		t.Fatalf("bad week: %+v\n%s", rep, progress.String())
	}
	for key, want := range map[string]string{
		"ethnic_category":          "far fewer options than before: 3 options where the dataset holds 18",
		"smoking_status_code":      "has the page layout changed?",
		"consultation_medium_used": "404 Not Found",
		"gender_identity_code":     "503 Service Unavailable after 4 attempts",
	} {
		var got error
		for _, f := range rep.Failures {
			if f.Key == key {
				got = f.Err
			}
		}
		if got == nil || !strings.Contains(got.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", key, got, want)
		}
		d, err := st.DatasetByKey(ctx, key)
		if err != nil || d.Version != 1 || d.OptionCount == 0 {
			t.Errorf("%s after a failed sync: %+v %v", key, d, err)
		}
	}
	eth, _ := st.DatasetByKey(ctx, "ethnic_category")
	if opts, _ := st.DatasetOptions(ctx, eth.ID); len(opts) != 18 {
		t.Errorf("ethnic category kept %d options, want 18", len(opts))
	}
	audit, _ := st.DatasetAudit(ctx, []int64{eth.ID}, 1)
	if e := audit[eth.ID][0]; e.Details["outcome"] != "failed" {
		t.Errorf("the failure is not in the audit log: %+v", e)
	}

	// The operator checks the page and accepts the shorter list.
	rep, _ = sy.Run(ctx, Options{Dataset: "ethnic_category", AllowShrink: true, Force: true})
	if rep.Updated != 1 {
		t.Errorf("accepting the shrink: %+v", rep)
	}
	if d, _ := st.DatasetByKey(ctx, "ethnic_category"); d.Version != 2 || d.OptionCount != 3 {
		t.Errorf("after accepting: %+v", d)
	}

	if _, err := sy.Run(ctx, Options{Dataset: "no_such_dataset"}); !errors.Is(err, ErrUnknownDataset) {
		t.Errorf("unknown dataset: %v", err)
	}
}

func TestSyncDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	s := newSite(t)
	elements, _ := testElements(t)
	for _, e := range elements {
		s.set(slugOf(e), handWritten[e.Key])
	}
	var progress bytes.Buffer
	rep, err := newSyncer(st, s, elements, &progress, nil).Run(ctx, Options{DryRun: true})
	if err != nil || rep.Created != 6 {
		t.Fatalf("%+v %v", rep, err)
	}
	if !strings.Contains(progress.String(), "would be created") {
		t.Errorf("progress:\n%s", progress.String())
	}
	if states, _ := st.SyncStates(ctx, store.CategoryNHSDD); len(states) != 0 {
		t.Errorf("a dry run stored %d datasets", len(states))
	}
}

// TestSyncAllPagesBoundsInFlight syncs every listed element from the fake site with a
// little latency per page and checks that no more than 4 requests were ever in flight.
func TestSyncAllPagesBoundsInFlight(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	s := newSite(t)
	s.delay = 15 * time.Millisecond
	all, err := Elements()
	if err != nil {
		t.Fatal(err)
	}
	sy := newSyncer(st, s, nil, nil, nil)
	sy.Client = fetch.New(fetch.Options{})
	sy.Workers = 8 // more workers than the client allows in flight: the client holds the line
	rep, err := sy.Run(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != len(all) || rep.Failed != 0 {
		t.Fatalf("%+v", rep)
	}
	if m := s.maxInFlight.Load(); m > 4 || m < 2 {
		t.Errorf("at most %d requests were in flight, want 2..4", m)
	}
}

// BenchmarkSyncAllPages syncs the 48 listed pages from a local server that answers
// each page after 10 ms; every iteration changes every page, so each run replaces the
// options of all 48 datasets and raises their versions (the slowest path).
func BenchmarkSyncAllPages(b *testing.B) {
	ctx := context.Background()
	st := store.New(dbtest.New(b).Pool)
	s := newSite(b)
	s.delay = 10 * time.Millisecond
	sy := newSyncer(st, s, nil, nil, nil)
	sy.Client = fetch.New(fetch.Options{})
	for b.Loop() {
		s.mu.Lock()
		s.revision++
		s.mu.Unlock()
		rep, err := sy.Run(ctx, Options{Force: true})
		if err != nil || rep.Failed != 0 || rep.Created+rep.Updated != 48 {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(s.maxInFlight.Load()), "max-in-flight")
}
