package rcpch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"caregraph/refdata"
	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/sync/fetch"
)

const apiKey = "s3cret-subscription-key"

// api is a fake RCPCH NHS Organisations API serving the fixtures in testdata/, with
// faults a test sets per path.
type api struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string]string // path → fixture
	faults map[string][]int
	bodies map[string]string // path → literal body instead of the fixture
	seen   []string
}

func newAPI(t *testing.T) *api {
	a := &api{
		files: map[string]string{
			"/organisations/limited/":     "organisations_limited.json",
			"/trusts/":                    "trusts_page1.json",
			"/trusts/?page=2":             "trusts_page2.json",
			"/local_health_boards/":       "local_health_boards.json",
			"/london_boroughs/":           "london_boroughs.json",
			"/nhs_england_regions/":       "nhs_england_regions.json",
			"/paediatric_diabetes_units/": "paediatric_diabetes_units.json",
			"/integrated_care_boards/":    "integrated_care_boards.json",
		},
		faults: map[string][]int{},
		bodies: map[string]string{},
	}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *api) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Ocp-Apim-Subscription-Key") != apiKey {
		http.Error(w, `{"statusCode": 401, "message": "Access denied due to missing subscription key."}`, http.StatusUnauthorized)
		return
	}
	p := r.URL.RequestURI()
	a.mu.Lock()
	a.seen = append(a.seen, p)
	var fault int
	if f := a.faults[p]; len(f) > 0 {
		fault, a.faults[p] = f[0], f[1:]
	}
	file, ok := a.files[p]
	body, literal := a.bodies[p]
	a.mu.Unlock()
	switch {
	case fault == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(fault)
		return
	case fault != 0:
		w.WriteHeader(fault)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if literal {
		_, _ = w.Write([]byte(body))
		return
	}
	if !ok {
		http.Error(w, `{"detail": "Not found."}`, http.StatusNotFound)
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	_, _ = w.Write(bytes.ReplaceAll(b, []byte("{{BASE}}"), []byte(a.URL)))
}

func newSyncer(st *store.Store, base string, progress *bytes.Buffer) *Syncer {
	sy := &Syncer{
		Store:   st,
		Client:  fetch.New(fetch.Options{Timeout: 2 * time.Second, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
		BaseURL: base,
		APIKey:  apiKey,
		Actor:   store.Actor{Name: "test"},
	}
	if progress != nil {
		sy.Progress = progress
	}
	return sy
}

func TestSyncFromTheAPI(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	a := newAPI(t)
	var progress bytes.Buffer
	sy := newSyncer(st, a.URL, &progress)

	a.faults["/nhs_england_regions/"] = []int{http.StatusTooManyRequests}
	a.faults["/london_boroughs/"] = []int{http.StatusServiceUnavailable}
	rep, err := sy.Run(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 7 || rep.Failed != 0 || rep.Source != "api" {
		t.Fatalf("%+v\n%s", rep, progress.String())
	}
	want := map[string]int{"hospitals_england_wales": 30, "nhs_trusts": 12, "welsh_lhbs": 7, "london_boroughs": 33,
		"nhs_england_regions": 7, "paediatric_diabetes_units": 22, "integrated_care_boards": 42}
	for key, n := range want {
		d, err := st.DatasetByKey(ctx, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if d.OptionCount != n || d.SourceType != store.SourceAPI || d.APIEndpoint == nil || !strings.HasPrefix(*d.APIEndpoint, a.URL) {
			t.Errorf("%s: %d options (want %d), %+v", key, d.OptionCount, n, d)
		}
	}
	units, _ := st.DatasetByKey(ctx, "paediatric_diabetes_units")
	opts, _ := st.DatasetOptions(ctx, units.ID)
	labels := map[string]string{}
	for _, o := range opts {
		labels[o.Code] = o.Label
	}
	if labels["PZ002"] != "NORFOLK & NORWICH UNIVERSITY HOSPITAL" {
		t.Errorf("PZ002 = %q", labels["PZ002"])
	}
	for i := 1; i < len(opts); i++ {
		if strings.ToLower(opts[i-1].Label) > strings.ToLower(opts[i].Label) {
			t.Errorf("not sorted by label: %q before %q", opts[i-1].Label, opts[i].Label)
		}
	}
	if strings.Contains(progress.String(), apiKey) {
		t.Error("the API key reached the progress output")
	}

	// The next day nothing changed: every list is unchanged and keeps version 1.
	sy.Now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	rep, _ = sy.Run(ctx, Options{})
	if rep.Unchanged != 7 {
		t.Errorf("next day: %+v", rep)
	}
	// Within the day it is skipped unless forced.
	sy.Now = nil
	if rep, _ = sy.Run(ctx, Options{}); rep.Skipped != 7 {
		t.Errorf("same day: %+v", rep)
	}

	// Faults: each list fails on its own and keeps its options.
	a.mu.Lock()
	delete(a.files, "/london_boroughs/")
	a.bodies["/integrated_care_boards/"] = `{"type": "FeatureCollection", "features": [`
	a.bodies["/nhs_england_regions/"] = `[{"code": "Y56", "title": "London"}, {"code": "Y59", "title": "South East"}]`
	a.bodies["/local_health_boards/"] = `[{"ods_code": "7A1", "name": "Betsi Cadwaladr University Health Board"}]`
	a.faults["/organisations/limited/"] = []int{503, 503, 503, 503}
	a.bodies["/trusts/"] = `{"count": 1, "next": "https://elsewhere.example/trusts/?page=2", "previous": null, "results": [{"ods_code": "RGT", "name": "X"}]}`
	a.mu.Unlock()
	progress.Reset()
	rep, err = sy.Run(ctx, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 6 || rep.Unchanged != 1 || rep.Err() == nil {
		t.Fatalf("%+v\n%s", rep, progress.String())
	}
	for key, msg := range map[string]string{
		"london_boroughs":         "404 Not Found",
		"integrated_care_boards":  "malformed JSON",
		"nhs_england_regions":     "has the answer's shape changed?",
		"welsh_lhbs":              "far fewer options than before",
		"hospitals_england_wales": "503 Service Unavailable after 4 attempts",
		"nhs_trusts":              "is not on 127.0.0.1",
	} {
		var got error
		for _, f := range rep.Failures {
			if f.Key == key {
				got = f.Err
			}
		}
		if got == nil || !strings.Contains(got.Error(), msg) {
			t.Errorf("%s: %v, want %q", key, got, msg)
		}
		if d, _ := st.DatasetByKey(ctx, key); d.OptionCount != want[key] || d.Version != 1 {
			t.Errorf("%s changed by a failed sync: %+v", key, d)
		}
	}
	for _, p := range a.seen {
		if strings.Contains(p, "elsewhere") {
			t.Errorf("followed a next link to another host: %s", p)
		}
	}
}

func TestSyncNeedsTheKey(t *testing.T) {
	st := store.New(dbtest.New(t).Pool)
	a := newAPI(t)
	sy := newSyncer(st, a.URL, nil)
	sy.APIKey = ""
	rep, err := sy.Run(context.Background(), Options{Dataset: "london_boroughs"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(rep.Failures[0].Err.Error(), "401") {
		t.Errorf("%+v", rep)
	}
	if _, err := sy.Run(context.Background(), Options{Dataset: "boroughs"}); !errors.Is(err, ErrUnknownDataset) {
		t.Errorf("unknown dataset: %v", err)
	}
}

func TestSyncFromOurOwnTables(t *testing.T) {
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(dbtest.DataDir(), "reference")); err != nil {
		t.Skip("no reference data")
	}
	db := dbtest.NewWithBoundaries(t)
	st := store.New(db.Pool)
	var progress bytes.Buffer
	sy := newSyncer(st, "", &progress)

	// Before the register is seeded only the lists from the boundaries can be built.
	rep, err := sy.Run(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Source != "register" || rep.Created != 4 || rep.Failed != 3 {
		t.Fatalf("unseeded: %+v\n%s", rep, progress.String())
	}
	if !strings.Contains(progress.String(), "seed the organisation register") {
		t.Errorf("the failure does not say what to do:\n%s", progress.String())
	}
	icbs, _ := st.DatasetByKey(ctx, "integrated_care_boards")
	if opts, _ := st.DatasetOptions(ctx, icbs.ID); len(opts) != 42 || !strings.HasPrefix(opts[0].Code, "E54") {
		t.Errorf("ICBs from the boundaries: %d, first %+v", len(opts), opts[0])
	}

	lists, err := refdata.Load(filepath.Join(dbtest.DataDir(), "reference"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refdata.Seed(ctx, st, lists, refdata.Options{}); err != nil {
		t.Fatal(err)
	}
	progress.Reset()
	rep, err = sy.Run(ctx, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Created != 3 || rep.Updated != 3 || rep.Unchanged != 1 {
		t.Fatalf("seeded: %+v\n%s", rep, progress.String())
	}
	counts := map[string]int{}
	for _, l := range Lists {
		d, err := st.DatasetByKey(ctx, l.Key)
		if err != nil {
			t.Fatal(err)
		}
		counts[l.Key] = d.OptionCount
		if d.SourceType != store.SourceImported {
			t.Errorf("%s source %s", l.Key, d.SourceType)
		}
	}
	// The register's codes match the API's: ODS codes for ICBs, regions and boards.
	icbs, _ = st.DatasetByKey(ctx, "integrated_care_boards")
	opts, _ := st.DatasetOptions(ctx, icbs.ID)
	if opts[0].Code[0] != 'Q' || icbs.Version != 2 {
		t.Errorf("ICBs after seeding: first %+v, version %d", opts[0], icbs.Version)
	}
	if counts["london_boroughs"] != 33 || counts["welsh_lhbs"] != 7 || counts["nhs_england_regions"] != 7 || counts["integrated_care_boards"] != 42 {
		t.Errorf("counts: %v", counts)
	}
	if counts["hospitals_england_wales"] < 300 || counts["nhs_trusts"] < 200 || counts["paediatric_diabetes_units"] < 170 {
		t.Errorf("counts: %v", counts)
	}
}
