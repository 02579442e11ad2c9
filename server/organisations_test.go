package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"caregraph/refdata"
	"caregraph/store"
	"caregraph/store/dbtest"
)

// orgServer is a test server over a database with the boundaries imported and the
// organisation lists seeded; st writes to the same database.
type orgServer struct {
	*testServer
	st *store.Store
	db *dbtest.DB
}

// seedReference loads the real reference lists into st and returns the report.
func seedReference(t testing.TB, st *store.Store) *refdata.Report {
	t.Helper()
	lists, err := refdata.Load(filepath.Join(dbtest.DataDir(), "reference"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := refdata.Seed(context.Background(), st, lists, refdata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noRateLimit is an empty environment but for the per-address rate limit, switched off:
// these tests and benchmarks send many requests from one address.
func noRateLimit(name string) string {
	if name == "CAREGRAPH_RATE_LIMIT_IP" {
		return "off"
	}
	return ""
}

func newOrgServer(t *testing.T) *orgServer {
	t.Helper()
	counter := &statementCounter{}
	db := dbtest.NewWith(t, dbtest.Options{Boundaries: true, Tracer: counter})
	st := store.New(db.Pool)
	seedReference(t, st)
	cfg, err := loadConfig(noRateLimit)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	a := newApp(cfg, slog.New(slog.NewTextHandler(logs, nil)), db.Pool)
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return &orgServer{testServer: &testServer{Server: srv, counter: counter, logs: logs}, st: st, db: db}
}

type orgRef struct {
	OdsCode string
	Name    string
	Kind    string
	GssCode *string
	Area    *struct{ Code string }
}

type areaRef struct{ Code, Name string }

func TestOrganisationFacts(t *testing.T) {
	s := newOrgServer(t)
	const q = `query($code: String!) { organisation(odsCode: $code) {
		odsCode name kind active placement
		parent { odsCode }
		trust { odsCode name kind }
		localHealthBoard { odsCode gssCode area { code } }
		integratedCareBoard { odsCode gssCode area { code } }
		nhsEnglandRegion { odsCode gssCode area { code } }
		country { code }
		londonBorough { code name }
		paediatricDiabetesUnit { pzCode }
		paediatricDiabetesNetwork { code name }
	} }`
	type result struct {
		Organisation *struct {
			OdsCode, Name, Kind, Placement string
			Active                         bool
			Parent                         *orgRef
			Trust                          *orgRef
			LocalHealthBoard               *orgRef
			IntegratedCareBoard            *orgRef
			NhsEnglandRegion               *orgRef
			Country                        *areaRef
			LondonBorough                  *areaRef
			PaediatricDiabetesUnit         *struct{ PzCode string }
			PaediatricDiabetesNetwork      *struct{ Code, Name string }
		}
	}
	code := func(o *orgRef) string {
		if o == nil {
			return ""
		}
		return o.OdsCode
	}
	area := func(o *orgRef) string {
		if o == nil || o.Area == nil {
			return ""
		}
		return o.Area.Code
	}
	areaCode := func(a *areaRef) string {
		if a == nil {
			return ""
		}
		return a.Code
	}

	t.Run("Addenbrooke's Hospital", func(t *testing.T) {
		var got result
		s.mustQuery(t, q, map[string]any{"code": "rgt01"}, &got)
		o := got.Organisation
		if o == nil {
			t.Fatal("RGT01 not found")
		}
		if o.Name != "ADDENBROOKE'S HOSPITAL" || o.Kind != "SITE" || !o.Active || o.Placement != "POINT" {
			t.Errorf("RGT01 = %s %s active %v placement %s", o.Name, o.Kind, o.Active, o.Placement)
		}
		if code(o.Trust) != "RGT" || !strings.EqualFold(o.Trust.Name, "Cambridge University Hospitals NHS Foundation Trust") {
			t.Errorf("trust = %+v", o.Trust)
		}
		if code(o.IntegratedCareBoard) != "QUE" || area(o.IntegratedCareBoard) != "E54000056" {
			t.Errorf("ICB = %+v", o.IntegratedCareBoard)
		}
		if code(o.NhsEnglandRegion) != "Y61" || area(o.NhsEnglandRegion) != "E40000007" {
			t.Errorf("region = %+v", o.NhsEnglandRegion)
		}
		if o.PaediatricDiabetesUnit == nil || o.PaediatricDiabetesUnit.PzCode != "PZ041" {
			t.Errorf("unit = %+v", o.PaediatricDiabetesUnit)
		}
		if o.PaediatricDiabetesNetwork == nil || o.PaediatricDiabetesNetwork.Code != "PN06" {
			t.Errorf("network = %+v", o.PaediatricDiabetesNetwork)
		}
		if areaCode(o.Country) != "E92000001" || o.LondonBorough != nil || o.LocalHealthBoard != nil {
			t.Errorf("country %+v, borough %+v, board %+v", o.Country, o.LondonBorough, o.LocalHealthBoard)
		}
	})

	t.Run("Noah's Ark Children's Hospital for Wales", func(t *testing.T) {
		var got result
		s.mustQuery(t, q, map[string]any{"code": "7A4H1"}, &got)
		o := got.Organisation
		if o == nil {
			t.Fatal("7A4H1 not found")
		}
		if code(o.Parent) != "7A4" || o.Trust != nil {
			t.Errorf("parent %+v, trust %+v: want health board 7A4 and no trust", o.Parent, o.Trust)
		}
		if code(o.LocalHealthBoard) != "7A4" || area(o.LocalHealthBoard) != "W11000029" {
			t.Errorf("health board = %+v", o.LocalHealthBoard)
		}
		if areaCode(o.Country) != "W92000004" || o.IntegratedCareBoard != nil || o.NhsEnglandRegion != nil {
			t.Errorf("country %+v, ICB %+v, region %+v", o.Country, o.IntegratedCareBoard, o.NhsEnglandRegion)
		}
		if o.PaediatricDiabetesNetwork == nil || o.PaediatricDiabetesNetwork.Code != "PN07" {
			t.Errorf("network = %+v, want PN07 (Wales)", o.PaediatricDiabetesNetwork)
		}
	})

	t.Run("Great Ormond Street Hospital", func(t *testing.T) {
		var got result
		s.mustQuery(t, q, map[string]any{"code": "RP401"}, &got)
		o := got.Organisation
		if o == nil {
			t.Fatal("RP401 not found")
		}
		if areaCode(o.LondonBorough) != "E09000007" || o.LondonBorough.Name != "Camden" {
			t.Errorf("borough = %+v, want Camden", o.LondonBorough)
		}
		if code(o.NhsEnglandRegion) != "Y56" || code(o.IntegratedCareBoard) != "QMJ" {
			t.Errorf("region %s, ICB %s; want Y56 (London), QMJ (North Central London)", code(o.NhsEnglandRegion), code(o.IntegratedCareBoard))
		}
	})

	t.Run("Jersey General Hospital lies outside the UK layers", func(t *testing.T) {
		var got result
		s.mustQuery(t, q, map[string]any{"code": "RGT1W"}, &got)
		o := got.Organisation
		if o == nil {
			t.Fatal("RGT1W not found: a site outside the UK must be kept")
		}
		if o.Placement != "OUTSIDE" || o.Country != nil || o.IntegratedCareBoard != nil || o.NhsEnglandRegion != nil {
			t.Errorf("placement %s, country %+v, ICB %+v, region %+v: want OUTSIDE with no areas (not Cambridge's)",
				o.Placement, o.Country, o.IntegratedCareBoard, o.NhsEnglandRegion)
		}
		if code(o.Trust) != "RGT" {
			t.Errorf("trust = %+v: the listed parent is kept", o.Trust)
		}
	})

	t.Run("an unknown code is null", func(t *testing.T) {
		var got result
		s.mustQuery(t, q, map[string]any{"code": "ZZZ99"}, &got)
		if got.Organisation != nil {
			t.Errorf("got %+v", got.Organisation)
		}
	})
}

// allSitesNested is the list the service we replace needs ~3,000 statements for.
const allSitesNested = `query($first: Int) { organisations(first: $first) {
	totalCount
	nodes {
		odsCode name
		trust { odsCode name }
		integratedCareBoard { odsCode name }
		nhsEnglandRegion { odsCode name }
		paediatricDiabetesUnit { pzCode network { code name } }
		paediatricDiabetesNetwork { code }
	}
} }`

func TestOrganisationListUsesConstantStatements(t *testing.T) {
	s := newOrgServer(t)
	type node struct {
		OdsCode                   string
		Trust                     *orgRef
		IntegratedCareBoard       *orgRef
		NhsEnglandRegion          *orgRef
		PaediatricDiabetesUnit    *struct{ PzCode string }
		PaediatricDiabetesNetwork *struct{ Code string }
	}
	// With nothing cached yet, the list works its rows' relations out itself.
	before := s.counter.n.Load()
	s.mustQuery(t, allSitesNested, map[string]any{"first": 1000}, &struct{}{})
	cold := s.counter.n.Load() - before
	if cold > 8 {
		t.Errorf("the first list ran %d statements, want at most 8", cold)
	}
	var counts []int64
	for _, first := range []int{5, 50, 1000} {
		var got struct {
			Organisations struct {
				TotalCount int
				Nodes      []node
			}
		}
		// Each size is counted with what the server kept out of date: a change to the
		// register (here only its version) leaves the cache of related objects to be
		// emptied by the next request, which then reads everything again — the most
		// statements a list can take.
		if _, err := s.db.Pool.Exec(context.Background(), `UPDATE register_version SET version = version + 1`); err != nil {
			t.Fatal(err)
		}
		before := s.counter.n.Load()
		s.mustQuery(t, allSitesNested, map[string]any{"first": first}, &got)
		n := s.counter.n.Load() - before
		counts = append(counts, n)
		if got.Organisations.TotalCount != 339 || len(got.Organisations.Nodes) != min(first, 339) {
			t.Fatalf("first %d: totalCount %d, %d nodes", first, got.Organisations.TotalCount, len(got.Organisations.Nodes))
		}
		if n > 8 {
			t.Errorf("first %d: %d SQL statements, want at most 8", first, n)
		}
		if first == 1000 {
			var withTrust, withICB, withUnit int
			for _, o := range got.Organisations.Nodes {
				if o.Trust != nil {
					withTrust++
				}
				if o.IntegratedCareBoard != nil {
					withICB++
				}
				if o.PaediatricDiabetesUnit != nil {
					withUnit++
				}
				if o.OdsCode == "RGT01" && (o.IntegratedCareBoard == nil || o.IntegratedCareBoard.OdsCode != "QUE") {
					t.Errorf("RGT01 in the list: ICB %+v", o.IntegratedCareBoard)
				}
			}
			// 33 sites are run by Welsh boards, one is the RCPCH; 29 sites lie in Wales,
			// Jersey or have no English ICB; about half the sites have a unit.
			if withTrust < 290 || withICB < 300 || withUnit < 150 {
				t.Errorf("nested relations missing: %d with a trust, %d with an ICB, %d with a unit", withTrust, withICB, withUnit)
			}
		}
	}
	if counts[0] != counts[2] {
		t.Errorf("statements grew with the list: %v for 5, 50, 1000 rows", counts)
	}
	// Asked again, the list finds the relations, trusts, ICBs, regions, units and
	// networks kept from the last time and runs only its own statement (with its plan
	// setting).
	before = s.counter.n.Load()
	s.mustQuery(t, allSitesNested, map[string]any{"first": 1000}, &struct{}{})
	warm := s.counter.n.Load() - before
	if warm > 2 {
		t.Errorf("the list asked again ran %d statements, want 2", warm)
	}
	t.Logf("statements for the first list: %d; for 5, 50, 1000 rows after a change: %v; asked again: %d", cold, counts, warm)
}

type listResult struct {
	Organisations struct {
		TotalCount int
		Edges      []struct {
			Cursor     string
			Score      *float64
			DistanceKm *float64
			Node       struct{ OdsCode, Name string }
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
	}
}

func (r listResult) codes() []string {
	var out []string
	for _, e := range r.Organisations.Edges {
		out = append(out, e.Node.OdsCode)
	}
	return out
}

const listQuery = `query($f: OrganisationFilter, $first: Int, $after: String, $asOf: Date) {
	organisations(filter: $f, first: $first, after: $after, asOf: $asOf) {
		totalCount
		edges { cursor score distanceKm node { odsCode name } }
		pageInfo { hasNextPage endCursor }
	}
}`

func TestOrganisationFilters(t *testing.T) {
	s := newOrgServer(t)
	list := func(t *testing.T, f map[string]any) listResult {
		t.Helper()
		var got listResult
		s.mustQuery(t, listQuery, map[string]any{"f": f, "first": 1000}, &got)
		return got
	}
	t.Run("search ignores case and punctuation and ranks", func(t *testing.T) {
		for _, q := range []string{"addenbrookes", "ADDENBROOKE'S", "Addenbrooke’s hospital", "adenbrookes"} {
			got := list(t, map[string]any{"search": q})
			if codes := got.codes(); len(codes) == 0 || codes[0] != "RGT01" {
				t.Errorf("search %q: %v, want RGT01 first", q, codes)
			}
		}
		got := list(t, map[string]any{"search": "great ormond street"})
		if codes := got.codes(); len(codes) == 0 || codes[0] != "RP401" {
			t.Errorf("great ormond street: %v", codes)
		}
		for i := 1; i < len(got.Organisations.Edges); i++ {
			if *got.Organisations.Edges[i].Score > *got.Organisations.Edges[i-1].Score {
				t.Fatalf("not ranked: %v", got.Organisations.Edges)
			}
		}
		if got := list(t, map[string]any{"search": "RGT01"}); got.codes()[0] != "RGT01" || *got.Organisations.Edges[0].Score != 2 {
			t.Errorf("an exact code ranks first with score 2: %+v", got.Organisations.Edges[0])
		}
		if got := list(t, map[string]any{"search": "xqzvw"}); got.Organisations.TotalCount != 0 {
			t.Errorf("nonsense matched %v", got.codes())
		}
	})
	t.Run("hierarchy filters", func(t *testing.T) {
		tests := []struct {
			name   string
			filter map[string]any
			want   int
			has    string
		}{
			{"trust", map[string]any{"trust": "RGT"}, 2, "RGT1W"},
			{"ICB by ODS code", map[string]any{"integratedCareBoard": "QUE"}, 5, "RGT01"},
			{"ICB by GSS code", map[string]any{"integratedCareBoard": "E54000056"}, 5, "RGN80"},
			{"health board", map[string]any{"localHealthBoard": "W11000029"}, 3, "7A4H1"},
			{"London borough", map[string]any{"londonBorough": "E09000007"}, 5, "RP401"},
			{"unit", map[string]any{"paediatricDiabetesUnit": "PZ041"}, 1, "RGT01"},
			{"trust-led unit covers the trust's sites", map[string]any{"paediatricDiabetesUnit": "PZ024"}, 5, "RVV01"},
			{"OPEN UK network", map[string]any{"openUkNetwork": "EPEN", "trust": "RGT"}, 2, "RGT01"},
			{"country by name", map[string]any{"country": "wales", "kinds": []string{"SITE"}}, -1, "7A4H1"},
			{"kinds", map[string]any{"kinds": []string{"INTEGRATED_CARE_BOARD"}}, 42, "QUE"},
			{"kinds", map[string]any{"kinds": []string{"NHS_TRUST", "LOCAL_HEALTH_BOARD"}}, 248, "7A7"},
			{"inactive", map[string]any{"active": false}, 0, ""},
		}
		for _, tt := range tests {
			got := list(t, tt.filter)
			if tt.want >= 0 && got.Organisations.TotalCount != tt.want {
				t.Errorf("%s: %d organisations %v, want %d", tt.name, got.Organisations.TotalCount, got.codes(), tt.want)
			}
			if tt.has != "" && !slices.Contains(got.codes(), tt.has) {
				t.Errorf("%s: %v lacks %s", tt.name, got.codes(), tt.has)
			}
		}
		wales := list(t, map[string]any{"country": "W92000004"})
		england := list(t, map[string]any{"country": "E92000001"})
		all := list(t, nil)
		// Everything but Jersey lies in England or Wales.
		if wales.Organisations.TotalCount+england.Organisations.TotalCount != all.Organisations.TotalCount-1 {
			t.Errorf("Wales %d + England %d != all %d - Jersey", wales.Organisations.TotalCount, england.Organisations.TotalCount, all.Organisations.TotalCount)
		}
	})
	t.Run("near", func(t *testing.T) {
		got := list(t, map[string]any{"near": map[string]any{"lat": 52.2053, "lon": 0.1218, "radiusKm": 10}})
		codes := got.codes()
		if !slices.Contains(codes, "RGT01") || slices.Contains(codes, "RP401") {
			t.Errorf("within 10 km of Cambridge: %v", codes)
		}
		for i, e := range got.Organisations.Edges {
			if e.DistanceKm == nil || *e.DistanceKm > 10 || i > 0 && *e.DistanceKm < *got.Organisations.Edges[i-1].DistanceKm {
				t.Fatalf("distances not within 10 km, nearest first: %+v", got.Organisations.Edges)
			}
		}
		// Addenbrooke's is 3.6 km from the centre of Cambridge.
		for _, e := range got.Organisations.Edges {
			if e.Node.OdsCode == "RGT01" && (*e.DistanceKm < 3 || *e.DistanceKm > 4) {
				t.Errorf("RGT01 at %.3f km", *e.DistanceKm)
			}
		}
	})
}

func TestOrganisationPaging(t *testing.T) {
	s := newOrgServer(t)
	walk := func(f map[string]any, size int) ([]string, int) {
		var seen []string
		var after any
		total := 0
		for page := 0; page < 100; page++ {
			var got listResult
			s.mustQuery(t, listQuery, map[string]any{"f": f, "first": size, "after": after}, &got)
			total = got.Organisations.TotalCount
			seen = append(seen, got.codes()...)
			if !got.Organisations.PageInfo.HasNextPage {
				return seen, total
			}
			after = *got.Organisations.PageInfo.EndCursor
		}
		t.Fatal("too many pages")
		return nil, 0
	}
	codes, total := walk(nil, 40)
	if len(codes) != 339 || total != 339 {
		t.Fatalf("paged %d of %d sites", len(codes), total)
	}
	for i := 1; i < len(codes); i++ {
		if codes[i] <= codes[i-1] {
			t.Fatalf("out of order at %d: %s after %s", i, codes[i], codes[i-1])
		}
	}
	// A ranked list pages by position and still yields each match once.
	ranked, total := walk(map[string]any{"search": "hospital"}, 7)
	if len(ranked) != total || total < 20 {
		t.Fatalf("ranked paging: %d of %d", len(ranked), total)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ranked)))) != len(ranked) {
		t.Errorf("ranked paging repeated a row: %v", ranked)
	}
}

func TestOrganisationBadInput(t *testing.T) {
	s := newOrgServer(t)
	for _, q := range []string{
		`{ organisation(odsCode: "RGT01", asOf: "2024-13-01") { name } }`,
		`{ organisation(odsCode: "RGT01", asOf: "yesterday") { name } }`,
		`{ organisation(odsCode: " ") { name } }`,
		`{ organisations(first: 1001) { totalCount } }`,
		`{ organisations(first: -1) { totalCount } }`,
		`{ organisations(after: "nonsense") { totalCount } }`,
		`{ organisations(filter: {near: {lat: 52, lon: 0, radiusKm: 0}}) { totalCount } }`,
		`{ organisations(filter: {near: {lat: 52, lon: 0, radiusKm: -5}}) { totalCount } }`,
		`{ organisations(filter: {near: {lat: 95, lon: 0, radiusKm: 5}}) { totalCount } }`,
		`{ nearestOrganisations(lat: 52, lon: 200) { distanceKm } }`,
		`{ nearestOrganisations(lat: 52, lon: 0, first: 0) { distanceKm } }`,
		`{ paediatricDiabetesUnits(first: 5000) { totalCount } }`,
	} {
		r := s.query(t, q, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Errorf("%s: errors = %+v, want one BAD_USER_INPUT", q, r.Errors)
		}
	}
	// A ranked list's cursor does not fit an unranked one.
	var got listResult
	s.mustQuery(t, listQuery, map[string]any{"f": map[string]any{"search": "hospital"}, "first": 2}, &got)
	r := s.query(t, listQuery, map[string]any{"first": 2, "after": *got.Organisations.PageInfo.EndCursor})
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("cursor from another order: %+v", r.Errors)
	}
}

func TestOrganisationHistoryAndSuccessions(t *testing.T) {
	s := newOrgServer(t)
	ctx := context.Background()
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if _, err := s.st.SetName(ctx, "RGT01", "ADDENBROOKE'S HOSPITAL, CAMBRIDGE BIOMEDICAL CAMPUS", day("2025-01-01")); err != nil {
		t.Fatal(err)
	}
	// A new trust from April 2025 takes over RGT; later it changes its code.
	if _, err := s.st.CreateOrganisation(ctx, store.NewOrganisation{ODSCode: "R9X", Kind: store.KindTrust,
		Attrs: store.OrgAttrs{Name: "EAST ANGLIA UNIVERSITY HOSPITALS NHS TRUST"}, From: day("2025-04-01")}); err != nil {
		t.Fatal(err)
	}
	if err := s.st.RecordSuccession(ctx, store.NewSuccession{PredecessorCode: "RGT", SuccessorCode: "R9X",
		Kind: store.SuccessionMerger, EffectiveOn: day("2025-04-01")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.CreateOrganisation(ctx, store.NewOrganisation{ODSCode: "R9Y", Kind: store.KindTrust,
		Attrs: store.OrgAttrs{Name: "EAST ANGLIA UNIVERSITY HOSPITALS NHS FOUNDATION TRUST"}, From: day("2025-09-01")}); err != nil {
		t.Fatal(err)
	}
	if err := s.st.RecordSuccession(ctx, store.NewSuccession{PredecessorCode: "R9X", SuccessorCode: "R9Y",
		Kind: store.SuccessionCodeChange, EffectiveOn: day("2025-09-01")}); err != nil {
		t.Fatal(err)
	}

	const q = `query($code: String!, $asOf: Date) { organisation(odsCode: $code, asOf: $asOf) {
		odsCode name active asOf validFrom validTo
		trust { odsCode name }
		history { name validFrom validTo }
		successionPath { kind effectiveOn predecessor { odsCode } successor { odsCode } }
	} }`
	type result struct {
		Organisation *struct {
			OdsCode, Name, AsOf string
			Active              bool
			ValidFrom, ValidTo  *string
			Trust               *orgRef
			History             []struct {
				Name               string
				ValidFrom, ValidTo *string
			}
			SuccessionPath []struct {
				Kind, EffectiveOn string
				Predecessor       orgRef
				Successor         *orgRef
			}
		}
	}
	ask := func(code, asOf string) result {
		t.Helper()
		var got result
		s.mustQuery(t, q, map[string]any{"code": code, "asOf": asOf}, &got)
		if got.Organisation == nil {
			t.Fatalf("%s on %s: null", code, asOf)
		}
		return got
	}

	old := ask("RGT01", "2024-06-30").Organisation
	if old.Name != "ADDENBROOKE'S HOSPITAL" || old.ValidTo == nil || *old.ValidTo != "2025-01-01" || old.Trust.OdsCode != "RGT" {
		t.Errorf("RGT01 in 2024: %+v", old)
	}
	renamed := ask("RGT01", "2025-02-01").Organisation
	if renamed.Name != "ADDENBROOKE'S HOSPITAL, CAMBRIDGE BIOMEDICAL CAMPUS" || renamed.Trust.OdsCode != "RGT" {
		t.Errorf("RGT01 in February 2025: %s under %+v", renamed.Name, renamed.Trust)
	}
	if len(renamed.History) != 2 || renamed.History[0].ValidFrom != nil || *renamed.History[0].ValidTo != "2025-01-01" ||
		*renamed.History[1].ValidFrom != "2025-01-01" || renamed.History[1].ValidTo != nil {
		t.Errorf("history = %+v", renamed.History)
	}
	if merged := ask("RGT01", "2025-05-01").Organisation; merged.Trust == nil || merged.Trust.OdsCode != "R9X" {
		t.Errorf("RGT01 after the merger: trust %+v, want RXX", merged.Trust)
	}

	// The merged-away code answers as it was before the merger ...
	before := ask("RGT", "2025-03-31").Organisation
	if before.OdsCode != "RGT" || !before.Active || len(before.SuccessionPath) != 0 {
		t.Errorf("RGT before the merger: %+v", before)
	}
	// ... and resolves to its successor after it, with the path shown.
	after := ask("RGT", "2025-05-01").Organisation
	if after.OdsCode != "R9X" || len(after.SuccessionPath) != 1 || after.SuccessionPath[0].Kind != "MERGER" ||
		after.SuccessionPath[0].Predecessor.OdsCode != "RGT" || after.SuccessionPath[0].EffectiveOn != "2025-04-01" {
		t.Errorf("RGT after the merger: %+v", after)
	}
	chain := ask("rgt", "2025-10-01").Organisation
	if chain.OdsCode != "R9Y" || len(chain.SuccessionPath) != 2 || chain.SuccessionPath[1].Kind != "CODE_CHANGE" ||
		chain.SuccessionPath[1].Successor.OdsCode != "R9Y" {
		t.Errorf("RGT after the code change: %+v", chain)
	}
	if early := s.query(t, q, map[string]any{"code": "R9Y", "asOf": "2025-01-01"}); string(early.Data) != `{"organisation":null}` {
		t.Errorf("RYY before it existed: %s", early.Data)
	}
	// Trusts list the merged trust only while it existed.
	var trusts struct {
		Trusts struct{ TotalCount int }
	}
	s.mustQuery(t, `query($asOf: Date) { trusts(search: "cambridge university hospitals", asOf: $asOf) { totalCount } }`, map[string]any{"asOf": "2025-03-01"}, &trusts)
	if trusts.Trusts.TotalCount == 0 {
		t.Error("RGT missing from the trusts of March 2025")
	}
	var inactive listResult
	s.mustQuery(t, listQuery, map[string]any{"f": map[string]any{"active": false, "kinds": []string{"NHS_TRUST"}}, "asOf": "2025-10-01", "first": 10}, &inactive)
	if codes := inactive.codes(); !slices.Equal(codes, []string{"R9X", "RGT"}) {
		t.Errorf("closed trusts in October 2025: %v", codes)
	}
}

func TestNearestAndAreaOrganisations(t *testing.T) {
	s := newOrgServer(t)
	var near struct {
		NearestOrganisations []struct {
			DistanceKm   float64
			Organisation struct{ OdsCode string }
		}
	}
	s.mustQuery(t, `{ nearestOrganisations(lat: 52.1751, lon: 0.1408, first: 5) { distanceKm organisation { odsCode } } }`, nil, &near)
	if len(near.NearestOrganisations) != 5 || near.NearestOrganisations[0].Organisation.OdsCode != "RGT01" || near.NearestOrganisations[0].DistanceKm > 0.1 {
		t.Fatalf("nearest to Addenbrooke's: %+v", near.NearestOrganisations)
	}
	for i := 1; i < len(near.NearestOrganisations); i++ {
		if near.NearestOrganisations[i].DistanceKm < near.NearestOrganisations[i-1].DistanceKm {
			t.Errorf("not nearest first: %+v", near.NearestOrganisations)
		}
	}

	var icb struct {
		Area struct {
			Organisations struct {
				TotalCount int
				Nodes      []struct{ OdsCode string }
			}
		}
		Organisation struct {
			Sites []struct{ OdsCode string }
		}
	}
	s.mustQuery(t, `{ area(kind: INTEGRATED_CARE_BOARD, code: "E54000056") { organisations(first: 100) { totalCount nodes { odsCode } } }
		organisation(odsCode: "QUE") { sites { odsCode } } }`, nil, &icb)
	var fromArea, fromICB []string
	for _, n := range icb.Area.Organisations.Nodes {
		fromArea = append(fromArea, n.OdsCode)
	}
	for _, n := range icb.Organisation.Sites {
		fromICB = append(fromICB, n.OdsCode)
	}
	want := []string{"RGN80", "RGN90", "RGT01", "RYV42", "RYVF7"}
	if !slices.Equal(fromArea, want) || !slices.Equal(fromICB, want) || icb.Area.Organisations.TotalCount != 5 {
		t.Errorf("sites in Cambridgeshire and Peterborough: area %v, ICB %v; want %v", fromArea, fromICB, want)
	}

	var camden struct {
		Area struct {
			Organisations struct{ Nodes []struct{ OdsCode string } }
		}
	}
	s.mustQuery(t, `{ area(kind: LONDON_BOROUGH, code: "E09000007") { organisations { nodes { odsCode } } } }`, nil, &camden)
	if n := len(camden.Area.Organisations.Nodes); n != 5 {
		t.Errorf("Camden: %d sites", n)
	}
}

func TestUnitsNetworksAndTrusts(t *testing.T) {
	s := newOrgServer(t)
	var got struct {
		PaediatricDiabetesUnit struct {
			PzCode, Name     string
			LeadOrganisation struct{ OdsCode string }
			Parent           struct{ OdsCode string }
			Sites            []struct{ OdsCode string }
			Network          struct{ Code string }
		}
		Pz024 struct {
			LeadOrganisation struct{ OdsCode, Kind string }
			Sites            []struct{ OdsCode string }
		}
		Pz010 struct {
			LeadOrganisation struct{ OdsCode string }
		}
		PaediatricDiabetesUnits    struct{ TotalCount int }
		PaediatricDiabetesNetworks struct {
			TotalCount int
			Nodes      []struct {
				Code  string
				Units []struct{ PzCode string }
			}
		}
		OpenUkNetworks struct{ TotalCount int }
		Trust          struct {
			Sites          []struct{ OdsCode string }
			OpenUkNetworks []struct{ Code string }
			LeadsUnits     []struct{ PzCode string }
		}
		Rn3 struct {
			OpenUkNetwork  *struct{ Code string }
			OpenUkNetworks []struct{ Code string }
		}
		NotATrust *struct{ OdsCode string }
	}
	s.mustQuery(t, `{
		paediatricDiabetesUnit(pzCode: "pz041") { pzCode name leadOrganisation { odsCode } parent { odsCode } sites { odsCode } network { code } }
		pz024: paediatricDiabetesUnit(pzCode: "PZ024") { leadOrganisation { odsCode kind } sites { odsCode } }
		pz010: paediatricDiabetesUnit(pzCode: "PZ010") { leadOrganisation { odsCode } }
		paediatricDiabetesUnits(first: 1) { totalCount }
		paediatricDiabetesNetworks(first: 100) { totalCount nodes { code units { pzCode } } }
		openUkNetworks { totalCount }
		trust(odsCode: "RGT") { sites { odsCode } openUkNetworks { code } leadsUnits { pzCode } }
		rn3: organisation(odsCode: "RN3") { openUkNetwork { code } openUkNetworks { code } }
		notATrust: trust(odsCode: "RGT01") { odsCode }
	}`, nil, &got)
	u := got.PaediatricDiabetesUnit
	if u.PzCode != "PZ041" || u.Name != "ADDENBROOKE'S HOSPITAL" || u.LeadOrganisation.OdsCode != "RGT01" || u.Parent.OdsCode != "RGT" ||
		len(u.Sites) != 1 || u.Network.Code != "PN06" {
		t.Errorf("PZ041 = %+v", u)
	}
	if got.Pz024.LeadOrganisation.Kind != "NHS_TRUST" || len(got.Pz024.Sites) != 5 {
		t.Errorf("PZ024 (trust-led) = %+v", got.Pz024)
	}
	if got.Pz010.LeadOrganisation.OdsCode != "RC971" {
		t.Errorf("duplicate PZ010 keeps its first lead: %+v", got.Pz010)
	}
	if got.PaediatricDiabetesUnits.TotalCount != 173 || got.PaediatricDiabetesNetworks.TotalCount != 12 || got.OpenUkNetworks.TotalCount != 15 {
		t.Errorf("units %d, networks %d, OPEN UK %d", got.PaediatricDiabetesUnits.TotalCount, got.PaediatricDiabetesNetworks.TotalCount, got.OpenUkNetworks.TotalCount)
	}
	for _, n := range got.PaediatricDiabetesNetworks.Nodes {
		if n.Code == "PN06" && len(n.Units) != 17 {
			t.Errorf("PN06 has %d units, want 17 (18 rows, PZ010 twice)", len(n.Units))
		}
	}
	if len(got.Trust.Sites) != 2 || len(got.Trust.OpenUkNetworks) != 1 || got.Trust.OpenUkNetworks[0].Code != "EPEN" {
		t.Errorf("RGT = %+v", got.Trust)
	}
	if got.Rn3.OpenUkNetwork != nil || len(got.Rn3.OpenUkNetworks) != 2 {
		t.Errorf("RN3 in two networks: %+v", got.Rn3)
	}
	if got.NotATrust != nil {
		t.Errorf("trust(RGT01) = %+v, want null for a site", got.NotATrust)
	}

	// Global ids round-trip through node().
	var ids struct {
		Organisation           struct{ ID string }
		PaediatricDiabetesUnit struct{ ID string }
	}
	s.mustQuery(t, `{ organisation(odsCode: "RGT01") { id } paediatricDiabetesUnit(pzCode: "PZ041") { id } }`, nil, &ids)
	var nodes struct {
		A struct{ OdsCode string }
		B struct{ PzCode string }
	}
	s.mustQuery(t, `query($a: ID!, $b: ID!) { a: node(id: $a) { ... on Organisation { odsCode } } b: node(id: $b) { ... on PaediatricDiabetesUnit { pzCode } } }`,
		map[string]any{"a": ids.Organisation.ID, "b": ids.PaediatricDiabetesUnit.ID}, &nodes)
	if nodes.A.OdsCode != "RGT01" || nodes.B.PzCode != "PZ041" {
		t.Errorf("node() = %+v", nodes)
	}
}

func TestSeedCommand(t *testing.T) {
	db := dbtest.NewWithBoundaries(t)
	env := envFunc(map[string]string{"DATABASE_URL": db.URL, "CAREGRAPH_DATA_DIR": dbtest.DataDir(), "CAREGRAPH_LOG_LEVEL": "error"})
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"seed", "--report"}, env, strings.NewReader(""), &out, &errs); err != nil {
		t.Fatalf("seed: %v\n%s", err, errs.String())
	}
	for _, want := range []string{
		"Register: 7 NHS England regions, 42 integrated care boards, 7 local health boards, 241 NHS trusts, 338 sites, 1 other organisations, 173 paediatric diabetes units",
		"PZ010: duplicate PZ code",
		"7A7: POWYS TEACHING LOCAL HEALTH BOARD is a local health board",
		"8HV48: ROYAL COLLEGE OF PAEDIATRICS AND CHILD HEALTH has no parent",
		"RGT1W: point (49.18773, -2.11216) lies outside every UK country boundary (Jersey",
		"RN7QM", // placed in south-east London, looked up in Kent
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("seed output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errs.String(), "seed: sites") {
		t.Errorf("no progress on stderr: %s", errs.String())
	}
	var again bytes.Buffer
	if err := run(context.Background(), []string{"seed"}, env, strings.NewReader(""), &again, &errs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(again.String(), "Nothing changed") {
		t.Errorf("second seed: %s", again.String())
	}
	if err := run(context.Background(), []string{"seed", "--effective", "tomorrow"}, env, strings.NewReader(""), &again, &errs); err == nil {
		t.Error("a bad --effective date was accepted")
	}
}

// TestOrganisationDocExamplesRun runs every GraphQL example of the organisation docs
// against the seeded register: each must answer without errors.
func TestOrganisationDocExamplesRun(t *testing.T) {
	s := newOrgServer(t)
	block := regexp.MustCompile("(?s)```graphql\n(.*?)```")
	for _, doc := range []string{"organisations.md", "api-parity.md"} {
		src, err := os.ReadFile(filepath.Join("..", "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		examples := block.FindAllStringSubmatch(string(src), -1)
		if len(examples) < 4 {
			t.Fatalf("%s: only %d examples found", doc, len(examples))
		}
		for _, ex := range examples {
			r := s.query(t, ex[1], nil)
			if len(r.Errors) > 0 {
				t.Errorf("%s example failed: %+v\n%s", doc, r.Errors, ex[1])
			}
		}
	}
}
