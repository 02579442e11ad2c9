package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/sync/aggregate"
)

// newKPIServer is an authServer over a database with the boundaries imported and the
// organisation register seeded, so that units map to real trusts, ICBs and regions.
func newKPIServer(t *testing.T) *authServer {
	t.Helper()
	counter := &statementCounter{}
	db := dbtest.NewWith(t, dbtest.Options{Boundaries: true, Tracer: counter})
	seedReference(t, store.New(db.Pool))
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.RateLimitIP, cfg.RateLimitToken = rateLimit{}, rateLimit{}
	logs := &syncBuffer{}
	a := newApp(cfg, slog.New(slog.NewTextHandler(logs, nil)), db.Pool)
	t.Cleanup(a.aggregator.Wait)
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return &authServer{testServer: &testServer{Server: srv, counter: counter}, app: a, db: db, logs: logs, units: map[string]int64{}}
}

// twoUnits picks two units of the register in different trusts and ICBs.
func twoUnits(t *testing.T, st *store.Store) (store.UnitPlaces, store.UnitPlaces) {
	t.Helper()
	units, err := st.KPIPlaces(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var picked []store.UnitPlaces
	for _, u := range units {
		icb, ok := u.Place(store.LevelICB)
		_, hasTrust := u.Place(store.LevelTrust)
		if !ok || !hasTrust {
			continue
		}
		if len(picked) == 1 {
			if first, _ := picked[0].Place(store.LevelICB); first.Code == icb.Code {
				continue
			}
		}
		picked = append(picked, u)
		if len(picked) == 2 {
			return picked[0], picked[1]
		}
	}
	t.Fatal("the register has no two units in different ICBs")
	return store.UnitPlaces{}, store.UnitPlaces{}
}

type kpiRow struct {
	Level, Code, Name string
	AreaCode          *string
	Kpi               struct{ ID, Kind string }
	Period            struct {
		AuditYear int
		Quarter   *int
	}
	Eligible, Ineligible, Passed, Failed *int
	Percentage, Value                    *float64
	Suppressed                           bool
}

const kpiAggregationsQuery = `query($level: PlaceLevel!, $code: String, $year: Int!, $quarter: Int, $kpis: [String!]) {
  kpiAggregations(level: $level, code: $code, auditYear: $year, quarter: $quarter, kpis: $kpis) {
    level code name areaCode kpi { id kind } period { auditYear quarter }
    eligible ineligible passed failed percentage value suppressed
  }
}`

func TestKPIsOverGraphQL(t *testing.T) {
	s := newKPIServer(t)
	ctx := context.Background()
	st := s.app.store
	u1, u2 := twoUnits(t, st)
	year := openYear()

	// Activation recomputes each unit in the background, recorded as its own run.
	s.submitAsOperator(t, u1.PZCode, year, demoCSV(t, u1.PZCode, year, 25, 1))
	s.submitAsOperator(t, u2.PZCode, year, demoCSV(t, u2.PZCode, year, 25, 2))
	s.app.aggregator.Wait()
	var runs int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM job_runs WHERE job = $1 AND trigger = 'activation' AND outcome = 'succeeded'`,
		aggregate.UnitJob).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Fatalf("%d successful activation runs, want 2", runs)
	}
	team := s.auditTeamToken(t, "team@rcpch.example")
	var exact struct{ KpiAggregations []kpiRow }
	s.as(t, team, kpiAggregationsQuery, map[string]any{"level": "NATIONAL", "year": year, "kpis": []string{"1"}}, &exact)
	if len(exact.KpiAggregations) != 1 || *exact.KpiAggregations[0].Passed != 50 {
		t.Fatalf("national KPI 1 after two activations = %+v, want the two units' 50 patients", exact.KpiAggregations)
	}

	// A year with figures made to need suppression: u1's unit and ICB rows of KPI 25
	// have 1 passed of 10 eligible; the national row has 30 of 40.
	icb1, _ := u1.Place(store.LevelICB)
	unitPlace, _ := u1.Place(store.LevelUnit)
	national, _ := u1.Place(store.LevelNational)
	row := func(p store.Place, unitID int64, eligible, passed int) store.KPIAggregate {
		pct := 100 * float64(passed) / float64(eligible)
		return store.KPIAggregate{AuditYear: 2023, Level: p.Level, Code: p.Code, Name: p.Name, AreaCode: p.AreaCode, UnitID: unitID,
			KPI: "25", Order: 24, Kind: 1, Eligible: eligible, Ineligible: 0, Passed: passed, Failed: eligible - passed, Percentage: &pct}
	}
	if err := st.InTx(ctx, func(tx *store.Store) error {
		return tx.ReplaceKPIAggregates(ctx, 2023, nil, []store.KPIAggregate{
			row(unitPlace, u1.UnitID, 10, 1), row(icb1, 0, 10, 1), row(national, 0, 40, 30)})
	}); err != nil {
		t.Fatal(err)
	}
	s.account(t, "member1@a.example", auth.Reader, "member one password", u1.PZCode)
	member1 := s.login(t, "member1@a.example", "member one password", "")
	s.account(t, "member2@b.example", auth.Coordinator, "member two password", u2.PZCode)
	member2 := s.login(t, "member2@b.example", "member two password", "")

	withheld := kpiRow{Eligible: ptrTo(10), Ineligible: ptrTo(0), Suppressed: true}
	shown := kpiRow{Eligible: ptrTo(10), Ineligible: ptrTo(0), Passed: ptrTo(1), Failed: ptrTo(9), Percentage: ptrTo(10.0)}
	cases := []struct {
		who, token string
		level      string
		code       string
		want       kpiRow
	}{
		{"anonymous, unit", "", "UNIT", u1.PZCode, withheld},
		{"another unit's coordinator, unit", member2, "UNIT", u1.PZCode, withheld},
		{"the unit's reader, own unit", member1, "UNIT", u1.PZCode, shown},
		{"the unit's reader, its ICB", member1, "INTEGRATED_CARE_BOARD", icb1.Code, withheld},
		{"the unit's reader, its ICB by GSS code", member1, "INTEGRATED_CARE_BOARD", icb1.AreaCode, withheld},
		{"audit team, unit", team, "UNIT", u1.PZCode, shown},
		{"audit team, ICB", team, "INTEGRATED_CARE_BOARD", strings.ToLower(icb1.Code), shown},
	}
	for _, c := range cases {
		t.Run(c.who, func(t *testing.T) {
			var got struct{ KpiAggregations []kpiRow }
			s.as(t, c.token, kpiAggregationsQuery, map[string]any{"level": c.level, "code": c.code, "year": 2023, "kpis": []string{"25"}}, &got)
			if len(got.KpiAggregations) != 1 {
				t.Fatalf("%d rows", len(got.KpiAggregations))
			}
			r := got.KpiAggregations[0]
			if !sameInt(r.Eligible, c.want.Eligible) || !sameInt(r.Ineligible, c.want.Ineligible) || !sameInt(r.Passed, c.want.Passed) ||
				!sameInt(r.Failed, c.want.Failed) || (r.Percentage == nil) != (c.want.Percentage == nil) || r.Suppressed != c.want.Suppressed {
				t.Errorf("got eligible %v ineligible %v passed %v failed %v percentage %v suppressed %v; want %+v",
					deref(r.Eligible), deref(r.Ineligible), deref(r.Passed), deref(r.Failed), r.Percentage, r.Suppressed, c.want)
			}
			if r.Kpi.ID != "25" || r.Kpi.Kind != "PROPORTION" || r.Period.AuditYear != 2023 || r.Period.Quarter != nil {
				t.Errorf("row = %+v", r)
			}
		})
	}
	// Nothing small nationally: everyone sees the figures.
	var nat struct{ KpiAggregations []kpiRow }
	s.as(t, "", kpiAggregationsQuery, map[string]any{"level": "NATIONAL", "year": 2023}, &nat)
	if len(nat.KpiAggregations) != 1 || nat.KpiAggregations[0].Suppressed || *nat.KpiAggregations[0].Passed != 30 {
		t.Errorf("national = %+v", nat.KpiAggregations)
	}

	// A choropleth: every ICB a feature, the two with data carrying their figures.
	var m struct{ KpiMap json.RawMessage }
	s.as(t, "", `query($y: Int!) { kpiMap(level: INTEGRATED_CARE_BOARD, auditYear: $y, kpi: "1", zoom: 6) }`, map[string]any{"y": year}, &m)
	var fc struct {
		Type     string
		Features []struct {
			ID         string
			Properties struct {
				Code, Name, KPI, PlaceCode string
				Eligible, Passed           *int
				Percentage                 *float64
				Suppressed                 bool
			}
			Geometry struct{ Type string }
		}
	}
	if err := json.Unmarshal(m.KpiMap, &fc); err != nil {
		t.Fatalf("kpiMap is not JSON: %v", err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 42 {
		t.Fatalf("kpiMap: %s with %d features, want a FeatureCollection of the 42 ICBs", fc.Type, len(fc.Features))
	}
	var icbs struct{ KpiAggregations []kpiRow }
	s.as(t, team, kpiAggregationsQuery, map[string]any{"level": "INTEGRATED_CARE_BOARD", "year": year, "kpis": []string{"1"}}, &icbs)
	byArea := map[string]kpiRow{}
	for _, r := range icbs.KpiAggregations {
		byArea[*r.AreaCode] = r
	}
	withData := 0
	for _, f := range fc.Features {
		p := f.Properties
		if p.KPI != "1" || f.Geometry.Type == "" || p.Code != f.ID {
			t.Errorf("feature %s: %+v", f.ID, p)
		}
		r, ok := byArea[f.ID]
		if !ok {
			if p.Eligible != nil || p.PlaceCode != "" {
				t.Errorf("feature %s has figures but no aggregate", f.ID)
			}
			continue
		}
		withData++
		if p.PlaceCode != r.Code || !sameInt(p.Passed, r.Passed) || !sameInt(p.Eligible, r.Eligible) || p.Percentage == nil {
			t.Errorf("feature %s: %+v, aggregate %+v", f.ID, p, r)
		}
	}
	if withData != 2 || len(byArea) != 2 {
		t.Errorf("%d features with data, %d ICB aggregates; want the two units' ICBs", withData, len(byArea))
	}

	// A patient's own results, through the Policy; they add up to the unit's figures.
	patientsQuery := `query($pz: String!, $y: Int!) { patients(pzCode: $pz, auditYear: $y, first: 100) {
      nodes { id kpis(auditYear: $y) { kpi { id } outcome careStatus value period { quarter } } } } }`
	var pats struct {
		Patients struct {
			Nodes []struct {
				ID   string
				Kpis []struct {
					Kpi        struct{ ID string }
					Outcome    string
					CareStatus *string
					Value      *float64
				}
			}
		}
	}
	s.as(t, member1, patientsQuery, map[string]any{"pz": u1.PZCode, "y": year}, &pats)
	if len(pats.Patients.Nodes) != 25 {
		t.Fatalf("%d patients", len(pats.Patients.Nodes))
	}
	passed := map[string]int{}
	for _, p := range pats.Patients.Nodes {
		if len(p.Kpis) != 51 {
			t.Fatalf("patient %s has %d KPI results, want 51", p.ID, len(p.Kpis))
		}
		for _, k := range p.Kpis {
			if k.Outcome == "PASSED" {
				passed[k.Kpi.ID]++
			}
		}
	}
	var unit struct{ KpiAggregations []kpiRow }
	s.as(t, member1, kpiAggregationsQuery, map[string]any{"level": "UNIT", "code": u1.PZCode, "year": year}, &unit)
	if len(unit.KpiAggregations) != 51 {
		t.Fatalf("%d unit rows", len(unit.KpiAggregations))
	}
	for _, r := range unit.KpiAggregations {
		if *r.Passed != passed[r.Kpi.ID] {
			t.Errorf("KPI %s: unit passed %d, its patients' results %d", r.Kpi.ID, *r.Passed, passed[r.Kpi.ID])
		}
	}
	// Patients' results come through one batched statement however many patients.
	statements := func(first int) int64 {
		before := s.counter.n.Load()
		var got struct {
			Patients struct {
				Nodes []struct{ Kpis []struct{ Outcome string } }
			}
		}
		s.as(t, member1, `query($pz: String!, $y: Int!, $n: Int) { patients(pzCode: $pz, auditYear: $y, first: $n) {
            nodes { kpis(auditYear: $y) { outcome } } } }`, map[string]any{"pz": u1.PZCode, "y": year, "n": first}, &got)
		if len(got.Patients.Nodes) != first || len(got.Patients.Nodes[first-1].Kpis) != 51 {
			t.Fatalf("%d patients", len(got.Patients.Nodes))
		}
		return s.counter.n.Load() - before
	}
	if few, many := statements(2), statements(25); few != many {
		t.Errorf("kpis of 2 patients took %d statements, of 25 took %d; want the same", few, many)
	}
	one := `query($id: ID!, $y: Int!) { patient(id: $id) { kpis(auditYear: $y) { outcome } } }`
	vars := map[string]any{"id": pats.Patients.Nodes[0].ID, "y": year}
	if _, r := s.post(t, "", one, vars); !slices.Contains(errorCodes(r), "UNAUTHENTICATED") {
		t.Errorf("anonymous patient kpis: %v", errorCodes(r))
	}
	if _, r := s.post(t, member2, one, vars); !slices.Contains(errorCodes(r), "FORBIDDEN") || strings.Contains(string(r.Data), "PASSED") {
		t.Errorf("another unit's patient kpis: %v %s", errorCodes(r), r.Data)
	}
	if _, r := s.post(t, team, `query($id: ID!) { patient(id: $id) { kpis(auditYear: 2020) { outcome } } }`, map[string]any{"id": vars["id"]}); !slices.Contains(errorCodes(r), "BAD_USER_INPUT") {
		t.Errorf("patient kpis of another year: %v", errorCodes(r))
	}
}

func TestKPIBadInput(t *testing.T) {
	s := newKPIServer(t)
	year := openYear()
	tests := []struct {
		name, query, message string
	}{
		{"unknown KPI", `{ kpiAggregations(level: NATIONAL, auditYear: 2024, kpis: ["50"]) { code } }`, `unknown KPI "50"`},
		{"quarter 5", `{ kpiAggregations(level: NATIONAL, auditYear: 2024, quarter: 5) { code } }`, "quarter must be 1 to 4"},
		{"quarter 0", `{ kpiAggregations(level: NATIONAL, auditYear: 2024, quarter: 0) { code } }`, "quarter must be 1 to 4"},
		{"year out of range", `{ kpiAggregations(level: NATIONAL, auditYear: 1999) { code } }`, "1999"},
		{"unknown code", `{ kpiAggregations(level: INTEGRATED_CARE_BOARD, code: "QZZ", auditYear: 2024) { code } }`, `no integrated care board has the code "QZZ"`},
		{"map of trusts", `{ kpiMap(level: TRUST, auditYear: 2024, kpi: "1") }`, "TRUST has no boundaries"},
		{"map of an unknown KPI", `{ kpiMap(level: COUNTRY, auditYear: 2024, kpi: "32") }`, `unknown KPI "32"`},
		{"map zoom", `{ kpiMap(level: COUNTRY, auditYear: 2024, kpi: "1", zoom: 40) }`, "zoom must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := s.post(t, "", tt.query, nil)
			if !slices.Equal(errorCodes(r), []string{"BAD_USER_INPUT"}) || !strings.Contains(r.Errors[0].Message, tt.message) {
				t.Errorf("errors = %+v, want BAD_USER_INPUT containing %q", r.Errors, tt.message)
			}
		})
	}
	// A known place without figures is an empty list, not an error.
	var got struct{ KpiAggregations []kpiRow }
	s.as(t, "", kpiAggregationsQuery, map[string]any{"level": "INTEGRATED_CARE_BOARD", "code": "QUE", "year": year}, &got)
	if len(got.KpiAggregations) != 0 {
		t.Errorf("QUE without data: %+v", got.KpiAggregations)
	}
	var defs struct {
		KpiDefinitions []struct{ ID, Name, Kind string }
	}
	s.as(t, "", `{ kpiDefinitions { id name kind } }`, nil, &defs)
	if len(defs.KpiDefinitions) != 51 || defs.KpiDefinitions[31].ID != "32.1" || defs.KpiDefinitions[31].Kind != "RATIO" {
		t.Errorf("definitions = %+v", defs.KpiDefinitions)
	}
}

func ptrTo[T any](v T) *T { return &v }

func sameInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
