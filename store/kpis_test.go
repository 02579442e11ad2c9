package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"caregraph/audit/kpi"
	"caregraph/store"
	"caregraph/store/dbtest"
)

func kday(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// kpiLoad is one patient with two visits whose every typed column holds a value of its
// own, so that a column read into the wrong field shows.
func kpiLoad(prefix string) store.SubmissionLoad {
	pv := make([]any, len(store.PatientValueColumns))
	set := func(vals []any, cols []string, c string, v any) { vals[slices.Index(cols, c)] = v }
	for _, c := range []string{"postcode_check", "gp_practice_check", "deprivation_check"} {
		set(pv, store.PatientValueColumns, c, "not_checked")
	}
	set(pv, store.PatientValueColumns, "date_of_birth", kday(2012, 2, 29))
	set(pv, store.PatientValueColumns, "diabetes_type", int16(1))
	set(pv, store.PatientValueColumns, "diagnosis_date", kday(2020, 1, 2))
	set(pv, store.PatientValueColumns, "date_leaving_service", kday(2025, 3, 3))
	set(pv, store.PatientValueColumns, "reason_leaving_service", int16(4))
	set(pv, store.PatientValueColumns, "death_date", kday(2025, 3, 4))
	var visits []store.VisitRow
	for k := range 2 {
		vv := make([]any, len(store.VisitValueColumns))
		n := int16(10 * (k + 1))
		for i, c := range store.VisitValueColumns {
			switch c {
			case "centile_check":
				vv[i] = "not_checked"
			case "admission_reason_other":
				vv[i] = "other"
			case "height", "weight", "bmi", "height_centile", "weight_centile", "bmi_centile", "hba1c", "acr",
				"total_cholesterol", "blood_ph", "blood_bicarbonate":
				vv[i] = float64(i) + float64(k)/2
			default:
				if c == "visit_date" || len(c) > 5 && c[len(c)-5:] == "_date" {
					vv[i] = kday(2024, time.Month(4+k), 1+i%28)
				} else {
					vv[i] = n + int16(i)
				}
			}
		}
		visits = append(visits, store.VisitRow{PatientOrdinal: 0, Row: 2 + k, Cells: []string{prefix}, Values: vv})
	}
	next := 0
	return store.SubmissionLoad{
		Patients: []store.PatientRow{{Ordinal: 0, Identifier: prefix, FirstRow: 2, VisitCount: 2, Values: pv}},
		NextVisit: func() (store.VisitRow, bool, error) {
			if next == len(visits) {
				return store.VisitRow{}, false, nil
			}
			next++
			return visits[next-1], true, nil
		},
		Errors: func() []store.CellError { return nil },
	}
}

// twoUnits is a fresh database with the units PZ901 and PZ902, and a store over it.
func twoUnits(t *testing.T) (*dbtest.DB, *store.Store, int64, int64) {
	t.Helper()
	db := dbtest.New(t)
	return db, store.New(db.Pool), newUnit(t, db, "PZ901"), newUnit(t, db, "PZ902")
}

func TestKPIPatientsLoadsEveryColumn(t *testing.T) {
	_, st, u1, u2 := twoUnits(t)
	ctx := context.Background()
	upload(t, st, newSubmission(u1, 2024, "a.csv"), kpiLoad("p1"))
	upload(t, st, newSubmission(u2, 2024, "b.csv"), kpiLoad("p2"))
	// A superseded submission and another year are not loaded.
	upload(t, st, newSubmission(u2, 2024, "c.csv"), kpiLoad("p3"))
	upload(t, st, newSubmission(u1, 2023, "d.csv"), kpiLoad("p4"))

	ps, err := st.KPIPatients(ctx, 2024, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("loaded %d patients, want 2 (one per unit's active 2024 submission)", len(ps))
	}
	p := ps[0]
	if p.UnitID != u1 || p.DatasetVersion != 2021 || !p.DateOfBirth.Equal(kday(2012, 2, 29)) || *p.DiabetesType != 1 ||
		!p.DiagnosisDate.Equal(kday(2020, 1, 2)) || !p.DateLeavingService.Equal(kday(2025, 3, 3)) || *p.LeavingReason != 4 ||
		!p.DeathDate.Equal(kday(2025, 3, 4)) {
		t.Errorf("patient = %+v", p)
	}
	if len(p.Visits) != 2 || p.Visits[0].RowNumber != 2 || p.Visits[1].RowNumber != 3 {
		t.Fatalf("visits = %+v", p.Visits)
	}
	// Every field against the value written to its column.
	for k, v := range p.Visits {
		col := func(c string) int { return slices.Index(store.VisitValueColumns, c) }
		small := func(c string) int16 { return int16(10*(k+1)) + int16(col(c)) }
		float := func(c string) float64 { return float64(col(c)) + float64(k)/2 }
		date := func(c string) time.Time { return kday(2024, time.Month(4+k), 1+col(c)%28) }
		checks := []struct {
			name      string
			got, want any
		}{
			{"visit_date", v.VisitDate, date("visit_date")},
			{"height", *v.Height, float("height")}, {"weight", *v.Weight, float("weight")},
			{"height_weight_date", v.HeightWeightDate, date("height_weight_date")},
			{"hba1c", *v.HbA1c, float("hba1c")}, {"hba1c_format", *v.HbA1cFormat, small("hba1c_format")},
			{"hba1c_date", v.HbA1cDate, date("hba1c_date")},
			{"treatment", *v.Treatment, small("treatment")}, {"closed_loop_system", *v.ClosedLoopSystem, small("closed_loop_system")},
			{"glucose_monitoring", *v.GlucoseMonitoring, small("glucose_monitoring")},
			{"insulin_regimen", *v.InsulinRegimen, small("insulin_regimen")},
			{"non_insulin_medication", *v.NonInsulinMedication, small("non_insulin_medication")},
			{"cgm", *v.CGM, small("cgm")}, {"systolic_bp", *v.SystolicBP, small("systolic_bp")},
			{"diastolic_bp", *v.DiastolicBP, small("diastolic_bp")}, {"bp_date", v.BPDate, date("bp_date")},
			{"foot_exam_date", v.FootExamDate, date("foot_exam_date")},
			{"retinal_screening_date", v.RetinalScreeningDate, date("retinal_screening_date")},
			{"retinal_screening_result", *v.RetinalScreeningResult, small("retinal_screening_result")},
			{"acr", *v.ACR, float("acr")}, {"acr_date", v.ACRDate, date("acr_date")},
			{"albuminuria_stage", *v.AlbuminuriaStage, small("albuminuria_stage")},
			{"total_cholesterol", *v.TotalCholesterol, float("total_cholesterol")},
			{"total_cholesterol_date", v.TotalCholesterolDate, date("total_cholesterol_date")},
			{"thyroid_function_date", v.ThyroidFunctionDate, date("thyroid_function_date")},
			{"thyroid_treatment", *v.ThyroidTreatment, small("thyroid_treatment")},
			{"coeliac_screen_date", v.CoeliacScreenDate, date("coeliac_screen_date")},
			{"gluten_free_diet", *v.GlutenFreeDiet, small("gluten_free_diet")},
			{"psych_screening_date", v.PsychScreeningDate, date("psych_screening_date")},
			{"psych_additional_support", *v.PsychAdditionalSupport, small("psych_additional_support")},
			{"psych_support_outcome", *v.PsychSupportOutcome, small("psych_support_outcome")},
			{"smoking_status", *v.SmokingStatus, small("smoking_status")},
			{"smoking_vaping_status", *v.SmokingVapingStatus, small("smoking_vaping_status")},
			{"smoking_cessation_date", v.SmokingCessationDate, date("smoking_cessation_date")},
			{"carb_counting_date", v.CarbCountingDate, date("carb_counting_date")},
			{"dietitian_offered", *v.DietitianOffered, small("dietitian_offered")},
			{"dietitian_date", v.DietitianDate, date("dietitian_date")},
			{"ketone_testing", *v.KetoneTesting, small("ketone_testing")},
			{"flu_immunisation_date", v.FluImmunisationDate, date("flu_immunisation_date")},
			{"sick_day_rules_date", v.SickDayRulesDate, date("sick_day_rules_date")},
			{"admission_date", v.AdmissionDate, date("admission_date")},
			{"discharge_date", v.DischargeDate, date("discharge_date")},
			{"admission_reason", *v.AdmissionReason, small("admission_reason")},
		}
		for _, c := range checks {
			if g, ok := c.got.(time.Time); ok {
				if !g.Equal(c.want.(time.Time)) || g.Location() != time.UTC {
					t.Errorf("visit %d %s = %v, want %v (UTC)", k, c.name, g, c.want)
				}
			} else if c.got != c.want {
				t.Errorf("visit %d %s = %v, want %v", k, c.name, c.got, c.want)
			}
		}
	}

	only, err := st.KPIPatients(ctx, 2024, []int64{u2})
	if err != nil {
		t.Fatal(err)
	}
	if len(only) != 1 || only[0].UnitID != u2 {
		t.Fatalf("unit filter loaded %+v", only)
	}
	none, err := st.KPIPatients(ctx, 2022, nil)
	if err != nil || len(none) != 0 {
		t.Fatalf("2022 = %v, %v", none, err)
	}
}

func TestKPIPatientResultsPackWriteReplace(t *testing.T) {
	db, st, u1, u2 := twoUnits(t)
	ctx := context.Background()
	upload(t, st, newSubmission(u1, 2024, "a.csv"), kpiLoad("p1"))
	upload(t, st, newSubmission(u2, 2024, "b.csv"), kpiLoad("p2"))
	ps, err := st.KPIPatients(ctx, 2024, nil)
	if err != nil {
		t.Fatal(err)
	}
	pack := func(p kpi.Patient) store.KPIPatientResult {
		var per [][]kpi.Result
		for _, period := range kpi.Periods(2024) {
			per = append(per, kpi.Evaluate(&p, period))
		}
		o, v := store.PackKPIResults(per, nil, nil)
		return store.KPIPatientResult{PatientID: p.ID, UnitID: p.UnitID, AuditYear: 2024, KPICount: len(kpi.Definitions), Outcomes: o, Values: v}
	}
	var rs []store.KPIPatientResult
	for _, p := range ps {
		rs = append(rs, pack(p))
	}
	write := func(units []int64, rs []store.KPIPatientResult) {
		t.Helper()
		if err := st.InTx(ctx, func(tx *store.Store) error {
			if err := tx.LockKPIYear(ctx, 2024); err != nil {
				return err
			}
			return tx.ReplaceKPIPatientResults(ctx, 2024, units, rs)
		}); err != nil {
			t.Fatal(err)
		}
	}
	write(nil, rs)
	got, err := st.KPIPatientResults(ctx, []int64{ps[0].ID, ps[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for q, period := range kpi.Periods(2024) {
			back, err := store.UnpackKPIResults(got[p.ID], q)
			if err != nil {
				t.Fatal(err)
			}
			if want := kpi.Evaluate(&p, period); !slices.Equal(back, want) {
				t.Errorf("patient %d period %d: stored %v, evaluated %v", p.ID, q, back, want)
			}
		}
	}
	// Replacing one unit leaves the other's rows alone.
	write([]int64{u1}, nil)
	if n := countRows(t, db, `SELECT count(*) FROM kpi_patient_results WHERE unit_id = $1`, u1); n != 0 {
		t.Errorf("unit 1 has %d results after replacing it with none", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM kpi_patient_results WHERE unit_id = $1`, u2); n != 1 {
		t.Errorf("unit 2 has %d results, want 1", n)
	}
	// A superseding upload takes the patient's results with it.
	upload(t, st, newSubmission(u2, 2024, "c.csv"), kpiLoad("p3"))
	if n := countRows(t, db, `SELECT count(*) FROM kpi_patient_results`); n != 0 {
		t.Errorf("%d results left after the patients were superseded", n)
	}
	// Rows packed for another list of KPIs are refused, not misread.
	bad := rs[0]
	bad.KPICount, bad.Outcomes = 3, bad.Outcomes[:15]
	if _, err := store.UnpackKPIResults(bad, 0); err == nil {
		t.Error("unpacking a row of 3 KPIs succeeded")
	}
}

func TestKPIAggregatesReplaceAndRead(t *testing.T) {
	db := dbtest.New(t)
	st := store.New(db.Pool)
	ctx := context.Background()
	f := func(v float64) *float64 { return &v }
	row := func(level store.PlaceLevel, code, area string, q, order, passed int) store.KPIAggregate {
		d := kpi.Definitions[order]
		return store.KPIAggregate{AuditYear: 2024, Quarter: q, Level: level, Code: code, Name: code + " name", AreaCode: area,
			KPI: d.ID, Order: order, Kind: d.Kind, Eligible: 10, Ineligible: 1, Passed: passed, Failed: 10 - passed,
			Percentage: f(float64(passed) * 10)}
	}
	replace := func(places []store.PlaceKey, rows []store.KPIAggregate) {
		t.Helper()
		if err := st.InTx(ctx, func(tx *store.Store) error {
			if err := tx.LockKPIYear(ctx, 2024); err != nil {
				return err
			}
			return tx.ReplaceKPIAggregates(ctx, 2024, places, rows)
		}); err != nil {
			t.Fatal(err)
		}
	}
	replace(nil, []store.KPIAggregate{
		row(store.LevelICB, "QUE", "E54000056", 0, 2, 3), row(store.LevelICB, "QUE", "E54000056", 0, 0, 4),
		row(store.LevelICB, "QJK", "E54000037", 0, 0, 5), row(store.LevelICB, "QUE", "E54000056", 1, 0, 6),
		row(store.LevelUnit, "PZ001", "", 0, 0, 7),
	})
	read := func(q store.KPIQuery) []store.KPIAggregate {
		t.Helper()
		as, err := st.KPIAggregations(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	all := read(store.KPIQuery{Level: store.LevelICB, Year: 2024})
	if len(all) != 3 || all[0].Code != "QJK" || all[1].KPI != "1" || all[2].KPI != "3" || all[2].Passed != 3 {
		t.Fatalf("ICB rows = %+v", all)
	}
	gss := "E54000056"
	if byArea := read(store.KPIQuery{Level: store.LevelICB, Year: 2024, Code: &gss, KPIs: []string{"1"}}); len(byArea) != 1 || byArea[0].Code != "QUE" || byArea[0].Passed != 4 {
		t.Errorf("by GSS code = %+v", byArea)
	}
	if q1 := read(store.KPIQuery{Level: store.LevelICB, Year: 2024, Quarter: 1}); len(q1) != 1 || q1[0].Passed != 6 {
		t.Errorf("quarter 1 = %+v", q1)
	}
	// Replacing one place leaves the others; a full replace leaves only what it wrote.
	replace([]store.PlaceKey{{Level: store.LevelICB, Code: "QUE"}}, []store.KPIAggregate{row(store.LevelICB, "QUE", "E54000056", 0, 0, 9)})
	if got := read(store.KPIQuery{Level: store.LevelICB, Year: 2024}); len(got) != 2 || got[1].Passed != 9 || got[0].Code != "QJK" {
		t.Errorf("after replacing QUE = %+v", got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM kpi_aggregates WHERE code = 'QUE'`); n != 1 {
		t.Errorf("QUE has %d rows, want its one new row (its quarter-1 row went with it)", n)
	}
	replace(nil, []store.KPIAggregate{row(store.LevelNational, store.NationalCode, "", 0, 0, 1)})
	if n := countRows(t, db, `SELECT count(*) FROM kpi_aggregates`); n != 1 {
		t.Errorf("%d rows after a full replace with one", n)
	}
	years, err := st.KPIYears(ctx)
	if err != nil || !slices.Equal(years, []int{2024}) {
		t.Errorf("years = %v, %v", years, err)
	}
}

func TestKPIUnitSumsReplaceAndRead(t *testing.T) {
	db, st, u1, u2 := twoUnits(t)
	ctx := context.Background()
	n := len(kpi.Definitions)
	sums := func(unit int64, pz string, base int32) store.KPIUnitSums {
		u := store.KPIUnitSums{UnitID: unit, PZCode: pz, KPICount: n, Counts: make([]int32, 25*n), Sums: make([]float64, 10*n),
			MedianValues: []float64{40, 55.5, 80}, MedianLengths: []int32{3, 0, 0, 0, 0}}
		for i := range u.Counts {
			u.Counts[i] = base + int32(i)
		}
		for i := range u.Sums {
			u.Sums[i] = float64(base) + float64(i)/4
		}
		return u
	}
	write := func(units []int64, us []store.KPIUnitSums) {
		t.Helper()
		if err := st.InTx(ctx, func(tx *store.Store) error { return tx.ReplaceKPIUnitSums(ctx, 2024, units, us) }); err != nil {
			t.Fatal(err)
		}
	}
	write(nil, []store.KPIUnitSums{sums(u1, "PZ901", 1), sums(u2, "PZ902", 100)})
	got, err := st.KPIUnitSumsOf(ctx, 2024, []int64{u2})
	if err != nil {
		t.Fatal(err)
	}
	want := sums(u2, "PZ902", 100)
	want.AuditYear = 2024
	if len(got) != 1 || got[0].PZCode != "PZ902" || !slices.Equal(got[0].Counts, want.Counts) || !slices.Equal(got[0].Sums, want.Sums) ||
		!slices.Equal(got[0].MedianValues, want.MedianValues) || !slices.Equal(got[0].MedianLengths, want.MedianLengths) {
		t.Fatalf("read back %+v", got)
	}
	// Replacing one unit keeps the other; a full replace keeps only what it wrote.
	write([]int64{u1}, []store.KPIUnitSums{sums(u1, "PZ901", 7)})
	all, err := st.KPIUnitSumsOf(ctx, 2024, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("all = %d rows, %v", len(all), err)
	}
	for _, u := range all {
		if u.UnitID == u1 && u.Counts[0] != 7 || u.UnitID == u2 && u.Counts[0] != 100 {
			t.Errorf("unit %d counts start %d", u.UnitID, u.Counts[0])
		}
	}
	write(nil, nil)
	if n := countRows(t, db, `SELECT count(*) FROM kpi_unit_sums`); n != 0 {
		t.Errorf("%d rows after replacing the year with none", n)
	}
	// The table refuses sums of the wrong shape.
	bad := sums(u1, "PZ901", 1)
	bad.Counts = bad.Counts[:10]
	if err := st.InTx(ctx, func(tx *store.Store) error { return tx.ReplaceKPIUnitSums(ctx, 2024, nil, []store.KPIUnitSums{bad}) }); err == nil {
		t.Error("short counts were stored")
	}
}
