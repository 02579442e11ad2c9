package kpi

import (
	"math"
	"strings"
	"testing"
	"time"
)

func d(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func i16(n int16) *int16       { return &n }
func f64(x float64) *float64   { return &x }
func quarter(q int) Period     { p, _ := QuarterPeriod(2024, q); return p }
func year() Period             { return YearPeriod(2024) }
func visit(date string) Visit  { return Visit{VisitDate: d(date)} }
func rows(vs ...Visit) []Visit { return number(vs) }

// number gives the visits row numbers in order, as a file would.
func number(vs []Visit) []Visit {
	for i := range vs {
		vs[i].RowNumber = i + 2
	}
	return vs
}

// base is a 13-year-old (on 1 April 2024) with Type 1 diabetes diagnosed in 2018, seen
// once in the 2024 audit year, with nothing else recorded: in KPI 1, 3, 4, 5 and 6.
func base(vs ...Visit) *Patient {
	if len(vs) == 0 {
		vs = []Visit{visit("2024-06-10")}
	}
	return &Patient{
		ID: 1, DatasetVersion: 2021,
		DateOfBirth: d("2010-11-20"), DiabetesType: i16(1), DiagnosisDate: d("2018-01-15"),
		Visits: number(vs),
	}
}

// with applies changes to base's patient.
func with(p *Patient, f func(*Patient)) *Patient { f(p); return p }

// check compares results with expectations written "outcome" or "outcome/care", e.g.
// "passed", "failed/missed", "ineligible/incomplete_year_of_care".
func check(t *testing.T, got []Result, want map[string]string) {
	t.Helper()
	if len(got) != len(Definitions) {
		t.Fatalf("got %d results, want %d", len(got), len(Definitions))
	}
	for id, w := range want {
		i, ok := Index(id)
		if !ok {
			t.Fatalf("unknown KPI %q in the test", id)
		}
		r := got[i]
		out, care, hasCare := strings.Cut(w, "/")
		if r.Outcome.String() != out {
			t.Errorf("KPI %s: outcome %s, want %s", id, r.Outcome, out)
		}
		if hasCare && r.Care.String() != care {
			t.Errorf("KPI %s: care %q, want %q", id, r.Care, care)
		}
	}
}

type kpiCase struct {
	name string
	p    *Patient
	per  Period
	want map[string]string
}

func runCases(t *testing.T, cases []kpiCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			per := c.per
			if per.Start.IsZero() {
				per = year()
			}
			check(t, Evaluate(c.p, per), c.want)
		})
	}
}

func TestDefinitions(t *testing.T) {
	var ids []string
	for _, def := range Definitions {
		ids = append(ids, def.ID)
		if def.Name == "" || def.Kind == 0 {
			t.Errorf("KPI %s has no name or kind", def.ID)
		}
	}
	want := "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 " +
		"32.1 32.2 32.3 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("IDs:\n%s\nwant\n%s", got, want)
	}
	for id, pos := range map[string]int{"1": 0, "31": 30, "32.1": 31, "32.3": 33, "33": 34, "49": 50} {
		if i, ok := Index(id); !ok || i != pos {
			t.Errorf("Index(%q) = %d, %v; want %d", id, i, ok, pos)
		}
	}
	if _, ok := Index("32"); ok {
		t.Error(`Index("32") found a KPI; 32 has only its parts`)
	}
	if numKPIs != len(Definitions) {
		t.Errorf("numKPIs = %d, len(Definitions) = %d", numKPIs, len(Definitions))
	}
	for _, k := range []struct {
		id   string
		kind Kind
	}{{"1", Count}, {"12", Count}, {"13", Proportion}, {"32.1", Ratio}, {"32.2", Proportion}, {"44", Mean}, {"45", Median}, {"46", Sum}, {"47", Sum}, {"49", Proportion}} {
		if i, _ := Index(k.id); Definitions[i].Kind != k.kind {
			t.Errorf("KPI %s kind %d, want %d", k.id, Definitions[i].Kind, k.kind)
		}
	}
}

func TestAgeAt(t *testing.T) {
	for _, c := range []struct {
		born, at string
		want     int
	}{
		{"2012-04-01", "2024-04-01", 12}, // birthday on the day
		{"2012-04-02", "2024-04-01", 11},
		{"2012-02-29", "2024-02-28", 11},
		{"2012-02-29", "2024-02-29", 12},
		{"2012-02-29", "2025-02-28", 12}, // no 29 February in 2025: not yet 13
		{"2012-02-29", "2025-03-01", 13},
		{"1999-04-01", "2024-04-01", 25},
		{"2000-02-29", "2024-04-01", 24},
		{"2024-05-01", "2024-04-01", -1}, // born during the period
	} {
		if got := AgeAt(d(c.born), d(c.at)); got != c.want {
			t.Errorf("AgeAt(%s, %s) = %d, want %d", c.born, c.at, got, c.want)
		}
	}
}

func TestHbA1cMmolMol(t *testing.T) {
	for _, c := range []struct {
		v       float64
		format  *int16
		version int
		want    float64
	}{
		{58, i16(1), 2021, 58},
		{7.5, i16(2), 2021, 58.4608658},   // (7.5 − 2.152) / 0.09148
		{7.5, nil, 2021, 58.4608658},      // missing format, ≤ 20: a percentage
		{20, nil, 2021, 195.1027547},      // 20 is still a percentage
		{20.5, nil, 2021, 20.5},           // above 20: mmol/mol
		{6.5, i16(1), 2026, 47.5295147},   // 2026 has no format: the value decides
		{48, nil, 2026, 48},               //
		{15, i16(1), 2021, 15},            // a stated format wins in 2021
		{2.152, i16(2), 2021, 0},          // the offset of the conversion
		{11.3, i16(2), 2021, 100.0000000}, // (11.3 − 2.152) / 0.09148 = 9.148 / 0.09148
	} {
		if got := HbA1cMmolMol(c.v, c.format, c.version); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("HbA1cMmolMol(%v, %v, %d) = %.7f, want %.7f", c.v, c.format, c.version, got, c.want)
		}
	}
}

func TestPopulation(t *testing.T) {
	runCases(t, []kpiCase{
		{name: "visit on 31 March is in the year", p: base(visit("2025-03-31")),
			want: map[string]string{"1": "passed", "3": "passed", "4": "passed", "5": "passed", "6": "passed", "2": "failed", "7": "failed"}},
		{name: "visit on 1 April is the next year", p: base(visit("2025-04-01")),
			want: map[string]string{"1": "ineligible", "3": "ineligible", "5": "ineligible", "25": "ineligible/", "44": "ineligible"}},
		{name: "visit on 31 March 2024 is the previous year", p: base(visit("2024-03-31")),
			want: map[string]string{"1": "ineligible"}},
		{name: "visit on 1 April is in the year", p: base(visit("2024-04-01")),
			want: map[string]string{"1": "passed"}},
		{name: "visit on 31 March is in Q4", p: base(visit("2025-03-31")), per: quarter(4),
			want: map[string]string{"1": "passed"}},
		{name: "visit on 31 March is not in Q3", p: base(visit("2025-03-31")), per: quarter(3),
			want: map[string]string{"1": "ineligible"}},
		{name: "visit on 1 April 2024 is in Q1", p: base(visit("2024-04-01")), per: quarter(1),
			want: map[string]string{"1": "passed"}},
		{name: "admission start in the period counts without a visit",
			p:    base(Visit{AdmissionDate: d("2024-09-01"), DischargeDate: d("2024-09-03"), AdmissionReason: i16(2)}),
			want: map[string]string{"1": "passed", "46": "passed", "47": "passed"}},
		{name: "only a discharge in the period does not count for KPI 1",
			p:    base(Visit{AdmissionDate: d("2024-03-30"), DischargeDate: d("2024-04-02"), AdmissionReason: i16(2)}),
			want: map[string]string{"1": "ineligible", "46": "ineligible"}},
		{name: "no valid date of birth", p: with(base(), func(p *Patient) { p.DateOfBirth = time.Time{} }),
			want: map[string]string{"1": "ineligible", "3": "ineligible"}},
		{name: "aged 25 on the period start", p: with(base(), func(p *Patient) { p.DateOfBirth = d("1999-04-01") }),
			want: map[string]string{"1": "ineligible"}},
		{name: "24 the day before the period start", p: with(base(), func(p *Patient) { p.DateOfBirth = d("1999-04-02") }),
			want: map[string]string{"1": "passed", "4": "passed"}},
		{name: "born 29 February 2000: 24 on 1 April 2024", p: with(base(), func(p *Patient) { p.DateOfBirth = d("2000-02-29") }),
			want: map[string]string{"1": "passed"}},
		{name: "born 29 February 2000: 25 on 1 April 2025", p: with(base(visit("2025-06-01")), func(p *Patient) { p.DateOfBirth = d("2000-02-29") }),
			per: YearPeriod(2025), want: map[string]string{"1": "ineligible"}},
		{name: "aged 12 on the period start", p: with(base(), func(p *Patient) { p.DateOfBirth = d("2012-04-01") }),
			want: map[string]string{"3": "passed", "4": "passed", "6": "passed", "28": "failed/missed"}},
		{name: "11 on the period start", p: with(base(), func(p *Patient) { p.DateOfBirth = d("2012-04-02") }),
			want: map[string]string{"3": "passed", "4": "failed", "5": "passed", "6": "failed", "28": "ineligible/not_required"}},
		{name: "born 29 February 2012: 12 on 1 April 2024", p: with(base(), func(p *Patient) { p.DateOfBirth = d("2012-02-29") }),
			want: map[string]string{"4": "passed", "6": "passed"}},
		{name: "12 at the start of Q2 but not of the year", p: with(base(visit("2024-08-01")), func(p *Patient) { p.DateOfBirth = d("2012-07-01") }),
			per: quarter(2), want: map[string]string{"4": "passed", "6": "passed"}},
		{name: "12 during the year counts as 11", p: with(base(visit("2024-08-01")), func(p *Patient) { p.DateOfBirth = d("2012-07-01") }),
			want: map[string]string{"4": "failed", "6": "failed"}},
		{name: "type 2", p: with(base(), func(p *Patient) { p.DiabetesType = i16(2) }),
			want: map[string]string{"1": "passed", "3": "failed", "5": "failed", "25": "ineligible/not_required", "23": "ineligible", "40": "failed/missed"}},
		{name: "no valid diabetes type", p: with(base(), func(p *Patient) { p.DiabetesType = nil }),
			want: map[string]string{"1": "passed", "3": "failed"}},
		{name: "diagnosed in the period", p: with(base(), func(p *Patient) { p.DiagnosisDate = d("2024-05-01") }),
			want: map[string]string{"2": "passed", "3": "passed", "5": "failed", "6": "failed", "7": "passed", "25": "ineligible/incomplete_year_of_care", "28": "ineligible/incomplete_year_of_care"}},
		{name: "diagnosed the day before the period", p: with(base(), func(p *Patient) { p.DiagnosisDate = d("2024-03-31") }),
			want: map[string]string{"2": "failed", "5": "passed", "7": "failed"}},
		{name: "type 2 diagnosed in the period is a new diagnosis but not KPI 7", p: with(base(), func(p *Patient) { p.DiabetesType = i16(2); p.DiagnosisDate = d("2024-05-01") }),
			want: map[string]string{"2": "passed", "7": "failed"}},
		{name: "died in the period", p: with(base(), func(p *Patient) { p.DeathDate = d("2025-03-31") }),
			want: map[string]string{"8": "passed", "5": "failed", "6": "failed", "3": "passed", "31": "ineligible/incomplete_year_of_care"}},
		{name: "died after the period", p: with(base(), func(p *Patient) { p.DeathDate = d("2025-04-01") }),
			want: map[string]string{"8": "failed", "5": "passed"}},
		{name: "died in Q3: Q1 is still complete", p: with(base(), func(p *Patient) { p.DeathDate = d("2024-11-01") }),
			per: quarter(1), want: map[string]string{"8": "failed", "5": "passed"}},
		{name: "transferred out in the period", p: with(base(), func(p *Patient) { p.DateLeavingService = d("2024-10-01"); p.LeavingReason = i16(2) }),
			want: map[string]string{"9": "passed", "5": "failed", "6": "failed", "26": "ineligible/incomplete_year_of_care"}},
		{name: "transitioned to adult services on the last day", p: with(base(), func(p *Patient) { p.DateLeavingService = d("2025-03-31"); p.LeavingReason = i16(1) }),
			want: map[string]string{"9": "passed", "5": "failed"}},
		{name: "left before the period but seen in it", p: with(base(), func(p *Patient) { p.DateLeavingService = d("2024-03-01"); p.LeavingReason = i16(3) }),
			want: map[string]string{"1": "passed", "9": "failed", "5": "passed"}},
	})
}

func TestLatestRecords(t *testing.T) {
	v := func(date string, f func(*Visit)) Visit { x := visit(date); f(&x); return x }
	runCases(t, []kpiCase{
		{name: "latest gluten-free answer wins over an earlier yes",
			p:    base(v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(1) }), v("2024-09-01", func(x *Visit) { x.GlutenFreeDiet = i16(2) })),
			want: map[string]string{"10": "failed"}},
		{name: "latest is yes",
			p:    base(v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(2) }), v("2024-09-01", func(x *Visit) { x.GlutenFreeDiet = i16(1) })),
			want: map[string]string{"10": "passed"}},
		{name: "a later visit without the item does not hide it",
			p:    base(v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(1) }), visit("2024-09-01")),
			want: map[string]string{"10": "passed"}},
		{name: "99 (unknown) is a recorded answer",
			p:    base(v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(1) }), v("2024-09-01", func(x *Visit) { x.GlutenFreeDiet = i16(99) })),
			want: map[string]string{"10": "failed"}},
		{name: "visits after the period are not read",
			p:    base(v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(1) }), v("2025-04-01", func(x *Visit) { x.GlutenFreeDiet = i16(2) })),
			want: map[string]string{"10": "passed"}},
		{name: "same visit date: the later coeliac screening date wins",
			p: base(
				v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(1); x.CoeliacScreenDate = d("2024-04-20") }),
				v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(2); x.CoeliacScreenDate = d("2024-04-10") })),
			want: map[string]string{"10": "passed"}},
		{name: "same visit and screening dates: the later row wins",
			p: base(
				v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(2); x.CoeliacScreenDate = d("2024-04-20") }),
				v("2024-05-01", func(x *Visit) { x.GlutenFreeDiet = i16(1); x.CoeliacScreenDate = d("2024-04-20") })),
			want: map[string]string{"10": "passed"}},
		{name: "latest visit wins even when its row comes first",
			p: base(
				v("2024-12-01", func(x *Visit) { x.ThyroidTreatment = i16(3) }),
				v("2024-05-01", func(x *Visit) { x.ThyroidTreatment = i16(1) })),
			want: map[string]string{"11": "passed"}},
		{name: "thyroxine latest",
			p:    base(v("2024-12-01", func(x *Visit) { x.ThyroidTreatment = i16(2) })),
			want: map[string]string{"11": "passed", "12": "failed"}},
		{name: "no thyroid therapy latest",
			p:    base(v("2024-05-01", func(x *Visit) { x.ThyroidTreatment = i16(2) }), v("2024-12-01", func(x *Visit) { x.ThyroidTreatment = i16(1) })),
			want: map[string]string{"11": "failed"}},
		{name: "ketone testing", p: base(v("2024-12-01", func(x *Visit) { x.KetoneTesting = i16(1) })),
			want: map[string]string{"12": "passed"}},
		{name: "latest albuminuria stage by visit date",
			p:    base(v("2024-05-01", func(x *Visit) { x.AlbuminuriaStage = i16(1) }), v("2024-10-01", func(x *Visit) { x.AlbuminuriaStage = i16(3) })),
			want: map[string]string{"49": "passed"}},
		{name: "albuminuria ties by ACR date",
			p: base(
				v("2024-10-01", func(x *Visit) { x.AlbuminuriaStage = i16(2); x.ACRDate = d("2024-09-30") }),
				v("2024-10-01", func(x *Visit) { x.AlbuminuriaStage = i16(1); x.ACRDate = d("2024-09-01") })),
			want: map[string]string{"49": "passed"}},
		{name: "normoalbuminuria latest", p: base(v("2024-05-01", func(x *Visit) { x.AlbuminuriaStage = i16(2) }), v("2024-10-01", func(x *Visit) { x.AlbuminuriaStage = i16(1) })),
			want: map[string]string{"49": "failed"}},
		{name: "psychological support on a visit in the period", p: base(visit("2024-05-01"), v("2025-03-31", func(x *Visit) { x.PsychAdditionalSupport = i16(1) })),
			want: map[string]string{"48": "passed"}},
		{name: "psychological support only after the period", p: base(visit("2024-05-01"), v("2025-04-01", func(x *Visit) { x.PsychAdditionalSupport = i16(1) })),
			want: map[string]string{"48": "failed"}},
	})
}

// treatmentWant expects exactly one of KPIs 13–20 to pass (none when pass is "").
func treatmentWant(pass string, extra map[string]string) map[string]string {
	w := map[string]string{}
	for _, id := range []string{"13", "14", "15", "16", "17", "18", "19", "20"} {
		w[id] = "failed"
		if id == pass {
			w[id] = "passed"
		}
	}
	for k, v := range extra {
		w[k] = v
	}
	return w
}

func TestTreatment2021(t *testing.T) {
	tx := func(date string, code int16, tie string) Visit {
		x := visit(date)
		x.Treatment = i16(code)
		if tie != "" {
			x.HbA1cDate = d(tie)
		}
		return x
	}
	cl := func(date string, code int16) Visit { x := visit(date); x.ClosedLoopSystem = i16(code); return x }
	gm := func(date string, code int16) Visit { x := visit(date); x.GlucoseMonitoring = i16(code); return x }
	cases := []kpiCase{
		{name: "nothing recorded", p: base(), want: treatmentWant("", map[string]string{"24": "failed", "21": "failed", "22": "failed"})},
		{name: "unknown treatment", p: base(tx("2024-05-01", 99, "")), want: treatmentWant("", nil)},
		{name: "latest treatment, not any", p: base(tx("2024-05-01", 2, ""), tx("2024-11-01", 1, "")), want: treatmentWant("13", nil)},
		{name: "tie on visit date broken by HbA1c date", p: base(tx("2024-11-01", 7, "2024-10-30"), tx("2024-11-01", 5, "2024-10-01")), want: treatmentWant("19", nil)},
		{name: "full tie: later row", p: base(tx("2024-11-01", 7, "2024-10-30"), tx("2024-11-01", 8, "2024-10-30")), want: treatmentWant("20", nil)},
		{name: "pump only code 3 for KPI 15", p: base(tx("2024-11-01", 6, "")), want: treatmentWant("18", nil)},
		{name: "pump with closed loop on another visit", p: base(tx("2024-05-01", 3, ""), cl("2024-11-01", 2)),
			want: treatmentWant("15", map[string]string{"24": "passed"})},
		{name: "pump plus medication, DIY loop", p: base(cl("2024-05-01", 3), tx("2024-11-01", 6, "")),
			want: treatmentWant("18", map[string]string{"24": "passed"})},
		{name: "latest closed-loop answer no", p: base(tx("2024-05-01", 3, ""), cl("2024-05-01", 4), cl("2024-11-01", 1)),
			want: treatmentWant("15", map[string]string{"24": "failed"})},
		{name: "closed loop but latest treatment injections", p: base(tx("2024-05-01", 3, ""), cl("2024-05-01", 2), tx("2024-11-01", 2, "")),
			want: treatmentWant("14", map[string]string{"24": "failed"})},
		{name: "flash monitor", p: base(gm("2024-05-01", 3)), want: map[string]string{"21": "passed", "22": "failed", "23": "failed"}},
		{name: "real-time CGM latest", p: base(gm("2024-05-01", 2), gm("2024-06-01", 4)), want: map[string]string{"21": "failed", "22": "passed", "23": "passed"}},
		{name: "real-time CGM, type 2", p: with(base(gm("2024-05-01", 4)), func(p *Patient) { p.DiabetesType = i16(2) }),
			want: map[string]string{"22": "passed", "23": "ineligible"}},
		{name: "treatment in Q1 only is not Q2's", p: base(tx("2024-05-01", 2, ""), visit("2024-08-01")), per: quarter(2), want: treatmentWant("", nil)},
		{name: "quarter reads its own latest", p: base(tx("2024-05-01", 2, ""), tx("2024-08-01", 1, "")), per: quarter(1), want: treatmentWant("14", nil)},
	}
	runCases(t, cases)
}

func TestDataset2026(t *testing.T) {
	p26 := func(vs ...Visit) *Patient { return with(base(vs...), func(p *Patient) { p.DatasetVersion = 2026 }) }
	rx := func(date string, regimen, med *int16) Visit {
		x := visit(date)
		x.InsulinRegimen, x.NonInsulinMedication = regimen, med
		return x
	}
	cgm := func(date string, code int16) Visit { x := visit(date); x.CGM = i16(code); return x }
	smoke := func(date string, code int16) Visit { x := visit(date); x.SmokingVapingStatus = i16(code); return x }
	runCases(t, []kpiCase{
		{name: "1–3 injections, no medication", p: p26(rx("2024-05-01", i16(2), i16(1))), want: treatmentWant("13", nil)},
		{name: "1–3 injections, medication unknown", p: p26(rx("2024-05-01", i16(2), i16(99))), want: treatmentWant("13", nil)},
		{name: "4+ injections, medication missing", p: p26(rx("2024-05-01", i16(3), nil)), want: treatmentWant("14", nil)},
		{name: "standalone pump", p: p26(rx("2024-05-01", i16(4), i16(1))), want: treatmentWant("15", map[string]string{"24": "failed"})},
		{name: "hybrid closed loop", p: p26(rx("2024-05-01", i16(5), nil)), want: treatmentWant("15", map[string]string{"24": "passed"})},
		{name: "1–3 injections with metformin", p: p26(rx("2024-05-01", i16(2), i16(2))), want: treatmentWant("16", nil)},
		{name: "4+ injections with GLP-1", p: p26(rx("2024-05-01", i16(3), i16(3))), want: treatmentWant("17", nil)},
		{name: "closed loop with SGLT2", p: p26(rx("2024-05-01", i16(5), i16(4))), want: treatmentWant("18", map[string]string{"24": "passed"})},
		{name: "no insulin, no medication", p: p26(rx("2024-05-01", i16(1), i16(1))), want: treatmentWant("19", nil)},
		{name: "no insulin, other medication", p: p26(rx("2024-05-01", i16(1), i16(5))), want: treatmentWant("20", nil)},
		{name: "no insulin, medication unknown", p: p26(rx("2024-05-01", i16(1), i16(99))), want: treatmentWant("", nil)},
		{name: "regimen unknown", p: p26(rx("2024-05-01", i16(99), i16(1))), want: treatmentWant("", map[string]string{"24": "failed"})},
		{name: "medication read from the latest regimen's row", p: p26(rx("2024-05-01", i16(3), i16(2)), rx("2024-09-01", i16(3), nil), rx("2024-10-01", nil, i16(2))),
			want: treatmentWant("14", nil)},
		{name: "latest regimen", p: p26(rx("2024-05-01", i16(5), nil), rx("2024-09-01", i16(3), nil)), want: treatmentWant("14", map[string]string{"24": "failed"})},
		{name: "2021 treatment column ignored in 2026", p: p26(Visit{VisitDate: d("2024-05-01"), Treatment: i16(3)}), want: treatmentWant("", nil)},
		{name: "CGM yes", p: p26(cgm("2024-05-01", 1)), want: map[string]string{"21": "ineligible", "22": "passed", "23": "passed"}},
		{name: "latest CGM no", p: p26(cgm("2024-05-01", 1), cgm("2024-06-01", 2)), want: map[string]string{"21": "ineligible", "22": "failed", "23": "failed"}},
		{name: "vaper screened", p: p26(smoke("2024-05-01", 3)), want: map[string]string{"35": "passed/complete"}},
		{name: "smoker and vaper screened", p: p26(smoke("2024-05-01", 4)), want: map[string]string{"35": "passed/complete"}},
		{name: "smoking unknown", p: p26(smoke("2024-05-01", 99)), want: map[string]string{"35": "failed/incomplete"}},
		{name: "2021 smoking column ignored in 2026", p: p26(Visit{VisitDate: d("2024-05-01"), SmokingStatus: i16(1)}), want: map[string]string{"35": "failed/missed"}},
	})
}

func TestCareProcesses(t *testing.T) {
	v := func(date string, f func(*Visit)) Visit { x := visit(date); f(&x); return x }
	young := func(p *Patient) { p.DateOfBirth = d("2015-01-01") }
	runCases(t, []kpiCase{
		{name: "nothing recorded", p: base(),
			want: map[string]string{"25": "failed/missed", "26": "failed/missed", "27": "failed/missed", "28": "failed/missed", "29": "failed/missed",
				"30": "failed/missed", "31": "failed/missed", "33": "failed/missed", "34": "failed/missed", "35": "failed/missed", "36": "failed/missed",
				"37": "failed/missed", "38": "failed/missed", "39": "failed/missed", "40": "failed/missed", "32.1": "failed/missed", "32.3": "failed/missed",
				"32.2": "ineligible/not_required", "41": "ineligible/not_required"}},
		{name: "HbA1c observed on 31 March", p: base(v("2025-03-31", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2025-03-31") })),
			want: map[string]string{"25": "passed/complete"}},
		{name: "HbA1c observed on 1 April after the year", p: base(v("2025-03-31", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2025-04-01") })),
			want: map[string]string{"25": "failed/missed"}},
		{name: "HbA1c dated in the period on a visit outside it", p: base(visit("2024-05-01"), v("2025-04-10", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2025-03-20") })),
			want: map[string]string{"25": "passed/complete"}},
		{name: "HbA1c date without a value", p: base(v("2024-05-01", func(x *Visit) { x.HbA1cDate = d("2024-05-01") })),
			want: map[string]string{"25": "failed/incomplete", "33": "failed/incomplete"}},
		{name: "HbA1c value without a date", p: base(v("2024-05-01", func(x *Visit) { x.HbA1c = f64(50) })),
			want: map[string]string{"25": "failed/incomplete"}},
		{name: "HbA1c in Q2 passes Q2 and not Q1", p: base(visit("2024-04-05"), v("2024-07-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-07-01") })),
			per: quarter(1), want: map[string]string{"25": "failed/missed"}},
		{name: "height and weight on one row", p: base(v("2024-05-01", func(x *Visit) { x.Height = f64(150); x.Weight = f64(40); x.HeightWeightDate = d("2024-05-01") })),
			want: map[string]string{"26": "passed/complete"}},
		{name: "height and weight on different rows", p: base(
			v("2024-05-01", func(x *Visit) { x.Height = f64(150); x.HeightWeightDate = d("2024-05-01") }),
			v("2024-06-01", func(x *Visit) { x.Weight = f64(40); x.HeightWeightDate = d("2024-06-01") })),
			want: map[string]string{"26": "failed/incomplete"}},
		{name: "thyroid date", p: base(v("2024-05-01", func(x *Visit) { x.ThyroidFunctionDate = d("2024-04-01") })),
			want: map[string]string{"27": "passed/complete"}},
		{name: "thyroid date before the period", p: base(v("2024-05-01", func(x *Visit) { x.ThyroidFunctionDate = d("2024-03-31") })),
			want: map[string]string{"27": "failed/missed"}},
		{name: "systolic without diastolic", p: base(v("2024-05-01", func(x *Visit) { x.SystolicBP = i16(110); x.BPDate = d("2024-05-01") })),
			want: map[string]string{"28": "passed/complete"}},
		{name: "diastolic only", p: base(v("2024-05-01", func(x *Visit) { x.DiastolicBP = i16(70); x.BPDate = d("2024-05-01") })),
			want: map[string]string{"28": "failed/incomplete"}},
		{name: "blood pressure under 12 is not required", p: with(base(v("2024-05-01", func(x *Visit) { x.SystolicBP = i16(110); x.BPDate = d("2024-05-01") })), young),
			want: map[string]string{"28": "ineligible/not_required", "29": "ineligible/not_required", "30": "ineligible/not_required", "31": "ineligible/not_required",
				"35": "ineligible/not_required", "36": "ineligible/not_required", "25": "failed/missed"}},
		{name: "urinary albumin", p: base(v("2024-05-01", func(x *Visit) { x.ACR = f64(1.2); x.ACRDate = d("2024-05-01") })),
			want: map[string]string{"29": "passed/complete"}},
		{name: "urinary albumin date only", p: base(v("2024-05-01", func(x *Visit) { x.ACRDate = d("2024-05-01"); x.AlbuminuriaStage = i16(1) })),
			want: map[string]string{"29": "failed/incomplete"}},
		{name: "retinal screening normal", p: base(v("2024-05-01", func(x *Visit) { x.RetinalScreeningResult = i16(1); x.RetinalScreeningDate = d("2024-05-01") })),
			want: map[string]string{"30": "passed/complete"}},
		{name: "retinal screening abnormal", p: base(v("2024-05-01", func(x *Visit) { x.RetinalScreeningResult = i16(2); x.RetinalScreeningDate = d("2025-03-31") })),
			want: map[string]string{"30": "passed/complete"}},
		{name: "retinal screening result unknown", p: base(v("2024-05-01", func(x *Visit) { x.RetinalScreeningResult = i16(99); x.RetinalScreeningDate = d("2024-05-01") })),
			want: map[string]string{"30": "failed/incomplete"}},
		{name: "foot examination", p: base(v("2024-05-01", func(x *Visit) { x.FootExamDate = d("2024-06-01") })),
			want: map[string]string{"31": "passed/complete"}},
		{name: "four HbA1c dates", p: base(
			v("2024-05-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-05-01") }),
			v("2024-08-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-08-01") }),
			v("2024-11-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-11-01") }),
			v("2025-02-01", func(x *Visit) { x.HbA1c, x.HbA1cFormat = f64(7), i16(2); x.HbA1cDate = d("2025-02-01") })),
			want: map[string]string{"33": "passed/complete", "25": "passed/complete"}},
		{name: "four HbA1c rows on three dates", p: base(
			v("2024-05-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-05-01") }),
			v("2024-05-02", func(x *Visit) { x.HbA1c = f64(51); x.HbA1cDate = d("2024-05-01") }),
			v("2024-11-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-11-01") }),
			v("2025-02-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2025-02-01") })),
			want: map[string]string{"33": "failed/incomplete"}},
		{name: "four HbA1c dates, one without a value", p: base(
			v("2024-05-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-05-01") }),
			v("2024-08-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-08-01") }),
			v("2024-11-01", func(x *Visit) { x.HbA1c = f64(50); x.HbA1cDate = d("2024-11-01") }),
			v("2025-02-01", func(x *Visit) { x.HbA1cDate = d("2025-02-01") })),
			want: map[string]string{"33": "failed/incomplete"}},
		{name: "psychological screening", p: base(v("2024-05-01", func(x *Visit) { x.PsychScreeningDate = d("2024-05-01") })),
			want: map[string]string{"34": "passed/complete"}},
		{name: "smoking status non-smoker", p: base(v("2024-05-01", func(x *Visit) { x.SmokingStatus = i16(1) })),
			want: map[string]string{"35": "passed/complete"}},
		{name: "smoking status unknown", p: base(v("2024-05-01", func(x *Visit) { x.SmokingStatus = i16(99) })),
			want: map[string]string{"35": "failed/incomplete"}},
		{name: "smoking status on a visit after the period", p: base(visit("2024-05-01"), v("2025-04-01", func(x *Visit) { x.SmokingStatus = i16(2) })),
			want: map[string]string{"35": "failed/missed"}},
		{name: "smoking cessation referral", p: base(v("2024-05-01", func(x *Visit) { x.SmokingStatus = i16(2); x.SmokingCessationDate = d("2024-05-01") })),
			want: map[string]string{"35": "passed/complete", "36": "passed/complete"}},
		{name: "dietitian offered and attended", p: base(v("2024-05-01", func(x *Visit) { x.DietitianOffered = i16(1); x.DietitianDate = d("2024-07-01") })),
			want: map[string]string{"37": "passed/complete", "38": "passed/complete"}},
		{name: "dietitian not offered", p: base(v("2024-05-01", func(x *Visit) { x.DietitianOffered = i16(2) })),
			want: map[string]string{"37": "failed/missed"}},
		{name: "flu and sick-day rules", p: base(v("2024-05-01", func(x *Visit) { x.FluImmunisationDate = d("2024-10-01"); x.SickDayRulesDate = d("2024-10-01") })),
			want: map[string]string{"39": "passed/complete", "40": "passed/complete"}},
		{name: "sick-day rules for a patient without a complete year", p: with(base(v("2024-05-01", func(x *Visit) { x.SickDayRulesDate = d("2024-10-01") })), func(p *Patient) { p.DiabetesType = i16(2); p.DiagnosisDate = d("2024-04-20") }),
			want: map[string]string{"40": "passed/complete", "39": "ineligible/not_required"}},
	})
}

func TestHealthChecks(t *testing.T) {
	checks := func(date string, bp, acr, foot bool) Visit {
		x := visit(date)
		x.HbA1c, x.HbA1cDate = f64(50), d(date)
		x.Height, x.Weight, x.HeightWeightDate = f64(150), f64(40), d(date)
		x.ThyroidFunctionDate = d(date)
		if bp {
			x.SystolicBP, x.BPDate = i16(110), d(date)
		}
		if acr {
			x.ACR, x.ACRDate = f64(1), d(date)
		}
		if foot {
			x.FootExamDate = d(date)
		}
		return x
	}
	young := func(p *Patient) { p.DateOfBirth = d("2015-01-01") }
	cases := []struct {
		name       string
		p          *Patient
		want       map[string]string
		given, exp float64
	}{
		{"12+ with all six", base(checks("2024-05-01", true, true, true)),
			map[string]string{"32.1": "passed/complete", "32.3": "passed/complete", "32.2": "ineligible/not_required"}, 6, 6},
		{"12+ with four of six", base(checks("2024-05-01", true, false, false)),
			map[string]string{"32.1": "failed/incomplete", "32.3": "failed/incomplete"}, 4, 6},
		{"12+ with none", base(),
			map[string]string{"32.1": "failed/missed", "32.3": "failed/missed"}, 0, 6},
		{"under 12 with the three", with(base(checks("2024-05-01", false, false, false)), young),
			map[string]string{"32.1": "passed/complete", "32.2": "passed/complete", "32.3": "ineligible/not_required"}, 3, 3},
		{"under 12: BP and foot exam do not count", with(base(checks("2024-05-01", true, true, true)), young),
			map[string]string{"32.2": "passed/complete"}, 3, 3},
		{"under 12 with HbA1c only", with(base(Visit{VisitDate: d("2024-05-01"), HbA1c: f64(50), HbA1cDate: d("2024-05-01")}), young),
			map[string]string{"32.1": "failed/incomplete", "32.2": "failed/incomplete"}, 1, 3},
		{"retinal screening is not a health check", base(func() Visit {
			x := checks("2024-05-01", true, true, false)
			x.RetinalScreeningResult, x.RetinalScreeningDate = i16(1), d("2024-05-01")
			return x
		}()), map[string]string{"32.1": "failed/incomplete", "30": "passed/complete"}, 5, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(c.p, year())
			check(t, got, c.want)
			i, _ := Index("32.1")
			if r := got[i]; !r.HasValue || r.Value != c.given || r.Denominator != c.exp {
				t.Errorf("32.1 = %v/%v (HasValue %v), want %v/%v", r.Value, r.Denominator, r.HasValue, c.given, c.exp)
			}
		})
	}
	t.Run("incomplete year has no share of 32.1", func(t *testing.T) {
		p := with(base(checks("2024-05-01", true, true, true)), func(p *Patient) { p.DiagnosisDate = d("2024-04-10") })
		got := Evaluate(p, year())
		check(t, got, map[string]string{"32.1": "ineligible/incomplete_year_of_care", "32.3": "ineligible/incomplete_year_of_care"})
		if i, _ := Index("32.1"); got[i].HasValue || got[i].Denominator != 0 {
			t.Errorf("32.1 of an ineligible patient = %+v", got[i])
		}
	})
}

func TestCareAtDiagnosis(t *testing.T) {
	// The 2024 year ends on 31 March 2025: 90 days before is 31 December 2024, 14 days
	// before is 17 March 2025.
	newT1 := func(diag string, vs ...Visit) *Patient {
		if len(vs) == 0 {
			vs = []Visit{visit("2025-03-30")}
		}
		return with(base(vs...), func(p *Patient) { p.DiagnosisDate = d(diag) })
	}
	v := func(f func(*Visit)) Visit { x := visit("2025-03-30"); f(&x); return x }
	runCases(t, []kpiCase{
		{name: "diagnosed exactly 90 days before the end", p: newT1("2024-12-31"),
			want: map[string]string{"7": "passed", "41": "ineligible/not_required", "42": "ineligible/not_required", "43": "failed/missed"}},
		{name: "diagnosed 91 days before the end", p: newT1("2024-12-30"),
			want: map[string]string{"41": "failed/missed", "42": "failed/missed"}},
		{name: "diagnosed exactly 14 days before the end", p: newT1("2025-03-17"),
			want: map[string]string{"43": "ineligible/not_required"}},
		{name: "diagnosed 15 days before the end", p: newT1("2025-03-16"),
			want: map[string]string{"43": "failed/missed"}},
		{name: "diagnosed before the period", p: base(),
			want: map[string]string{"41": "ineligible/not_required", "43": "ineligible/not_required"}},
		{name: "type 2 diagnosed in the period", p: with(newT1("2024-05-01"), func(p *Patient) { p.DiabetesType = i16(2) }),
			want: map[string]string{"41": "ineligible/not_required"}},
		{name: "coeliac screen 90 days after diagnosis", p: newT1("2024-05-01", v(func(x *Visit) { x.CoeliacScreenDate = d("2024-07-30") })),
			want: map[string]string{"41": "passed/complete"}},
		{name: "coeliac screen 91 days after diagnosis", p: newT1("2024-05-01", v(func(x *Visit) { x.CoeliacScreenDate = d("2024-07-31") })),
			want: map[string]string{"41": "failed/missed"}},
		{name: "coeliac screen 90 days before diagnosis, outside the period", p: newT1("2024-05-01", v(func(x *Visit) { x.CoeliacScreenDate = d("2024-02-01") })),
			want: map[string]string{"41": "passed/complete"}},
		{name: "coeliac screen 91 days before diagnosis", p: newT1("2024-05-01", v(func(x *Visit) { x.CoeliacScreenDate = d("2024-01-31") })),
			want: map[string]string{"41": "failed/missed"}},
		{name: "thyroid 90 days after diagnosis", p: newT1("2024-05-01", v(func(x *Visit) { x.ThyroidFunctionDate = d("2024-07-30") })),
			want: map[string]string{"42": "passed/complete", "41": "failed/missed"}},
		{name: "carbohydrate counting 7 days before", p: newT1("2024-05-08", v(func(x *Visit) { x.CarbCountingDate = d("2024-05-01") })),
			want: map[string]string{"43": "passed/complete"}},
		{name: "carbohydrate counting 8 days before", p: newT1("2024-05-09", v(func(x *Visit) { x.CarbCountingDate = d("2024-05-01") })),
			want: map[string]string{"43": "failed/missed"}},
		{name: "carbohydrate counting 14 days after", p: newT1("2024-05-01", v(func(x *Visit) { x.CarbCountingDate = d("2024-05-15") })),
			want: map[string]string{"43": "passed/complete"}},
		{name: "carbohydrate counting 15 days after", p: newT1("2024-05-01", v(func(x *Visit) { x.CarbCountingDate = d("2024-05-16") })),
			want: map[string]string{"43": "failed/missed"}},
		{name: "Q1: diagnosis on 1 April is 90 days before 30 June", p: newT1("2024-04-01", Visit{VisitDate: d("2024-04-02"), CoeliacScreenDate: d("2024-04-02")}),
			per: quarter(1), want: map[string]string{"41": "ineligible/not_required", "43": "failed/missed"}},
		{name: "Q2: diagnosis on 1 July is 91 days before 30 September", p: newT1("2024-07-01", Visit{VisitDate: d("2024-07-02"), CoeliacScreenDate: d("2024-09-29")}),
			per: quarter(2), want: map[string]string{"41": "passed/complete", "42": "failed/missed", "43": "failed/missed"}},
		{name: "Q2: diagnosis on 2 July is too recent", p: newT1("2024-07-02", Visit{VisitDate: d("2024-07-02"), CoeliacScreenDate: d("2024-09-29")}),
			per: quarter(2), want: map[string]string{"41": "ineligible/not_required", "7": "passed"}},
	})
}

func TestHbA1cOutcomes(t *testing.T) {
	hb := func(date string, v float64, format *int16) Visit {
		x := visit(date)
		x.HbA1c, x.HbA1cFormat, x.HbA1cDate = f64(v), format, d(date)
		return x
	}
	cases := []struct {
		name    string
		p       *Patient
		per     Period
		want    float64 // 0: no value (failed)
		outcome string
	}{
		{"one value", base(hb("2024-06-01", 55, i16(1))), year(), 55, "passed"},
		// 7.5 % = 58.4608658 mmol/mol; 8 % (format missing) = 63.9265413; median of
		// 58.46, 60 and 63.93 is 60.
		{"mixed units, odd count", base(hb("2024-06-01", 7.5, i16(2)), hb("2024-09-01", 60, i16(1)), hb("2024-12-01", 8, nil)), year(), 60, "passed"},
		// Median of 58.4608658 and 60: 59.2304329.
		{"mixed units, even count", base(hb("2024-06-01", 7.5, i16(2)), hb("2024-09-01", 60, nil)), year(), 59.2304329, "passed"},
		{"2026: a value of 6.5 is a percentage", with(base(hb("2024-06-01", 6.5, nil)), func(p *Patient) { p.DatasetVersion = 2026 }), year(), 47.5295147, "passed"},
		{"no HbA1c", base(), year(), 0, "failed"},
		{"value observed outside the period", base(visit("2024-05-01"), Visit{VisitDate: d("2024-05-01"), HbA1c: f64(70), HbA1cDate: d("2024-03-20")}), year(), 0, "failed"},
		{"value on a visit outside the period", base(visit("2024-05-01"), Visit{VisitDate: d("2025-04-02"), HbA1c: f64(70), HbA1cDate: d("2025-03-20")}), year(), 0, "failed"},
		// Diagnosed 1 May 2024: values to 30 July 2024 (90 days) are left out.
		{"within 90 days of diagnosis left out", with(base(hb("2024-07-30", 90, i16(1)), hb("2024-07-31", 70, i16(1))), func(p *Patient) { p.DiagnosisDate = d("2024-05-01") }), year(), 70, "passed"},
		{"only values within 90 days of diagnosis", with(base(hb("2024-07-30", 90, i16(1))), func(p *Patient) { p.DiagnosisDate = d("2024-05-01") }), year(), 0, "failed"},
		{"quarter reads its own values", base(hb("2024-06-01", 50, i16(1)), hb("2024-07-01", 80, i16(1)), hb("2024-09-30", 60, i16(1))), quarter(2), 70, "passed"},
		{"type 2 counts", with(base(hb("2024-06-01", 44, i16(1))), func(p *Patient) { p.DiabetesType = i16(2) }), year(), 44, "passed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(c.p, c.per)
			for _, id := range []string{"44", "45"} {
				i, _ := Index(id)
				r := got[i]
				if r.Outcome.String() != c.outcome {
					t.Errorf("KPI %s outcome %s, want %s", id, r.Outcome, c.outcome)
				}
				if r.HasValue != (c.want != 0) || math.Abs(r.Value-c.want) > 1e-6 {
					t.Errorf("KPI %s value %.7f (HasValue %v), want %.7f", id, r.Value, r.HasValue, c.want)
				}
			}
		})
	}
}

func TestAdmissions(t *testing.T) {
	adm := func(start, end string, reason int16) Visit {
		var x Visit
		if start != "" {
			x.AdmissionDate = d(start)
		}
		if end != "" {
			x.DischargeDate = d(end)
		}
		if reason != 0 {
			x.AdmissionReason = i16(reason)
		}
		return x
	}
	cases := []struct {
		name     string
		visits   []Visit
		per      Period
		all, dka float64
	}{
		{"none", nil, year(), 0, 0},
		{"one DKA", []Visit{adm("2024-06-01", "2024-06-03", 2)}, year(), 1, 1},
		{"duplicate rows counted once", []Visit{adm("2024-06-01", "2024-06-03", 2), adm("2024-06-01", "2024-06-03", 2)}, year(), 1, 1},
		{"same dates, other reason", []Visit{adm("2024-06-01", "2024-06-03", 2), adm("2024-06-01", "2024-06-03", 4)}, year(), 2, 1},
		{"different discharge", []Visit{adm("2024-06-01", "2024-06-03", 2), adm("2024-06-01", "2024-06-04", 2)}, year(), 2, 2},
		{"discharged in the period", []Visit{adm("2024-03-28", "2024-04-01", 1)}, year(), 1, 0},
		{"started on 31 March", []Visit{adm("2025-03-31", "2025-04-02", 3)}, year(), 1, 0},
		{"both dates outside", []Visit{adm("2024-03-01", "2024-03-31", 2), adm("2025-04-01", "2025-04-02", 2)}, year(), 0, 0},
		{"no valid reason", []Visit{adm("2024-06-01", "2024-06-03", 0)}, year(), 0, 0},
		{"no discharge date yet", []Visit{adm("2024-06-01", "", 2)}, year(), 1, 1},
		{"quarter", []Visit{adm("2024-06-30", "2024-07-01", 2), adm("2024-08-01", "2024-08-02", 5)}, quarter(2), 2, 1},
		{"quarter before", []Visit{adm("2024-06-30", "2024-07-01", 2), adm("2024-08-01", "2024-08-02", 5)}, quarter(1), 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := append([]Visit{visit("2024-04-15"), visit("2024-07-15")}, c.visits...)
			got := Evaluate(base(vs...), c.per)
			for _, k := range []struct {
				id   string
				want float64
			}{{"46", c.all}, {"47", c.dka}} {
				i, _ := Index(k.id)
				r := got[i]
				wantOut := Failed
				if k.want > 0 {
					wantOut = Passed
				}
				if !r.HasValue || r.Value != k.want || r.Outcome != wantOut {
					t.Errorf("KPI %s = %v %v (HasValue %v), want %v %v", k.id, r.Outcome, r.Value, r.HasValue, wantOut, k.want)
				}
			}
		})
	}
}

func TestOutsidePopulation(t *testing.T) {
	// A patient outside KPI 1 is ineligible for every KPI, with no status or value.
	p := base(Visit{VisitDate: d("2023-05-01"), HbA1c: f64(50), HbA1cDate: d("2024-05-01"),
		AdmissionDate: d("2024-03-01"), DischargeDate: d("2024-05-01"), AdmissionReason: i16(2)})
	for i, r := range Evaluate(p, year()) {
		if r != (Result{}) {
			t.Errorf("KPI %s = %+v, want the zero Result", Definitions[i].ID, r)
		}
	}
}

func TestEvaluateIntoReuses(t *testing.T) {
	buf := make([]Result, 0, len(Definitions))
	a := EvaluateInto(buf, base(Visit{VisitDate: d("2024-05-01"), FootExamDate: d("2024-05-01")}), year())
	b := EvaluateInto(a, base(), year())
	if &a[0] != &b[0] {
		t.Error("EvaluateInto did not reuse the buffer")
	}
	if i, _ := Index("31"); b[i].Outcome != Failed || b[i].Care != CareMissed {
		t.Errorf("a reused buffer kept the previous patient's result: %+v", b[i])
	}
	p := base(Visit{VisitDate: d("2024-05-01"), HbA1c: f64(50), HbA1cDate: d("2024-05-01"),
		AdmissionDate: d("2024-06-01"), AdmissionReason: i16(2)})
	if n := testing.AllocsPerRun(100, func() { b = EvaluateInto(b, p, year()) }); n != 0 {
		t.Errorf("EvaluateInto allocates %v times per call, want 0", n)
	}
}
