package ods

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
)

var day = func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

// register holds five trusts and two sites of Cambridge, as the seed would leave them.
func register(t *testing.T) *store.Store {
	t.Helper()
	st := store.New(dbtest.New(t).Pool)
	ctx := context.Background()
	var orgs []store.NewOrganisation
	for code, name := range map[string]string{"RGT": "CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST", "RGQ": "IPSWICH HOSPITAL NHS TRUST",
		"RW6": "THE PENNINE ACUTE HOSPITALS NHS TRUST", "RM3": "NORTHERN CARE ALLIANCE NHS FOUNDATION TRUST", "R0A": "MANCHESTER UNIVERSITY NHS FOUNDATION TRUST"} {
		orgs = append(orgs, store.NewOrganisation{ODSCode: code, Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: name}})
	}
	orgs = append(orgs,
		store.NewOrganisation{ODSCode: "RGT01", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "Addenbrooke's Hospital",
			AddressLine1: "Hills Road", Town: "Cambridge", Postcode: "CB2 0QQ", Phone: "01223 245000",
			Point: &store.LatLon{Lat: 52.1751, Lon: 0.1408}}},
		store.NewOrganisation{ODSCode: "RGT1W", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "JERSEY GENERAL HOSPITAL"}})
	if _, err := st.CreateOrganisations(ctx, orgs); err != nil {
		t.Fatal(err)
	}
	for site, parent := range map[string]string{"RGT01": "RGQ", "RGT1W": "RGT"} {
		if _, err := st.SetParent(ctx, site, parent, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// ordServer serves records by code from testdata or the inline bodies, and a /sync list
// of every code it knows plus a GP practice.
func ordServer(t *testing.T, inline map[string]string) *httptest.Server {
	files := map[string]string{"RGT01": "ord_RGT01.json", "RW6": "ord_RW6.json"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/sync":
			links := []string{`{"OrgLink": "https://x/ORD/2-0-0/organisations/A81001"}`, `{"OrgLink": "https://x/ORD/2-0-0/organisations/RGT99"}`}
			for c := range files {
				links = append(links, `{"OrgLink": "https://x/ORD/2-0-0/organisations/`+c+`"}`)
			}
			for c := range inline {
				links = append(links, `{"OrgLink": "https://x/ORD/2-0-0/organisations/`+c+`"}`)
			}
			_, _ = w.Write([]byte(`{"Organisations": [` + strings.Join(links, ",") + `]}`))
		case r.URL.Path == "/notifications":
			_, _ = w.Write(testdata(t, "ord_notifications.json"))
		case strings.HasPrefix(r.URL.Path, "/organisations/"):
			code := strings.TrimPrefix(r.URL.Path, "/organisations/")
			if body, ok := inline[code]; ok {
				_, _ = w.Write([]byte(body))
				return
			}
			if f, ok := files[code]; ok {
				b, _ := os.ReadFile(filepath.Join("testdata", f))
				_, _ = w.Write(b)
				return
			}
			http.NotFound(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const newSiteRGT98 = `{"Organisation": {"Name": "ROSIE HOSPITAL", "Date": [{"Type": "Operational", "Start": "2026-10-01"}],
  "OrgId": {"extension": "RGT98"}, "Status": "Active", "LastChangeDate": "2026-10-01", "orgRecordClass": "RC2",
  "GeoLoc": {"Location": {"AddrLn1": "ROBINSON WAY", "Town": "CAMBRIDGE", "PostCode": "CB2 0SW", "Country": "ENGLAND"}},
  "Roles": {"Role": {"id": "RO198", "primaryRole": true, "Status": "Active"}},
  "Rels": {"Rel": {"id": "RE6", "Status": "Active", "Date": {"Type": "Operational", "Start": "2026-10-01"}, "Target": {"OrgId": {"extension": "RGT"}, "PrimaryRoleId": {"id": "RO197"}}}}}}`

// RGQ passes to RGT next April: after the window, so it waits for review.
const futureMergerRGQ = `{"Organisation": {"Name": "IPSWICH HOSPITAL NHS TRUST", "OrgId": {"extension": "RGQ"}, "Status": "Active",
  "LastChangeDate": "2026-11-02", "orgRecordClass": "RC1", "Roles": {"Role": {"id": "RO197", "primaryRole": true, "Status": "Active"}},
  "Succs": {"Succ": {"Type": "Successor", "Date": {"Type": "Legal", "Start": "2027-04-01"}, "Target": {"OrgId": {"extension": "RGT"}}}}}}`

func syncer(st *store.Store, srv *httptest.Server, progress io.Writer) *Syncer {
	return &Syncer{Store: st, Source: &ORD{BaseURL: srv.URL, Client: quickClient(0)}, Progress: progress,
		Now: func() time.Time { return day("2026-11-21") }}
}

func TestSyncAppliesRealChangesAndQueuesTheRest(t *testing.T) {
	st := register(t)
	ctx := context.Background()
	srv := ordServer(t, map[string]string{"RGT98": newSiteRGT98, "RGQ": futureMergerRGQ})
	var progress bytes.Buffer
	rep, err := syncer(st, srv, &progress).Run(ctx, Options{Since: day("2026-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	// RGT01 changed, RGT98 added, RW6 (split), RGQ (future merger) and RGT1W (deleted)
	// queued, RGT99 failed (404); A81001 was never fetched.
	if rep.Changed != 1 || rep.Added != 1 || rep.Queued != 3 || rep.Failed != 1 || rep.Examined != 6 {
		t.Errorf("summary: %s\n%s", rep.Summary(), progress.String())
	}
	if rep.Err() == nil || !strings.Contains(rep.Err().Error(), "1 of the ODS records failed") {
		t.Errorf("Err = %v", rep.Err())
	}
	held, err := st.ODSHeld(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := held["RGT01"]
	// Case alone is no change: the name and street keep our spelling.
	if a.Attrs.Name != "Addenbrooke's Hospital" || a.Attrs.AddressLine1 != "Hills Road" || a.Attrs.County != "CAMBRIDGESHIRE" ||
		a.Attrs.Phone != "01223 245151" || a.Attrs.Website != "https://www.cuh.nhs.uk/" || a.Attrs.Point == nil {
		t.Errorf("RGT01 attributes = %+v", a.Attrs)
	}
	if a.Parent != "RGT" || a.VersionFrom == nil || !a.VersionFrom.Equal(day("2026-09-03")) {
		t.Errorf("RGT01 parent %s from %v, want RGT from 2026-09-03", a.Parent, a.VersionFrom)
	}
	// History answers "which trust on a date".
	for on, want := range map[string]string{"2026-09-02": "RGQ", "2026-09-03": "RGT"} {
		_, _, rel, err := st.OrganisationByCode(ctx, "RGT01", day(on), true)
		if err != nil || rel == nil || rel.ParentID == nil {
			t.Fatalf("%s: %v %+v", on, err, rel)
		}
		if id := orgID(t, st, want); *rel.ParentID != id {
			t.Errorf("parent of RGT01 on %s is %d, want %s (%d)", on, *rel.ParentID, want, id)
		}
	}
	if n := held["RGT98"]; n.Parent != "RGT" || n.Kind != store.KindSite || n.Attrs.Postcode != "CB2 0SW" || !n.Open {
		t.Errorf("RGT98 = %+v", n)
	}
	if !held["RW6"].Open || !held["RGQ"].Open || !held["RGT1W"].Open {
		t.Error("a queued change was applied")
	}
	items, total, err := st.ODSReviewItems(ctx, store.ReviewPending, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.ODSCode+" "+string(it.Kind)+" "+it.SuccessorCode)
	}
	sort.Strings(got)
	if total != 4 || strings.Join(got, "; ") != "RGQ succession RGT; RGT1W deletion ; RW6 succession R0A; RW6 succession RM3" {
		t.Errorf("review queue (%d): %v", total, got)
	}
	for _, want := range []string{"ods RGT01: changed", "ods RGT98: added", "ods RGT99: FAILED", "not found in ODS"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	if _, ok, _ := st.ODSSyncedTo(ctx, "ord"); ok {
		t.Error("a run with a failure moved the window on")
	}

	// Again: nothing new is written, nothing is queued twice.
	rep, err = syncer(st, srv, &progress).Run(ctx, Options{Since: day("2026-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 0 || rep.Added != 0 || rep.Failed != 1 {
		t.Errorf("second run: %s", rep.Summary())
	}
	if _, total, _ := st.ODSReviewItems(ctx, "", 0, 10); total != 4 {
		t.Errorf("review items after a second run: %d", total)
	}
}

func orgID(t *testing.T, st *store.Store, code string) int64 {
	o, _, _, err := st.OrganisationByCode(context.Background(), code, day("2026-11-21"), false)
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func TestSyncDryRunWritesNothing(t *testing.T) {
	st := register(t)
	ctx := context.Background()
	before, _ := st.ODSHeld(ctx)
	srv := ordServer(t, map[string]string{"RGT98": newSiteRGT98})
	rep, err := syncer(st, srv, io.Discard).Run(ctx, Options{Since: day("2026-06-01"), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := st.ODSHeld(ctx)
	if len(after) != len(before) || after["RGT01"].Parent != "RGQ" || after["RGT01"].Attrs.Phone != "01223 245000" {
		t.Errorf("the dry run wrote: %+v", after["RGT01"])
	}
	if _, total, _ := st.ODSReviewItems(ctx, "", 0, 10); total != 0 {
		t.Errorf("the dry run queued %d items", total)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dry run: nothing was written", "## RGT01 ADDENBROOKE'S HOSPITAL — changed", "ODS change date: 2026-09-03",
		"| phone | 01223 245000 | 01223 245151 |", "- Parent: RGQ → RGT", "## RGT98 ROSIE HOSPITAL — added",
		"For review (not applied): RW6 split between 2 successors", "ODS withdrew RGT1W from publication on 2026-10-02 (human error)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

func TestSyncWindowAndMoveToUnknownTrust(t *testing.T) {
	st := register(t)
	ctx := context.Background()
	moved := strings.Replace(string(testdata(t, "ord_RGT01.json")), `"extension": "RGT"}`, `"extension": "RXX"}`, 1)
	srv := ordServer(t, map[string]string{"RGT01": moved})
	rep, err := syncer(st, srv, io.Discard).Run(ctx, Options{Since: day("2025-01-01"), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.From != day("2026-11-21").Add(-ORDLookback) || len(rep.WindowNotes) != 1 {
		t.Errorf("window from %v, notes %v", rep.From, rep.WindowNotes)
	}
	var e *Entry
	for _, x := range rep.Entries {
		if x.Code == "RGT01" {
			e = x
		}
	}
	if e == nil || e.Outcome != OutcomeFailed || !strings.Contains(e.Err.Error(), "RXX, which is not in the register") {
		t.Errorf("RGT01 = %+v", e)
	}
	// A real run fails it the same way, writes nothing of it, and the next run tries again.
	for run := range 2 {
		rep, err := syncer(st, srv, io.Discard).Run(ctx, Options{Since: day("2026-06-01")})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed != 2 { // RGT01 and the 404 of RGT99
			t.Errorf("run %d: %s", run, rep.Summary())
		}
	}
	if h, _ := st.ODSHeld(ctx); h["RGT01"].Parent != "RGQ" || h["RGT01"].ODSChangedOn != nil || h["RGT01"].Attrs.Phone != "01223 245000" {
		t.Errorf("a failed record was written: %+v", h["RGT01"])
	}
	if _, err := syncer(st, srv, io.Discard).Run(ctx, Options{Since: day("2027-01-01")}); err == nil {
		t.Error("a window starting in the future ran")
	}
}

func TestReviewDecisions(t *testing.T) {
	st := register(t)
	ctx := context.Background()
	srv := ordServer(t, map[string]string{"RGQ": futureMergerRGQ})
	if _, err := syncer(st, srv, io.Discard).Run(ctx, Options{Since: day("2026-06-01")}); err != nil {
		t.Fatal(err)
	}
	items, _, _ := st.ODSReviewItems(ctx, store.ReviewPending, 0, 10)
	byKey := map[string]store.ODSReviewItem{}
	for _, it := range items {
		byKey[it.ODSCode+" "+it.SuccessorCode] = it
	}
	del := byKey["RGT1W "]
	it, err := st.DecideODSReview(ctx, store.ReviewDecision{ID: del.ID, Approve: true, Note: "confirmed with ODS", Today: day("2026-11-21")})
	if err != nil {
		t.Fatal(err)
	}
	if it.Status != store.ReviewApproved || it.DecisionNote != "confirmed with ODS" || it.DecidedAt == nil {
		t.Errorf("decided item = %+v", it)
	}
	held, _ := st.ODSHeld(ctx)
	if held["RGT1W"].Open {
		t.Error("approving the deletion did not close RGT1W")
	}
	if _, err := st.DecideODSReview(ctx, store.ReviewDecision{ID: del.ID, Approve: false}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("deciding twice: %v", err)
	}
	rej := byKey["RGQ RGT"]
	if it, err := st.DecideODSReview(ctx, store.ReviewDecision{ID: rej.ID, Approve: false}); err != nil || it.Status != store.ReviewRejected {
		t.Errorf("reject: %v %+v", err, it)
	}
	if held, _ := st.ODSHeld(ctx); !held["RGQ"].Open {
		t.Error("rejecting changed RGQ")
	}
	if _, err := st.DecideODSReview(ctx, store.ReviewDecision{ID: 999999, Approve: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown item: %v", err)
	}
	log, total, err := st.AccessLog(ctx, store.AccessLogQuery{Actions: []string{store.ActionODSReviewApproved, store.ActionODSReviewRejected}, Limit: 10})
	if err != nil || total != 2 || log[1].Details["ods_code"] != "RGT1W" || log[0].Action != store.ActionODSReviewRejected {
		t.Errorf("access log (%d, %v): %+v", total, err, log)
	}
}
