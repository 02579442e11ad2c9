package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"
	"caregraph/store/dbtest"
)

// fakeODS serves ORD records by code (bodies inline or from sync/ods/testdata) and a
// /sync list of every code it serves.
func fakeODS(t *testing.T, records map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/sync":
			var links []string
			for c := range records {
				links = append(links, `{"OrgLink": "https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/`+c+`"}`)
			}
			_, _ = w.Write([]byte(`{"Organisations": [` + strings.Join(links, ",") + `]}`))
		case r.URL.Path == "/notifications":
			_, _ = w.Write([]byte(`{"DeletedOrganisations": []}`))
		case strings.HasPrefix(r.URL.Path, "/organisations/"):
			body, ok := records[strings.TrimPrefix(r.URL.Path, "/organisations/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			if strings.HasSuffix(body, ".json") {
				b, err := os.ReadFile(filepath.Join("..", "sync", "ods", "testdata", body))
				if err != nil {
					t.Error(err)
				}
				body = string(b)
			}
			_, _ = w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// odsRegister puts trusts RGT and RGQ and site RGT01 (under RGQ) in the database.
func odsRegister(t *testing.T, db *dbtest.DB) *store.Store {
	t.Helper()
	st := store.New(db.Pool)
	ctx := context.Background()
	_, err := st.CreateOrganisations(ctx, []store.NewOrganisation{
		{ODSCode: "RGT", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST"}},
		{ODSCode: "RGQ", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "IPSWICH HOSPITAL NHS TRUST"}},
		{ODSCode: "RGT01", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "ADDENBROOKE'S HOSPITAL", Postcode: "CB2 0QQ"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetParent(ctx, "RGT01", "RGQ", time.Time{}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSyncODSCommand(t *testing.T) {
	db := dbtest.New(t)
	st := odsRegister(t, db)
	site := fakeODS(t, map[string]string{"RGT01": "ord_RGT01.json", "A81001": `{"Organisation": {"Name": "A GP PRACTICE"}}`})
	env := envFunc(map[string]string{"DATABASE_URL": db.URL, "ODS_ORD_BASE_URL": site.URL, "ODS_RATE_LIMIT": "50"})
	ctx := context.Background()
	dir := t.TempDir()
	run1 := func(args ...string) (string, error) {
		var stderr bytes.Buffer
		err := run(ctx, append([]string{"sync", "ods"}, args...), env, nil, io.Discard, &stderr)
		return stderr.String(), err
	}

	report := filepath.Join(dir, "dry.md")
	out, err := run1("--since", "2026-06-01", "--dry-run", "--report", report)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "ods (dry run, nothing written): 1 examined, 1 changed, 0 added, 0 queued for review, 0 unchanged, 0 failed") {
		t.Errorf("dry run output:\n%s", out)
	}
	md, _ := os.ReadFile(report)
	for _, want := range []string{"## RGT01 ADDENBROOKE'S HOSPITAL — changed", "ODS change date: 2026-09-03", "| town |  | CAMBRIDGE |", "- Parent: RGQ → RGT"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if h, _ := st.ODSHeld(ctx); h["RGT01"].Parent != "RGQ" {
		t.Error("the dry run moved RGT01")
	}

	out, err = run1("--since", "2026-06-01")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "ods RGT01: changed") || !strings.Contains(out, "ods: 1 examined, 1 changed") {
		t.Errorf("output:\n%s", out)
	}
	if h, _ := st.ODSHeld(ctx); h["RGT01"].Parent != "RGT" || h["RGT01"].Attrs.Town != "CAMBRIDGE" {
		t.Errorf("RGT01 after the sync: %+v", h["RGT01"])
	}
	runs, err := st.JobRuns(ctx, jobODS, 10)
	if err != nil || len(runs) != 1 || runs[0].Outcome != store.OutcomeSucceeded || runs[0].Counts["changed"] != 1 || runs[0].Counts["requests"] != 3 {
		t.Errorf("job runs (the dry run records none): %v %+v", err, runs)
	}
	if to, ok, _ := st.ODSSyncedTo(ctx, "ord"); !ok || !to.Equal(store.Day(time.Now())) {
		t.Errorf("synced to %v %v", to, ok)
	}

	// A record that fails makes the run fail, naming it; the others still apply.
	bad := fakeODS(t, map[string]string{"RGT01": "ord_RGT01.json", "RGT02": `<html>gateway error</html>`})
	env = envFunc(map[string]string{"DATABASE_URL": db.URL, "ODS_ORD_BASE_URL": bad.URL, "ODS_RATE_LIMIT": "50"})
	out, err = run1("--since", "2026-06-01")
	if err == nil || !strings.Contains(err.Error(), "1 of the ODS records failed") || !strings.Contains(out, "ods RGT02: FAILED") {
		t.Errorf("%v\n%s", err, out)
	}

	if _, err := run1("--since", "yesterday"); !errors.Is(err, errUsage) {
		t.Errorf("bad --since: %v", err)
	}
}

func TestODSConfig(t *testing.T) {
	c, err := loadConfig(envFunc(map[string]string{"ODS_API_KEY": "never-print-me"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ODSSource != "fhir" || c.ODSRateLimit != 5 || c.ScheduleODS != "30 4 * * *" || c.ODSORDBaseURL == "" {
		t.Errorf("config: %+v", c.odsConfig)
	}
	if logged := fmt.Sprintln(c.odsLogAttrs()...); strings.Contains(logged, "never-print-me") || !strings.Contains(logged, "ods_api_key set") {
		t.Errorf("logged: %s", logged)
	}
	if c, _ := loadConfig(envFunc(nil)); c.ODSSource != "ord" {
		t.Errorf("without a key the source is %q", c.ODSSource)
	}
	for k, v := range map[string]string{"ODS_SOURCE": "stu3", "ODS_RATE_LIMIT": "fast", "ODS_FHIR_BASE_URL": "api.service.nhs.uk", "CAREGRAPH_SCHEDULE_ODS": "daily"} {
		if _, err := loadConfig(envFunc(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	if _, err := loadConfig(envFunc(map[string]string{"ODS_SOURCE": "fhir"})); err == nil || !strings.Contains(err.Error(), "ODS_API_KEY") {
		t.Errorf("fhir without a key: %v", err)
	}
}

const newSiteRGT02 = `{"Organisation": {"Name": "ROSIE HOSPITAL", "Date": [{"Type": "Operational", "Start": "2026-10-01"}],
  "OrgId": {"extension": "RGT02"}, "Status": "Active", "LastChangeDate": "2026-10-01", "orgRecordClass": "RC2",
  "Roles": {"Role": {"id": "RO198", "primaryRole": true, "Status": "Active"}},
  "Rels": {"Rel": [
    {"id": "RE6", "Status": "Inactive", "Date": {"Type": "Operational", "Start": "2000-01-01", "End": "2026-09-30"}, "Target": {"OrgId": {"extension": "RGQ"}}},
    {"id": "RE6", "Status": "Active", "Date": {"Type": "Operational", "Start": "2026-10-01"}, "Target": {"OrgId": {"extension": "RGT"}}}]}}}`

func TestMergersCommand(t *testing.T) {
	db := dbtest.NewWithBoundaries(t)
	st := odsRegister(t, db)
	ctx := context.Background()
	if _, err := st.CreateOrganisations(ctx, []store.NewOrganisation{{ODSCode: "RGT1W", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "JERSEY GENERAL HOSPITAL"}}}); err != nil {
		t.Fatal(err)
	}
	for _, pz := range []string{"PZ041", "PZ248"} {
		if _, err := st.UpsertUnit(ctx, pz); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SetSiteUnit(ctx, "RGT1W", "PZ248", time.Time{}); err != nil {
		t.Fatal(err)
	}
	// RGT01 is in the reference lists (a point, unit PZ041, OPEN UK network EPEN via RGT);
	// RGT02 is not, so it has no unit and the question is asked.
	odsSite := fakeODS(t, map[string]string{"RGT01": "ord_RGT01.json", "RGT02": newSiteRGT02, "RGT03": `{"Organisation": {"Name": "A TRUST", "OrgId": {"extension": "RGT03"}, "Status": "Active", "Roles": {"Role": {"id": "RO197", "primaryRole": true}}}}`})
	env := envFunc(map[string]string{"DATABASE_URL": db.URL, "ODS_ORD_BASE_URL": odsSite.URL, "ODS_RATE_LIMIT": "50", "CAREGRAPH_DATA_DIR": dbtest.DataDir()})
	mergers := func(args ...string) (string, error) {
		var stderr bytes.Buffer
		err := run(ctx, append([]string{"mergers"}, args...), env, nil, io.Discard, &stderr)
		return stderr.String(), err
	}

	// The batch is checked whole: one bad code and nothing is written.
	out, err := mergers("--organisations", "RGT02", "RGT03", "NOPE1", "RGT01", "--create")
	if err == nil || !strings.Contains(err.Error(), "RGT03: ODS lists it as RO197") || !strings.Contains(err.Error(), "NOPE1: not found in ODS") ||
		!strings.Contains(err.Error(), "RGT01: already in the register") {
		t.Fatalf("%v\n%s", err, out)
	}
	if h, _ := st.ODSHeld(ctx); len(h) != 4 {
		t.Errorf("a failed batch wrote: %d organisations", len(h))
	}

	// Without a terminal the question is answered no.
	out, err = mergers("--organisations", "RGT02", "--create")
	if err != nil || !strings.Contains(out, "RGT02 ROSIE HOSPITAL: parent RGT (active RE6)") || !strings.Contains(out, "no (no terminal to ask)") || !strings.Contains(out, "0 created, 1 skipped") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = mergers("--organisations", "RGT02", "--create", "--yes")
	if err != nil || !strings.Contains(out, "1 created") {
		t.Fatalf("%v\n%s", err, out)
	}
	h, _ := st.ODSHeld(ctx)
	if h["RGT02"].Parent != "RGT" || h["RGT02"].Attrs.Point != nil || !h["RGT02"].VersionFrom.Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("RGT02 = %+v", h["RGT02"])
	}

	// Deleting: RGT01 is not ours yet, so close RGT02; RGT1W's unit has audit data.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO submissions (unit_id, audit_year, dataset_version, identifier, state, via, file_name,
        file, file_sha256, encoding, columns)
        SELECT id, 2025, 2021, 'nhs_number', 'inactive', 'command_line', 'x.csv', ''::bytea, sha256(''::bytea), 'utf-8', '{}'
        FROM paediatric_diabetes_units WHERE pz_code = 'PZ248'`); err != nil {
		t.Fatal(err)
	}
	out, err = mergers("--organisations", "RGT1W", "--delete", "--yes")
	if err == nil || !strings.Contains(err.Error(), "RGT1W: has audit data (1 submissions") {
		t.Errorf("%v\n%s", err, out)
	}
	if d, _ := st.SiteDependantsOf(ctx, "RGT1W"); !d.Open {
		t.Error("a site with audit data was closed")
	}
	out, err = mergers("--organisations", "RGT02", "--delete", "--dry-run")
	if err != nil || !strings.Contains(out, "parent: RGT") || !strings.Contains(out, "1 would be closed") {
		t.Errorf("%v\n%s", err, out)
	}
	out, err = mergers("--organisations", "RGT02", "--delete", "--yes")
	if err != nil || !strings.Contains(out, "1 closed") {
		t.Fatalf("%v\n%s", err, out)
	}
	if d, err := st.SiteDependantsOf(ctx, "RGT02"); err != nil || d.Open || len(d.Successions) != 1 || !strings.Contains(d.Successions[0], "closure") {
		t.Errorf("RGT02 after --delete: %v %+v", err, d)
	}
	if _, err := mergers("--organisations", "RGT02", "--delete", "--yes"); err == nil || !strings.Contains(err.Error(), "RGT02: already closed") {
		t.Errorf("closing twice: %v", err)
	}
	if _, err := mergers("--organisations", "RGT02"); !errors.Is(err, errUsage) {
		t.Errorf("neither --create nor --delete: %v", err)
	}
}

func TestMergersCreatesFromTheReferenceLists(t *testing.T) {
	db := dbtest.NewWithBoundaries(t)
	st := store.New(db.Pool)
	ctx := context.Background()
	if _, err := st.CreateOrganisations(ctx, []store.NewOrganisation{{ODSCode: "RGT", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "CUH"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertUnit(ctx, "PZ041"); err != nil {
		t.Fatal(err)
	}
	odsSite := fakeODS(t, map[string]string{"RGT01": "ord_RGT01.json"})
	env := envFunc(map[string]string{"DATABASE_URL": db.URL, "ODS_ORD_BASE_URL": odsSite.URL, "ODS_RATE_LIMIT": "50", "CAREGRAPH_DATA_DIR": dbtest.DataDir()})
	var stderr bytes.Buffer
	// No question: the unit (PZ041) and the OPEN UK network (EPEN, through RGT) are known.
	if err := run(ctx, []string{"mergers", "--organisations", "RGT01", "--create"}, env, nil, io.Discard, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "unit PZ041, OPEN UK EPEN") || strings.Contains(stderr.String(), "[y/N]") {
		t.Errorf("output:\n%s", stderr.String())
	}
	o, _, rel, err := st.OrganisationByCode(ctx, "RGT01", time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	// Placed from the reference point: Addenbrooke's lies in Cambridgeshire and
	// Peterborough ICB (E54000056).
	if o.Attrs.Point == nil || !o.Placed || o.Geo.ICB != "E54000056" || rel.UnitID == nil {
		t.Errorf("RGT01 = %+v, relations %+v", o, rel)
	}
}

func TestODSReviewQueueOverGraphQL(t *testing.T) {
	s := newAuthServer(t, nil)
	ctx := context.Background()
	st := store.New(s.db.Pool)
	if _, err := st.CreateOrganisations(ctx, []store.NewOrganisation{{ODSCode: "RW6", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "PENNINE"}},
		{ODSCode: "RM3", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "NCA"}}}); err != nil {
		t.Fatal(err)
	}
	on := time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, it := range []store.ODSReviewItem{
		{ODSCode: "RW6", Kind: store.ReviewSuccession, SuccessorCode: "RM3", EffectiveOn: &on, Detail: "RW6 passes to RM3"},
		{ODSCode: "RM3", Kind: store.ReviewSuccession, SuccessorCode: "RXX", EffectiveOn: &on, Detail: "RM3 passes to RXX"},
	} {
		if _, err := st.QueueODSReview(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	const list = `{ odsReviewItems(first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { id odsCode kind successorCode effectiveOn status } } }`
	_, r := s.post(t, "", list, nil)
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "UNAUTHENTICATED" {
		t.Errorf("anonymous: %v", codes)
	}
	s.account(t, "reader@example.org", auth.Reader, "reader password 1", "PZ001")
	reader := s.login(t, "reader@example.org", "reader password 1", "")
	_, r = s.post(t, reader, list, nil)
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "FORBIDDEN" {
		t.Errorf("reader: %v", codes)
	}
	admin := s.auditTeamToken(t, "audit@example.org")
	var got struct {
		OdsReviewItems struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   string
			}
			Nodes []struct{ ID, OdsCode, Kind, SuccessorCode, EffectiveOn, Status string }
		}
	}
	s.as(t, admin, list, nil, &got)
	if g := got.OdsReviewItems; g.TotalCount != 2 || !g.PageInfo.HasNextPage || len(g.Nodes) != 1 || g.Nodes[0].OdsCode != "RW6" ||
		g.Nodes[0].Kind != "SUCCESSION" || g.Nodes[0].EffectiveOn != "2027-04-01" || g.Nodes[0].Status != "PENDING" {
		t.Fatalf("%+v", g)
	}
	id := got.OdsReviewItems.Nodes[0].ID
	_, r = s.post(t, reader, `mutation($id: ID!) { approveOdsReviewItem(id: $id) { status } }`, map[string]any{"id": id})
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "FORBIDDEN" {
		t.Errorf("reader approving: %v", codes)
	}
	var approved struct {
		ApproveOdsReviewItem struct{ Status, DecidedBy, DecisionNote string }
	}
	s.as(t, admin, `mutation($id: ID!) { approveOdsReviewItem(id: $id, note: "merger confirmed") { status decidedBy decisionNote } }`, map[string]any{"id": id}, &approved)
	if a := approved.ApproveOdsReviewItem; a.Status != "APPROVED" || a.DecidedBy != "audit@example.org" || a.DecisionNote != "merger confirmed" {
		t.Errorf("%+v", a)
	}
	if d, _ := st.SiteDependantsOf(ctx, "RW6"); d.Open || len(d.Successions) != 1 || !strings.Contains(d.Successions[0], "RW6>RM3 (merger, 2027-04-01)") {
		t.Errorf("RW6 after approval: %+v", d)
	}
	_, r = s.post(t, admin, `mutation($id: ID!) { rejectOdsReviewItem(id: $id) { status } }`, map[string]any{"id": id})
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "CONFLICT" || !strings.Contains(r.Errors[0].Message, "already approved") {
		t.Errorf("deciding twice: %v", r.Errors)
	}
	// RM3's successor is not in the register: the approval fails with the reason and the
	// item stays pending.
	var all struct {
		OdsReviewItems struct {
			Nodes []struct{ ID, OdsCode string }
		}
	}
	s.as(t, admin, `{ odsReviewItems { nodes { id odsCode } } }`, nil, &all)
	if len(all.OdsReviewItems.Nodes) != 1 || all.OdsReviewItems.Nodes[0].OdsCode != "RM3" {
		t.Fatalf("pending: %+v", all)
	}
	_, r = s.post(t, admin, `mutation($id: ID!) { approveOdsReviewItem(id: $id) { status } }`, map[string]any{"id": all.OdsReviewItems.Nodes[0].ID})
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "CONFLICT" || !strings.Contains(r.Errors[0].Message, "succession cannot be applied") || !strings.Contains(r.Errors[0].Message, "RXX") {
		t.Errorf("an approval that cannot be applied: %v", r.Errors)
	}
	_, r = s.post(t, admin, `mutation($id: ID!) { approveOdsReviewItem(id: $id) { status } }`, map[string]any{"id": model.EncodeID("OdsReviewItem", "999999")})
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "NOT_FOUND" {
		t.Errorf("unknown item: %v", r.Errors)
	}
	_, r = s.post(t, admin, `mutation { rejectOdsReviewItem(id: "not-an-id") { status } }`, nil)
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "BAD_USER_INPUT" {
		t.Errorf("bad id: %v", r.Errors)
	}
	var logs struct {
		AccessLog struct {
			Nodes []struct{ Action string }
		}
	}
	s.as(t, admin, `{ accessLog(filter: {actions: [ODS_REVIEW_APPROVED]}) { nodes { action } } }`, nil, &logs)
	if len(logs.AccessLog.Nodes) != 1 {
		t.Errorf("access log: %+v", logs)
	}
	var pending struct {
		OdsReviewItems struct{ TotalCount int }
	}
	s.as(t, admin, `{ odsReviewItems { totalCount } }`, nil, &pending)
	if pending.OdsReviewItems.TotalCount != 1 {
		t.Errorf("pending after one decision: %d", pending.OdsReviewItems.TotalCount)
	}
}
