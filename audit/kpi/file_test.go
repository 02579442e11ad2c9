package kpi

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"caregraph/audit"
)

// dataDir is the shared reference data: CAREGRAPH_DATA_DIR, else ../shared/data beside
// the repository.
func dataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CAREGRAPH_DATA_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "npda")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("reference data not found: %v", err)
		}
		t.Skipf("reference data not found (set CAREGRAPH_DATA_DIR): %v", err)
	}
	return dir
}

// readPatients reads an audit CSV with the audit package, as a submission does, and
// turns its checked values into Patients: a value that failed a check is missing.
func readPatients(t *testing.T, name string, year int) []*Patient {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir(t), "npda", name))
	if err != nil {
		t.Fatal(err)
	}
	return patientsOf(t, data, year, d("2026-06-01"))
}

// patientsOf reads CSV data for a unit (PZ999) and audit year, on the day today.
func patientsOf(t *testing.T, data []byte, year int, today time.Time) []*Patient {
	t.Helper()
	ctx := context.Background()
	f, err := audit.Read(ctx, data, audit.Options{PZCode: "PZ999", AuditYear: year, Today: today})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	pats := make([]*Patient, len(f.Patients))
	for i, ap := range f.Patients {
		v := &ap.Values
		pats[i] = &Patient{ID: int64(i + 1), DatasetVersion: f.Dataset.Version,
			DateOfBirth: date(v[audit.DateOfBirth]), DiabetesType: code(v[audit.DiabetesType]),
			DiagnosisDate: date(v[audit.DiagnosisDate]), DateLeavingService: date(v[audit.LeavingDate]),
			LeavingReason: code(v[audit.LeavingReason]), DeathDate: date(v[audit.DeathDate])}
	}
	vr := f.Visits()
	for {
		av, err := vr.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		x := &av.Values
		p := pats[av.Patient.Index]
		p.Visits = append(p.Visits, Visit{RowNumber: av.Row, VisitDate: date(x[audit.VisitDate]),
			Height: num(x[audit.Height]), Weight: num(x[audit.Weight]), HeightWeightDate: date(x[audit.HeightWeightDate]),
			HbA1c: num(x[audit.HbA1c]), HbA1cFormat: code(x[audit.HbA1cFormat]), HbA1cDate: date(x[audit.HbA1cDate]),
			Treatment: code(x[audit.Treatment]), ClosedLoopSystem: code(x[audit.ClosedLoopSystem]),
			GlucoseMonitoring: code(x[audit.GlucoseMonitoring]), InsulinRegimen: code(x[audit.InsulinRegimen]),
			NonInsulinMedication: code(x[audit.NonInsulinMedication]), CGM: code(x[audit.CGM]),
			SystolicBP: whole(x[audit.SystolicBP]), DiastolicBP: whole(x[audit.DiastolicBP]), BPDate: date(x[audit.BPDate]),
			FootExamDate: date(x[audit.FootExamDate]), RetinalScreeningDate: date(x[audit.RetinalScreeningDate]),
			RetinalScreeningResult: code(x[audit.RetinalScreeningResult]),
			ACR:                    num(x[audit.ACR]), ACRDate: date(x[audit.ACRDate]), AlbuminuriaStage: code(x[audit.AlbuminuriaStage]),
			ThyroidFunctionDate: date(x[audit.ThyroidFunctionDate]), ThyroidTreatment: code(x[audit.ThyroidTreatment]),
			CoeliacScreenDate: date(x[audit.CoeliacScreenDate]), GlutenFreeDiet: code(x[audit.GlutenFreeDiet]),
			PsychScreeningDate: date(x[audit.PsychScreeningDate]), PsychAdditionalSupport: code(x[audit.PsychAdditionalSupport]),
			SmokingStatus: code(x[audit.SmokingStatus]), SmokingVapingStatus: code(x[audit.SmokingVapingStatus]),
			SmokingCessationDate: date(x[audit.SmokingCessationDate]), CarbCountingDate: date(x[audit.CarbCountingDate]),
			DietitianOffered: code(x[audit.DietitianOffered]), DietitianDate: date(x[audit.DietitianDate]),
			KetoneTesting: code(x[audit.KetoneTesting]), FluImmunisationDate: date(x[audit.FluImmunisationDate]),
			SickDayRulesDate: date(x[audit.SickDayRulesDate]), AdmissionDate: date(x[audit.AdmissionDate]),
			DischargeDate: date(x[audit.DischargeDate]), AdmissionReason: code(x[audit.AdmissionReason])})
	}
	return pats
}

func date(v audit.Value) time.Time {
	if !v.Set {
		return time.Time{}
	}
	return v.Date
}

func num(v audit.Value) *float64 {
	if !v.Set {
		return nil
	}
	return &v.Num
}

func whole(v audit.Value) *int16 {
	if !v.Set {
		return nil
	}
	n := int16(v.Num)
	return &n
}

func code(v audit.Value) *int16 {
	if !v.Set {
		return nil
	}
	n, err := strconv.ParseInt(v.Text, 10, 16)
	if err != nil {
		return nil
	}
	c := int16(n)
	return &c
}

// TestOnePatientFourVisits checks results worked out by hand from the rules for the
// RCPCH sample file: a girl born 1 April 2014 (11 on 1 April 2025, so under 12 for the
// 2025 audit year) with Type 1 diabetes since 2015, seen on 22 May, 13 September and
// 13 December 2025 and 30 January 2026. HbA1c 53 and 50 mmol/mol with height, weight and
// blood pressure on 22 May and 13 December; treatment 5 then 2; glucose monitoring 1
// then 5; dietitian offered "no" in September, "yes" with an appointment in January.
func TestOnePatientFourVisits(t *testing.T) {
	pats := readPatients(t, "one_patient_four_visits.csv", 2025)
	if len(pats) != 1 || len(pats[0].Visits) != 4 {
		t.Fatalf("read %d patients; want 1 with 4 visits", len(pats))
	}
	p := pats[0]
	q := func(n int) Period { per, _ := QuarterPeriod(2025, n); return per }
	cases := []struct {
		name string
		per  Period
		want map[string]string
		// values of KPIs 44 (= 45 for one patient), 46 and 32.1 (given/expected).
		hba1c, hbOK    float64
		given, expects float64
	}{
		{name: "year", per: YearPeriod(2025), want: map[string]string{
			"1": "passed", "2": "failed", "3": "passed", "4": "failed", "5": "passed", "6": "failed", "7": "failed",
			"8": "failed", "9": "failed", "10": "failed", "11": "failed", "12": "failed",
			// Latest treatment (13 December) is 2: four or more injections.
			"13": "failed", "14": "passed", "17": "failed", "15": "failed", "24": "failed",
			// Latest monitoring is 5 (other).
			"21": "failed", "22": "failed", "23": "failed",
			"25": "passed/complete", "26": "passed/complete", "27": "failed/missed",
			"28": "ineligible/not_required", "31": "ineligible/not_required",
			"32.1": "failed/incomplete", "32.2": "failed/incomplete", "32.3": "ineligible/not_required",
			"33": "failed/incomplete", "34": "failed/missed", "35": "ineligible/not_required",
			"37": "passed/complete", "38": "passed/complete", "39": "failed/missed", "40": "failed/missed",
			"41": "ineligible/not_required", "44": "passed", "45": "passed", "46": "failed", "47": "failed",
			"48": "failed", "49": "failed",
		}, hba1c: 51.5, hbOK: 1, given: 2, expects: 3},
		{name: "Q1", per: q(1), want: map[string]string{
			"1": "passed", "5": "passed", "17": "passed", "14": "failed", "21": "failed",
			"25": "passed/complete", "26": "passed/complete", "37": "failed/missed", "38": "failed/missed",
		}, hba1c: 53, hbOK: 1, given: 2, expects: 3},
		{name: "Q2: the September visit only", per: q(2), want: map[string]string{
			"1": "passed", "25": "failed/missed", "37": "failed/missed",
			"13": "failed", "14": "failed", "15": "failed", "16": "failed", "17": "failed", "18": "failed", "19": "failed", "20": "failed",
		}, given: 0, expects: 3},
		{name: "Q4", per: q(4), want: map[string]string{
			"1": "passed", "25": "failed/missed", "26": "failed/missed", "37": "passed/complete", "38": "passed/complete", "44": "failed",
		}, given: 0, expects: 3},
		{name: "the 2024 year: no visits", per: YearPeriod(2024), want: map[string]string{
			"1": "ineligible", "3": "ineligible", "25": "ineligible/", "44": "ineligible",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(p, c.per)
			check(t, got, c.want)
			if c.expects == 0 {
				return
			}
			i44, _ := Index("44")
			if r := got[i44]; r.HasValue != (c.hbOK == 1) || math.Abs(r.Value-c.hba1c) > 1e-9 {
				t.Errorf("KPI 44 = %v (HasValue %v), want %v", r.Value, r.HasValue, c.hba1c)
			}
			i32, _ := Index("32.1")
			if r := got[i32]; r.Value != c.given || r.Denominator != c.expects {
				t.Errorf("KPI 32.1 = %v/%v, want %v/%v", r.Value, r.Denominator, c.given, c.expects)
			}
		})
	}
}

// TestDataset2026File reads rows written to the 2026 template's own header through the
// audit reader, so that the 2026 mapping is checked on the values a submission stores.
// Patient 1 (born 1 April 2012, 14 on 1 April 2026, Type 1 since 2019) is seen on
// 10 May 2026 (HbA1c 49 mmol/mol; hybrid closed loop, no other medication, CGM yes,
// vaper) and 15 September 2026 (HbA1c 52 mmol/mol; four or more
// injections with metformin; CGM no; smoking unknown). Patient 2 (Type 2) is seen once
// with no insulin and an unknown medication.
func TestDataset2026File(t *testing.T) {
	head, err := os.ReadFile(filepath.Join(dataDir(t), "npda", "npda_csv_template_-_2026_onwards.csv"))
	if err != nil {
		t.Fatal(err)
	}
	header, err := csv.NewReader(bytes.NewReader(head)).Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(header) != 59 {
		t.Fatalf("the 2026 template has %d columns, want 59", len(header))
	}
	// Cells by 1-based column number of the template.
	row := func(cells map[int]string) []string {
		r := make([]string, len(header))
		for c, v := range cells {
			r[c-1] = v
		}
		return r
	}
	patient := func(nhs, dob, typ, diag string) map[int]string {
		return map[int]string{1: nhs, 2: dob, 3: "GU21 5JG", 4: "2", 5: "A", 8: typ, 9: diag, 13: "G85023", 14: "PZ999"}
	}
	merge := func(a, b map[int]string) map[int]string {
		m := map[int]string{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	p1, p2 := patient("7800713695", "01/04/2012", "1", "10/03/2019"), patient("9434765919", "05/06/2010", "2", "01/02/2022")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, r := range [][]string{
		header,
		row(merge(p1, map[int]string{15: "10/05/2026", 19: "49", 20: "10/05/2026", 21: "5", 22: "1", 24: "1", 43: "3"})),
		row(merge(p1, map[int]string{15: "15/09/2026", 19: "52", 20: "15/09/2026", 21: "3", 22: "2", 24: "2", 43: "99"})),
		row(merge(p2, map[int]string{15: "01/06/2026", 21: "1", 22: "99"})),
	} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	pats := patientsOf(t, buf.Bytes(), 2026, d("2027-01-01"))
	if len(pats) != 2 || pats[0].DatasetVersion != 2026 || len(pats[0].Visits) != 2 {
		t.Fatalf("read %d patients (first: dataset %d); want 2 of the 2026 dataset", len(pats), pats[0].DatasetVersion)
	}
	q1, _ := QuarterPeriod(2026, 1)
	for _, c := range []struct {
		name  string
		p     *Patient
		per   Period
		want  map[string]string
		hba1c float64
	}{
		{"patient 1, year: latest is 4+ injections with metformin", pats[0], YearPeriod(2026),
			treatmentWant("17", map[string]string{"1": "passed", "6": "passed", "21": "ineligible", "22": "failed", "23": "failed", "24": "failed",
				"25": "passed/complete", "35": "passed/complete"}),
			// Median of 49 and 52.
			50.5},
		{"patient 1, Q1: hybrid closed loop, CGM", pats[0], q1,
			treatmentWant("15", map[string]string{"21": "ineligible", "22": "passed", "23": "passed", "24": "passed", "35": "passed/complete"}),
			49},
		{"patient 2: no insulin, medication unknown", pats[1], YearPeriod(2026),
			treatmentWant("", map[string]string{"1": "passed", "3": "failed", "23": "ineligible", "24": "failed", "35": "ineligible/not_required", "44": "failed"}),
			0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(c.p, c.per)
			check(t, got, c.want)
			i, _ := Index("45")
			if r := got[i]; r.HasValue != (c.hba1c != 0) || math.Abs(r.Value-c.hba1c) > 1e-6 {
				t.Errorf("KPI 45 = %.7f (HasValue %v), want %.7f", r.Value, r.HasValue, c.hba1c)
			}
		})
	}
}
