package aggregate_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"caregraph/audit/kpi"
	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/sync/aggregate"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// hierarchy writes two trusts in different ICBs of one region, in England, with a unit
// each: PZ101 led by a site of trust RAA (ICB QAA), PZ102 led by trust RBB itself (ICB
// QBB), both in network PN01; PZ103 has no lead and no network.
func hierarchy(t *testing.T, db *dbtest.DB) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	org := func(code, kind, gss, name string) int64 {
		var id int64
		var g *string
		if gss != "" {
			g = &gss
		}
		if err := db.Pool.QueryRow(ctx, `INSERT INTO organisations (ods_code, kind, gss_code) VALUES ($1, $2, $3) RETURNING id`, code, kind, g).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO organisation_versions (organisation_id, valid, name, country_code) VALUES ($1, '(,)', $2, 'E92000001')`, id, name); err != nil {
			t.Fatal(err)
		}
		ids[code] = id
		return id
	}
	link := func(child, relation, parent string) {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO organisation_links (child_id, relation, parent_id, valid) VALUES ($1, $2, $3, '(,)')`, ids[child], relation, ids[parent]); err != nil {
			t.Fatal(err)
		}
	}
	org("Y60", "nhs_england_region", "E40000008", "Midlands")
	org("QAA", "integrated_care_board", "E54000010", "ICB A")
	org("QBB", "integrated_care_board", "E54000011", "ICB B")
	org("RAA", "nhs_trust", "", "Trust A")
	org("RBB", "nhs_trust", "", "Trust B")
	org("RAA01", "site", "", "Hospital A")
	link("RAA01", "parent", "RAA")
	link("RAA", "integrated_care_board", "QAA")
	link("RBB", "integrated_care_board", "QBB")
	link("RAA", "nhs_england_region", "Y60")
	link("RBB", "nhs_england_region", "Y60")
	link("QAA", "nhs_england_region", "Y60")
	var net int64
	if err := db.Pool.QueryRow(ctx, `INSERT INTO paediatric_diabetes_networks (code, name) VALUES ('PN01', 'Network One') RETURNING id`).Scan(&net); err != nil {
		t.Fatal(err)
	}
	unit := func(pz, lead string) {
		var id int64
		if err := db.Pool.QueryRow(ctx, `INSERT INTO paediatric_diabetes_units (pz_code) VALUES ($1) RETURNING id`, pz).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[pz] = id
		if lead == "" {
			return
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO unit_leads (unit_id, organisation_id, valid) VALUES ($1, $2, '(,)')`, id, ids[lead]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO unit_networks (unit_id, network_id, valid) VALUES ($1, $2, '(,)')`, id, net); err != nil {
			t.Fatal(err)
		}
	}
	unit("PZ101", "RAA01")
	unit("PZ102", "RBB")
	unit("PZ103", "")
	return ids
}

// visit is a row with a visit date and, when hba1c > 0, an HbA1c in mmol/mol observed
// that day.
type visit struct {
	date  time.Time
	hba1c float64
}

// submit loads a unit's active 2024 submission of Type 1 patients diagnosed in 2019,
// born in 2012, one slice of visits each.
func submit(t *testing.T, st *store.Store, unitID int64, name string, patients ...[]visit) {
	t.Helper()
	ctx := context.Background()
	var prows []store.PatientRow
	var vrows []store.VisitRow
	row := 2
	for i, vs := range patients {
		pv := make([]any, len(store.PatientValueColumns))
		set := func(c string, v any) { pv[slices.Index(store.PatientValueColumns, c)] = v }
		for _, c := range []string{"postcode_check", "gp_practice_check", "deprivation_check"} {
			set(c, "not_checked")
		}
		set("date_of_birth", day(2012, 6, 1))
		set("diabetes_type", int16(1))
		set("diagnosis_date", day(2019, 1, 1))
		prows = append(prows, store.PatientRow{Ordinal: i, Identifier: name + string(rune('a'+i)), FirstRow: row, VisitCount: len(vs), Values: pv})
		for _, v := range vs {
			vv := make([]any, len(store.VisitValueColumns))
			vset := func(c string, x any) { vv[slices.Index(store.VisitValueColumns, c)] = x }
			vset("visit_date", v.date)
			if v.hba1c > 0 {
				vset("hba1c", v.hba1c)
				vset("hba1c_format", int16(1))
				vset("hba1c_date", v.date)
			}
			vrows = append(vrows, store.VisitRow{PatientOrdinal: i, Row: row, Cells: []string{name}, Values: vv})
			row++
		}
	}
	next := 0
	up, err := st.BeginUpload(ctx, store.NewSubmission{UnitID: unitID, AuditYear: 2024, DatasetVersion: 2021, Identifier: "nhs_number",
		Via: store.ViaCommandLine, FileName: name, File: []byte(name), Encoding: "UTF-8", Columns: []string{"nhs_number"}})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if _, err := up.Load(ctx, store.SubmissionLoad{Patients: prows, NextVisit: func() (store.VisitRow, bool, error) {
		if next == len(vrows) {
			return store.VisitRow{}, false, nil
		}
		next++
		return vrows[next-1], true, nil
	}, Errors: func() []store.CellError { return nil }}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Activate(ctx); err != nil {
		t.Fatal(err)
	}
}

// fixture is the two units' patients. Their median HbA1c (mmol/mol), by period:
//
//	PZ101 a: 50 (May), 60 (Oct)            year 55, Q1 50, Q3 60
//	PZ101 b: 70, 80 (June), 90 (July)      year 80, Q1 75, Q2 90
//	PZ102 c: 40 (Nov)                      year 40, Q3 40
//	PZ102 d: a visit in April, no HbA1c    active, no value (KPI 44 failed)
func fixture(t *testing.T) (*dbtest.DB, *store.Store, map[string]int64) {
	db := dbtest.NewWithBoundaries(t)
	st := store.New(db.Pool)
	ids := hierarchy(t, db)
	submit(t, st, ids["PZ101"], "u1",
		[]visit{{day(2024, 5, 10), 50}, {day(2024, 10, 10), 60}},
		[]visit{{day(2024, 6, 1), 70}, {day(2024, 6, 15), 80}, {day(2024, 7, 1), 90}})
	submit(t, st, ids["PZ102"], "u2",
		[]visit{{day(2024, 11, 1), 40}},
		[]visit{{day(2024, 4, 20), 0}})
	return db, st, ids
}

func newAggregator(st *store.Store) *aggregate.Aggregator {
	return &aggregate.Aggregator{Store: st, Now: func() time.Time { return day(2025, 6, 1) }}
}

func figures(t *testing.T, st *store.Store, level store.PlaceLevel, code string, quarter int, id string) store.KPIAggregate {
	t.Helper()
	as, err := st.KPIAggregations(context.Background(), store.KPIQuery{Level: level, Year: 2024, Quarter: quarter, Code: &code, KPIs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 {
		t.Fatalf("%s %s Q%d KPI %s: %d rows", level, code, quarter, id, len(as))
	}
	return as[0]
}

func near(a *float64, want float64) bool { return a != nil && math.Abs(*a-want) < 1e-9 }

func TestRunYearSumsByPlace(t *testing.T) {
	_, st, _ := fixture(t)
	ctx := context.Background()
	rep, err := newAggregator(st).RunYear(ctx, 2024, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Patients != 4 || rep.Visits != 7 || rep.Units != 2 {
		t.Errorf("report = %+v", rep)
	}
	tests := []struct {
		level         store.PlaceLevel
		code          string
		quarter       int
		kpi           string
		eligible      int
		passed        int
		value         float64 // NaN: no value
		wantPlaceName string
	}{
		// KPI 1: patients with a visit in the period.
		{store.LevelUnit, "PZ101", 0, "1", 2, 2, math.NaN(), ""},
		{store.LevelUnit, "PZ102", 0, "1", 2, 2, math.NaN(), ""},
		{store.LevelNational, store.NationalCode, 0, "1", 4, 4, math.NaN(), "England and Wales"},
		{store.LevelNational, store.NationalCode, 1, "1", 3, 3, math.NaN(), ""},
		{store.LevelNational, store.NationalCode, 2, "1", 1, 1, math.NaN(), ""},
		// KPI 44: mean of the patients' medians; KPI 45: their median.
		{store.LevelUnit, "PZ101", 0, "44", 2, 2, 67.5, ""},
		{store.LevelUnit, "PZ101", 0, "45", 2, 2, 67.5, ""},
		{store.LevelUnit, "PZ102", 0, "44", 2, 1, 40, ""},
		{store.LevelTrust, "RAA", 0, "44", 2, 2, 67.5, "Trust A"},
		{store.LevelTrust, "RBB", 0, "45", 2, 1, 40, "Trust B"},
		{store.LevelICB, "QAA", 0, "45", 2, 2, 67.5, "ICB A"},
		{store.LevelICB, "QBB", 0, "44", 2, 1, 40, "ICB B"},
		{store.LevelRegion, "Y60", 0, "44", 4, 3, (55.0 + 80 + 40) / 3, "Midlands"},
		{store.LevelRegion, "Y60", 0, "45", 4, 3, 55, ""},
		{store.LevelNetwork, "PN01", 0, "45", 4, 3, 55, "Network One"},
		{store.LevelCountry, "E92000001", 0, "44", 4, 3, (55.0 + 80 + 40) / 3, "England"},
		{store.LevelNational, store.NationalCode, 0, "45", 4, 3, 55, ""},
		// Quarter 1: a 50, b 75 (June's 70 and 80), d failed; c not active.
		{store.LevelNational, store.NationalCode, 1, "44", 3, 2, 62.5, ""},
		{store.LevelNational, store.NationalCode, 1, "45", 3, 2, 62.5, ""},
		{store.LevelUnit, "PZ101", 1, "45", 2, 2, 62.5, ""},
		// Quarter 3: a 60, c 40.
		{store.LevelNational, store.NationalCode, 3, "45", 2, 2, 50, ""},
		{store.LevelICB, "QBB", 3, "45", 1, 1, 40, ""},
	}
	for _, tt := range tests {
		a := figures(t, st, tt.level, tt.code, tt.quarter, tt.kpi)
		if a.Eligible != tt.eligible || a.Passed != tt.passed || a.Failed != tt.eligible-tt.passed {
			t.Errorf("%s %s Q%d KPI %s: eligible %d passed %d failed %d, want %d %d %d", tt.level, tt.code, tt.quarter, tt.kpi,
				a.Eligible, a.Passed, a.Failed, tt.eligible, tt.passed, tt.eligible-tt.passed)
		}
		if math.IsNaN(tt.value) != (a.Value == nil) || !math.IsNaN(tt.value) && !near(a.Value, tt.value) {
			t.Errorf("%s %s Q%d KPI %s: value %v, want %v", tt.level, tt.code, tt.quarter, tt.kpi, deref(a.Value), tt.value)
		}
		if tt.wantPlaceName != "" && a.Name != tt.wantPlaceName {
			t.Errorf("%s %s: name %q, want %q", tt.level, tt.code, a.Name, tt.wantPlaceName)
		}
	}
	// Every KPI's counts add up the same way at every level: the national row is the sum
	// of the unit rows, and each equals the sum of the patients' own results.
	pats, err := st.KPIPatients(ctx, 2024, nil)
	if err != nil {
		t.Fatal(err)
	}
	for q, per := range kpi.Periods(2024) {
		want := make([]aggregate.Sums, len(kpi.Definitions))
		for i := range pats {
			for k, r := range kpi.Evaluate(&pats[i], per) {
				want[k].AddResult(kpi.Definitions[k].Kind, r)
			}
		}
		for k, d := range kpi.Definitions {
			a := figures(t, st, store.LevelNational, store.NationalCode, q, d.ID)
			w := want[k]
			if a.Eligible != w.Eligible || a.Passed != w.Passed || a.Failed != w.Failed || a.Ineligible != w.Ineligible ||
				math.Abs(a.ValueSum-w.ValueSum) > 1e-9 {
				t.Errorf("national Q%d KPI %s = %+v, patients sum to %+v", q, d.ID, a, w)
			}
		}
	}
	// PZ103 has no data: no rows, and no place of its own above the nation.
	if as, _ := st.KPIAggregations(ctx, store.KPIQuery{Level: store.LevelUnit, Year: 2024}); len(as) != 2*len(kpi.Definitions) {
		t.Errorf("%d unit rows, want %d (two units with data)", len(as), 2*len(kpi.Definitions))
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func TestRunUnitsMatchesAFullRun(t *testing.T) {
	_, st, ids := fixture(t)
	ctx := context.Background()
	agg := newAggregator(st)
	if _, err := agg.RunYear(ctx, 2024, nil); err != nil {
		t.Fatal(err)
	}
	// PZ102 uploads again: c's HbA1c is now 100, d is gone.
	submit(t, st, ids["PZ102"], "u2b", []visit{{day(2024, 11, 1), 100}})
	rep, err := agg.RunUnits(ctx, 2024, []int64{ids["PZ102"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Patients != 1 {
		t.Errorf("unit run evaluated %d patients, want 1", rep.Patients)
	}
	if a := figures(t, st, store.LevelNational, store.NationalCode, 0, "45"); a.Eligible != 3 || !near(a.Value, 80) {
		t.Errorf("national KPI 45 after PZ102's upload = %d eligible, %v; want 3, median(55, 80, 100) = 80", a.Eligible, deref(a.Value))
	}
	if a := figures(t, st, store.LevelICB, "QAA", 0, "45"); !near(a.Value, 67.5) {
		t.Errorf("QAA changed: %v", deref(a.Value))
	}
	snapshot := func() map[string]store.KPIAggregate {
		out := map[string]store.KPIAggregate{}
		for _, l := range store.PlaceLevels {
			as, err := st.KPIAggregations(ctx, store.KPIQuery{Level: l, Year: 2024})
			if err != nil {
				t.Fatal(err)
			}
			for q := 1; q <= 4; q++ {
				more, err := st.KPIAggregations(ctx, store.KPIQuery{Level: l, Year: 2024, Quarter: q})
				if err != nil {
					t.Fatal(err)
				}
				as = append(as, more...)
			}
			for _, a := range as {
				a.ComputedAt = time.Time{}
				out[string(a.Level)+" "+a.Code+" "+a.KPI+" "+string(rune('0'+a.Quarter))] = a
			}
		}
		return out
	}
	partial := snapshot()
	if _, err := agg.RunYear(ctx, 2024, nil); err != nil {
		t.Fatal(err)
	}
	full := snapshot()
	if len(partial) != len(full) {
		t.Fatalf("unit run left %d rows, a full run %d", len(partial), len(full))
	}
	for k, f := range full {
		p := partial[k]
		if p.Eligible != f.Eligible || p.Passed != f.Passed || p.Ineligible != f.Ineligible || !sameFloat(p.Value, f.Value) || !sameFloat(p.Percentage, f.Percentage) {
			t.Errorf("%s: unit run %+v, full run %+v", k, p, f)
		}
	}
}

func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 1e-9
}

func TestAfterActivationRecordsTheRun(t *testing.T) {
	db, st, ids := fixture(t)
	agg := newAggregator(st)
	agg.AfterActivation(ids["PZ101"], 2024)
	agg.Wait()
	var outcome, trigger string
	if err := db.Pool.QueryRow(context.Background(), `SELECT outcome, trigger FROM job_runs WHERE job = $1`, aggregate.UnitJob).Scan(&outcome, &trigger); err != nil {
		t.Fatal(err)
	}
	if outcome != "succeeded" || trigger != "activation" {
		t.Errorf("run = %s, %s", outcome, trigger)
	}
	if a := figures(t, st, store.LevelUnit, "PZ101", 0, "1"); a.Passed != 2 {
		t.Errorf("PZ101 KPI 1 = %+v", a)
	}
	// Only PZ101 was recomputed: PZ102's patients have no results yet.
	if a := figures(t, st, store.LevelNational, store.NationalCode, 0, "1"); a.Passed != 2 {
		t.Errorf("national KPI 1 = %d, want PZ101's 2", a.Passed)
	}
	// A failing run is recorded as failed, not lost: an unknown unit.
	agg.AfterActivation(999999, 2024)
	agg.Wait()
	var failed int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM job_runs WHERE job = $1 AND outcome = 'failed' AND error <> ''`, aggregate.UnitJob).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 1 {
		t.Errorf("%d failed runs recorded, want 1", failed)
	}
}
