package ods

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"caregraph/sync/fetch"
)

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func quickClient(rate float64) *fetch.Client {
	return fetch.New(fetch.Options{BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, Timeout: 300 * time.Millisecond, RateLimit: rate})
}

// fakeORD serves the ORD testdata; extra handlers override paths.
func fakeORD(t *testing.T, extra map[string]http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h, ok := extra[r.URL.Path]; ok {
			h(w, r)
			return
		}
		switch {
		case r.URL.Path == "/sync":
			if r.URL.Query().Get("LastChangeDate") == "" {
				http.Error(w, "LastChangeDate required", 400)
				return
			}
			_, _ = w.Write(testdata(t, "ord_sync.json"))
		case r.URL.Path == "/notifications":
			_, _ = w.Write(testdata(t, "ord_notifications.json"))
		case strings.HasPrefix(r.URL.Path, "/organisations/"):
			code := strings.TrimPrefix(r.URL.Path, "/organisations/")
			b, err := os.ReadFile(filepath.Join("testdata", "ord_"+code+".json"))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestORDRecordPicksTheActiveRE6(t *testing.T) {
	srv, _ := fakeORD(t, nil)
	o := &ORD{BaseURL: srv.URL, Client: quickClient(0)}
	r, err := o.Record(context.Background(), "rgt01")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := r.ActiveParent(); !ok || p != "RGT" {
		t.Errorf("parent = %q %v, want RGT (the active RE6, listed second)", p, ok)
	}
	if r.Name != "ADDENBROOKE'S HOSPITAL" || r.Address.Postcode != "CB2 0QQ" || r.Phone != "01223 245151" || r.Website != "https://www.cuh.nhs.uk/" {
		t.Errorf("record = %+v", r)
	}
	if r.PrimaryRole() != RoleTrustSite || !r.Active || r.LastChange.Format(time.DateOnly) != "2026-09-03" || r.StartDate().Format(time.DateOnly) != "1992-04-01" {
		t.Errorf("role/status/dates = %s %v %v", r.PrimaryRole(), r.Active, r.LastChange)
	}
}

func TestORDRecordSingleObjectsAndAbsentBlocks(t *testing.T) {
	srv, _ := fakeORD(t, nil)
	o := &ORD{BaseURL: srv.URL, Client: quickClient(0)}
	r, err := o.Record(context.Background(), "RW6")
	if err != nil {
		t.Fatal(err)
	}
	if r.Active || len(r.Roles) != 1 || r.PrimaryRole() != RoleTrust || len(r.Succs) != 2 || r.HasAddress || r.HasContacts {
		t.Errorf("record = %+v", r)
	}
	if r.EndDate().Format(time.DateOnly) != "2021-09-30" || r.Succs[1].Target != "R0A" || r.Succs[0].On.Format(time.DateOnly) != "2021-10-01" {
		t.Errorf("dates/successions = %v %+v", r.EndDate(), r.Succs)
	}
}

func TestORDBadPayloadsAndStatuses(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"html", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>maintenance</html>")) }, "not the JSON expected"},
		{"no organisation", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"errorCode": 404}`)) }, "has no Organisation"},
		{"no name", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"Organisation": {"OrgId": {"extension": "X1"}, "Status": "Active"}}`))
		}, "has no name"},
		{"wrong code", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"Organisation": {"Name": "Y", "OrgId": {"extension": "Y1"}}}`))
		}, "describes Y1"},
		{"wrong types", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"Organisation": {"Name": "X", "OrgId": {"extension": "X1"}, "Rels": {"Rel": "RE6"}}}`))
		}, "not the JSON expected"},
		{"404", http.NotFound, "not found in ODS"},
		{"503 always", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", 503) }, "503"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}, "after 4 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeORD(t, map[string]http.HandlerFunc{"/organisations/X1": tt.handler})
			o := &ORD{BaseURL: srv.URL, Client: quickClient(0)}
			_, err := o.Record(context.Background(), "X1")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
			if tt.name == "404" && !errors.Is(err, ErrNotFound) {
				t.Errorf("404 is not ErrNotFound: %v", err)
			}
		})
	}
}

func TestORDRetriesAfter429And503(t *testing.T) {
	var calls atomic.Int64
	srv, _ := fakeORD(t, map[string]http.HandlerFunc{"/organisations/RGT01": func(w http.ResponseWriter, _ *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 2:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write(testdata(t, "ord_RGT01.json"))
		}
	}})
	o := &ORD{BaseURL: srv.URL, Client: quickClient(0)}
	start := time.Now()
	r, err := o.Record(context.Background(), "RGT01")
	if err != nil || r.Code != "RGT01" {
		t.Fatalf("%v %+v", err, r)
	}
	if calls.Load() != 3 || time.Since(start) < time.Second {
		t.Errorf("calls = %d after %v; want 3, waiting at least the Retry-After second", calls.Load(), time.Since(start))
	}
}

func TestORDChangesFiltersAndCollectsFailures(t *testing.T) {
	srv, n := fakeORD(t, nil)
	o := &ORD{BaseURL: srv.URL, Client: quickClient(0)}
	want := func(c string) bool { return c != "A81001" }
	ch, err := collect(o, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), want)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Records) != 2 || len(ch.Failures) != 1 || ch.Failures[0].Code != "RGT99" || !errors.Is(ch.Failures[0].Err, ErrNotFound) {
		t.Errorf("records %d, failures %+v", len(ch.Records), ch.Failures)
	}
	if len(ch.Deletions) != 1 || ch.Deletions[0].Code != "RGT1W" || ch.Deletions[0].Reason != "HUMAN ERROR" {
		t.Errorf("deletions = %+v", ch.Deletions)
	}
	// /sync, three wanted records (A81001 is not fetched), /notifications.
	if n.Load() != 5 || o.Requests() != 5 {
		t.Errorf("requests = %d (source counted %d), want 5", n.Load(), o.Requests())
	}
}

func TestORDStaysUnderTheRateLimit(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if r.URL.Path == "/sync" {
			var b strings.Builder
			b.WriteString(`{"Organisations": [`)
			for i := range 9 {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`{"OrgLink": "x/organisations/RGT01"}, {"OrgLink": "x/organisations/RGT0` + string(rune('1'+i)) + `"}`)
			}
			b.WriteString(`]}`)
			_, _ = w.Write([]byte(b.String()))
			return
		}
		_, _ = w.Write([]byte(`{"Organisation": {"Name": "N", "OrgId": {"extension": "` + strings.TrimPrefix(r.URL.Path, "/organisations/") + `"}}}`))
	}))
	defer srv.Close()
	// Four workers share one client limited to 5 a second: the requests still come at
	// least 200ms apart.
	o := &ORD{BaseURL: srv.URL, Client: fetch.New(fetch.Options{RateLimit: 5, Burst: 1, MaxInFlight: 4})}
	_, err := collect(o, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) < 10 {
		t.Fatalf("only %d requests", len(times))
	}
	span := times[len(times)-1].Sub(times[0])
	if minSpan := time.Duration(len(times)-1) * 190 * time.Millisecond; span < minSpan {
		t.Errorf("%d requests in %v: faster than 5 a second", len(times), span)
	}
}

// fakeFHIR serves the FHIR testdata, checking the key and recording the queries.
func fakeFHIR(t *testing.T, key string) (*httptest.Server, *[]string) {
	var seen []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("apikey") != key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		seen = append(seen, r.URL.RequestURI())
		serve := func(name string) {
			b := strings.ReplaceAll(string(testdata(t, name)), "BASE", srv.URL)
			w.Header().Set("Content-Type", "application/fhir+json")
			_, _ = w.Write([]byte(b))
		}
		switch {
		case r.URL.Path == "/Organization" && r.URL.Query().Get("page") == "2":
			serve("fhir_org_page2.json")
		case r.URL.Path == "/Organization":
			serve("fhir_org_page1.json")
		case r.URL.Path == "/Organization/RGT01":
			b := testdata(t, "fhir_org_page1.json")
			i := strings.Index(string(b), `"resource": {`)
			j := strings.LastIndex(string(b), "}]}")
			_, _ = w.Write([]byte(string(b)[i+len(`"resource": `) : j]))
		case r.URL.Path == "/OrganizationAffiliation":
			serve("fhir_affiliations.json")
		case r.URL.Path == "/List":
			serve("fhir_deletions.json")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestFHIRChangesPagesAndBatches(t *testing.T) {
	srv, seen := fakeFHIR(t, "secret-key")
	f := &FHIR{BaseURL: srv.URL, APIKey: "secret-key", Client: quickClient(0)}
	ch, err := collect(f, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Records) != 2 || len(ch.Failures) != 1 || ch.Failures[0].Code != "BROKEN" {
		t.Fatalf("records %+v failures %+v", ch.Records, ch.Failures)
	}
	site := ch.Records[0]
	if p, ok := site.ActiveParent(); !ok || p != "RGT" {
		t.Errorf("parent = %q", p)
	}
	if site.LastChange.Format(time.DateOnly) != "2026-09-03" || site.Address.County != "CAMBRIDGESHIRE" || site.Phone != "01223 245151" || site.PrimaryRole() != RoleTrustSite || site.RecordClass != "RC2" {
		t.Errorf("site = %+v", site)
	}
	if ch.Records[1].PrimaryRole() != RoleTrust || len(ch.Deletions) != 1 || ch.Deletions[0].Code != "RGT1W" {
		t.Errorf("trust %+v deletions %+v", ch.Records[1], ch.Deletions)
	}
	// Two pages, one affiliation search naming both organisations, one deletion search.
	if len(*seen) != 4 || f.Requests() != 4 {
		t.Errorf("requests %d: %v", len(*seen), *seen)
	}
	first := (*seen)[0]
	for _, want := range []string{"_lastUpdated=ge2026-09-01", "_count=1000", "RO198"} {
		if !strings.Contains(first, want) {
			t.Errorf("first query %s lacks %s", first, want)
		}
	}
	aff, err := url.Parse((*seen)[2])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aff.Query().Get("primary-organization"), SystemODSCode+"|RGT01,"+SystemODSCode+"|RGT"; got != want {
		t.Errorf("affiliation search names %q, want %q (one search for both)", got, want)
	}
}

func TestFHIRRecordAndKey(t *testing.T) {
	srv, _ := fakeFHIR(t, "k")
	f := &FHIR{BaseURL: srv.URL, APIKey: "k", Client: quickClient(0)}
	r, err := f.Record(context.Background(), "RGT01")
	if err != nil || r.Name != "ADDENBROOKE'S HOSPITAL" {
		t.Fatalf("%v %+v", err, r)
	}
	if p, _ := r.ActiveParent(); p != "RGT" {
		t.Errorf("parent %q", p)
	}
	if _, err := f.Record(context.Background(), "NOPE1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown code: %v", err)
	}
	bad := &FHIR{BaseURL: srv.URL, APIKey: "wrong", Client: quickClient(0)}
	_, err = bad.Record(context.Background(), "RGT01")
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("a wrong key: %v (and the key must not appear in errors)", err)
	}
}

func TestFHIRNextLinksInACircle(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"resourceType": "Bundle", "link": {"relation": "next", "url": "` + srv.URL + `/Organization?same=1"}, "entry": []}`))
	}))
	defer srv.Close()
	f := &FHIR{BaseURL: srv.URL, Client: quickClient(0)}
	_, err := collect(f, time.Now(), nil)
	if err == nil || !strings.Contains(err.Error(), "circle") {
		t.Errorf("err = %v", err)
	}
}

func TestListOrOne(t *testing.T) {
	var v struct {
		A listOrOne[int] `json:"a"`
		B listOrOne[int] `json:"b"`
		C listOrOne[int] `json:"c"`
	}
	if err := jsonUnmarshal(`{"a": [1, 2], "b": 3, "c": null}`, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.A) != 2 || len(v.B) != 1 || v.B[0] != 3 || v.C != nil {
		t.Errorf("%+v", v)
	}
}

// collect gathers every batch a source emits.
func collect(src Source, since time.Time, want func(string) bool) (Changes, error) {
	var all Changes
	err := src.Changes(context.Background(), since, want, func(c Changes) error {
		all.Records = append(all.Records, c.Records...)
		all.Failures = append(all.Failures, c.Failures...)
		all.Deletions = append(all.Deletions, c.Deletions...)
		return nil
	})
	return all, err
}
