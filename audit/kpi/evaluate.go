package kpi

import (
	"math"
	"time"
)

// Evaluate returns the patient's results for the period, one per Definition in
// Definitions' order, in a new slice. Aggregations over many patients should use
// EvaluateInto with a reused buffer instead.
func Evaluate(p *Patient, per Period) []Result {
	return EvaluateInto(nil, p, per)
}

// EvaluateInto writes the patient's results for the period into dst (grown when it is
// shorter than len(Definitions)) and returns it, one Result per Definition in
// Definitions' order. Passing the previous call's slice back in makes it allocation
// free for all but patients with very many HbA1c values or admissions.
func EvaluateInto(dst []Result, p *Patient, per Period) []Result {
	if cap(dst) < numKPIs {
		dst = make([]Result, numKPIs)
	}
	dst = dst[:numKPIs]
	clear(dst)
	evaluate(dst, p, per)
	return dst
}

// latest keeps the value of an item from the latest visit in the period that records
// it: the latest visit date, then the latest related observation date (tie), then the
// later row. aux is a second value read from the same row (the 2026 dataset's
// non-insulin medication beside the insulin regimen).
type latest struct {
	visit, tie time.Time
	row        int
	val, aux   int16
	ok         bool
}

func (l *latest) offer(v *Visit, tie time.Time, val *int16, aux *int16) {
	if val == nil {
		return
	}
	if l.ok {
		if v.VisitDate.Before(l.visit) {
			return
		}
		if v.VisitDate.Equal(l.visit) {
			if tie.Before(l.tie) || (tie.Equal(l.tie) && v.RowNumber < l.row) {
				return
			}
		}
	}
	l.visit, l.tie, l.row, l.val, l.ok = v.VisitDate, tie, v.RowNumber, *val, true
	l.aux = 0
	if aux != nil {
		l.aux = *aux
	}
}

// is reports whether the latest recorded value is one of the codes.
func (l *latest) is(codes ...int16) bool {
	if !l.ok {
		return false
	}
	for _, c := range codes {
		if l.val == c {
			return true
		}
	}
	return false
}

// admission is the key on which a patient's admissions are de-duplicated.
type admission struct {
	start, discharge time.Time
	reason           int16
}

// AgeAt is the age in completed years on date at of someone born on born. A 29
// February birthday is reached on 1 March in years without a 29 February, the UK
// convention.
func AgeAt(born, at time.Time) int {
	years := at.Year() - born.Year()
	if at.Month() < born.Month() || (at.Month() == born.Month() && at.Day() < born.Day()) {
		years--
	}
	return years
}

// HbA1cMmolMol converts an HbA1c value to mmol/mol. format is 1 (mmol/mol), 2 (%) or
// nil when missing; the 2026 dataset has no format column. Where the format is missing,
// and always in the 2026 dataset, a value of 20 or less is a percentage (no plausible
// mmol/mol value is that low, no plausible percentage higher).
func HbA1cMmolMol(value float64, format *int16, datasetVersion int) float64 {
	percent := value <= 20
	if datasetVersion != 2026 && format != nil {
		percent = *format == 2
	}
	if percent {
		return (value - 2.152) / 0.09148
	}
	return value
}

func codeIs(v *int16, codes ...int16) bool {
	if v == nil {
		return false
	}
	for _, c := range codes {
		if *v == c {
			return true
		}
	}
	return false
}

// span is a stretch of calendar dates, both ends included, as Unix seconds of their UTC
// midnights: comparing integers keeps the loop over a patient's rows cheap. The zero
// time falls before every span, so a missing date is never inside one.
type span struct{ from, to int64 }

const secondsPerDay = 24 * 60 * 60

func periodSpan(p Period) span { return span{p.Start.Unix(), p.End.Unix()} }

// around is the span from lo to hi days (lo may be negative) after ref, or an empty
// span when ref is missing.
func around(ref time.Time, lo, hi int64) span {
	if ref.IsZero() {
		return span{1, 0}
	}
	r := ref.Unix()
	return span{r + lo*secondsPerDay, r + hi*secondsPerDay}
}

func (s span) has(t time.Time) bool {
	u := t.Unix()
	return u >= s.from && u <= s.to
}

// proportion sets a Proportion KPI without a care-process status. A Count KPI is the
// proportion of KPI 1's set that is in its subset: ineligible outside KPI 1's set,
// passed when in the subset and failed otherwise.
func proportion(r *Result, eligible, passed bool) {
	switch {
	case !eligible:
		r.Outcome = Ineligible
	case passed:
		r.Outcome = Passed
	default:
		r.Outcome = Failed
	}
}

// process sets a care-process KPI and its status: inPop is KPI 1's set; group is the
// set the process is meant for before the complete-year exclusions (KPI 3 or 4), so that
// a patient in group but not eligible had an incomplete year of care; partial says the
// process was recorded in part (a date without its value or a value without its date).
func process(r *Result, inPop, group, eligible, passed, partial bool) {
	proportion(r, eligible, passed)
	switch {
	case !inPop:
		r.Care = CareNone
	case eligible && passed:
		r.Care = CareComplete
	case eligible && partial:
		r.Care = CareIncomplete
	case eligible:
		r.Care = CareMissed
	case group:
		r.Care = CareIncompleteYear
	default:
		r.Care = CareNotRequired
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func evaluate(res []Result, p *Patient, per Period) {
	in := periodSpan(per)
	// The population (KPI 1) and its subsets (KPIs 2–9).
	active := false
	for i := range p.Visits {
		v := &p.Visits[i]
		if in.has(v.VisitDate) || in.has(v.AdmissionDate) {
			active = true
			break
		}
	}
	age := 0
	if !p.DateOfBirth.IsZero() {
		age = AgeAt(p.DateOfBirth, per.Start)
	}
	in1 := active && !p.DateOfBirth.IsZero() && age < 25
	t1 := in1 && codeIs(p.DiabetesType, 1)
	diagIn := in.has(p.DiagnosisDate)
	leftIn := in.has(p.DateLeavingService)
	diedIn := in.has(p.DeathDate)
	in3 := t1
	in4 := in3 && age >= 12
	in5 := in3 && !diagIn && !leftIn && !diedIn
	in6 := in5 && age >= 12
	in7 := in3 && diagIn

	res[k1].Outcome = Ineligible
	if in1 {
		res[k1].Outcome = Passed
	}
	proportion(&res[k2], in1, diagIn)
	proportion(&res[k3], in1, in3)
	proportion(&res[k4], in1, in4)
	proportion(&res[k5], in1, in5)
	proportion(&res[k6], in1, in6)
	proportion(&res[k7], in1, in7)
	proportion(&res[k8], in1, diedIn)
	proportion(&res[k9], in1, leftIn)
	if !in1 {
		// Every other KPI's eligibility is a subset of KPI 1's, and a patient outside the
		// population has no care-process status: all Ineligible, already set by clear.
		return
	}

	v2026 := p.DatasetVersion == 2026
	var (
		gluten, thyroidTx, ketone, treatment, closedLoop, monitoring, regimen, cgm, albuminuria latest

		hbDone, hbPartial, bmiDone, bmiPartial, thyDone, bpDone, bpPartial bool
		acrDone, acrPartial, retDone, retPartial, footDone, psychDone      bool
		smokeDone, smokePartial, cessDone, dietOffered, dietDone, fluDone  bool
		sickDone, coeliacAtDiag, thyroidAtDiag, carbsAtDiag, psychSupport  bool

		hbDates    [4]time.Time
		nHbDates   int
		hbArr      [16]float64
		admArr     [8]admission
		nAdmission int
		nDKA       int
	)
	hbs := hbArr[:0]
	adms := admArr[:0]
	// Care at diagnosis: the screening date need not be in the period (decision 7).
	diag90, diagCarbs := around(p.DiagnosisDate, -90, 90), around(p.DiagnosisDate, -7, 14)
	// KPIs 44/45 leave out HbA1c observed up to 90 days after diagnosis; with no valid
	// diagnosis date nothing is left out.
	hbFrom := int64(math.MinInt64)
	if !p.DiagnosisDate.IsZero() {
		hbFrom = p.DiagnosisDate.Unix() + 91*secondsPerDay
	}

	for i := range p.Visits {
		v := &p.Visits[i]
		visitIn := in.has(v.VisitDate)

		// Items read from the latest visit in the period (decision 4).
		if visitIn {
			gluten.offer(v, v.CoeliacScreenDate, v.GlutenFreeDiet, nil)
			thyroidTx.offer(v, v.ThyroidFunctionDate, v.ThyroidTreatment, nil)
			ketone.offer(v, time.Time{}, v.KetoneTesting, nil)
			treatment.offer(v, v.HbA1cDate, v.Treatment, nil)
			closedLoop.offer(v, v.HbA1cDate, v.ClosedLoopSystem, nil)
			monitoring.offer(v, v.HbA1cDate, v.GlucoseMonitoring, nil)
			regimen.offer(v, v.HbA1cDate, v.InsulinRegimen, v.NonInsulinMedication)
			cgm.offer(v, v.HbA1cDate, v.CGM, nil)
			albuminuria.offer(v, v.ACRDate, v.AlbuminuriaStage, nil)

			if v2026 {
				smokeDone = smokeDone || codeIs(v.SmokingVapingStatus, 1, 2, 3, 4)
				smokePartial = smokePartial || codeIs(v.SmokingVapingStatus, 99)
			} else {
				smokeDone = smokeDone || codeIs(v.SmokingStatus, 1, 2)
				smokePartial = smokePartial || codeIs(v.SmokingStatus, 99)
			}
			dietOffered = dietOffered || codeIs(v.DietitianOffered, 1)
			psychSupport = psychSupport || codeIs(v.PsychAdditionalSupport, 1)
		}

		// Dated care processes: the item's own date in the period, with its value on the
		// same row (decision 3).
		hbDateIn := in.has(v.HbA1cDate)
		if v.HbA1c != nil && hbDateIn {
			hbDone = true
			if nHbDates < len(hbDates) {
				dup := false
				for _, d := range hbDates[:nHbDates] {
					dup = dup || d.Equal(v.HbA1cDate)
				}
				if !dup {
					hbDates[nHbDates] = v.HbA1cDate
					nHbDates++
				}
			}
			// KPIs 44/45: values on visits in the period, observed in the period more
			// than 90 days after diagnosis.
			if visitIn && v.HbA1cDate.Unix() >= hbFrom {
				hbs = append(hbs, HbA1cMmolMol(*v.HbA1c, v.HbA1cFormat, p.DatasetVersion))
			}
		} else if hbDateIn || (v.HbA1c != nil && v.HbA1cDate.IsZero() && visitIn) {
			hbPartial = true
		}

		hwDateIn := in.has(v.HeightWeightDate)
		if v.Height != nil && v.Weight != nil && hwDateIn {
			bmiDone = true
		} else if hwDateIn || ((v.Height != nil || v.Weight != nil) && v.HeightWeightDate.IsZero() && visitIn) {
			bmiPartial = true
		}

		thyDone = thyDone || in.has(v.ThyroidFunctionDate)

		bpDateIn := in.has(v.BPDate)
		if v.SystolicBP != nil && bpDateIn {
			bpDone = true
		} else if bpDateIn || ((v.SystolicBP != nil || v.DiastolicBP != nil) && v.BPDate.IsZero() && visitIn) {
			bpPartial = true
		}

		acrDateIn := in.has(v.ACRDate)
		if v.ACR != nil && acrDateIn {
			acrDone = true
		} else if acrDateIn || (v.ACR != nil && v.ACRDate.IsZero() && visitIn) {
			acrPartial = true
		}

		retDateIn := in.has(v.RetinalScreeningDate)
		if codeIs(v.RetinalScreeningResult, 1, 2) && retDateIn {
			retDone = true
		} else if retDateIn || (v.RetinalScreeningResult != nil && v.RetinalScreeningDate.IsZero() && visitIn) {
			retPartial = true
		}

		footDone = footDone || in.has(v.FootExamDate)
		psychDone = psychDone || in.has(v.PsychScreeningDate)
		cessDone = cessDone || in.has(v.SmokingCessationDate)
		dietDone = dietDone || in.has(v.DietitianDate)
		fluDone = fluDone || in.has(v.FluImmunisationDate)
		sickDone = sickDone || in.has(v.SickDayRulesDate)

		coeliacAtDiag = coeliacAtDiag || diag90.has(v.CoeliacScreenDate)
		thyroidAtDiag = thyroidAtDiag || diag90.has(v.ThyroidFunctionDate)
		carbsAtDiag = carbsAtDiag || diagCarbs.has(v.CarbCountingDate)

		// Admissions (decision 9).
		if v.AdmissionReason != nil && (in.has(v.AdmissionDate) || in.has(v.DischargeDate)) {
			a := admission{v.AdmissionDate, v.DischargeDate, *v.AdmissionReason}
			dup := false
			for _, b := range adms {
				if b.reason == a.reason && b.start.Equal(a.start) && b.discharge.Equal(a.discharge) {
					dup = true
					break
				}
			}
			if !dup {
				adms = append(adms, a)
				nAdmission++
				if a.reason == 2 {
					nDKA++
				}
			}
		}
	}

	// KPIs 10–12.
	proportion(&res[k10], in1, gluten.is(1))
	proportion(&res[k11], in1, thyroidTx.is(2, 3))
	proportion(&res[k12], in1, ketone.is(1))

	// KPIs 13–24: treatment and monitoring, by the latest record.
	var tx int16 // the 2021 treatment code the latest record maps to; 0 when unknown
	pump := false
	if v2026 {
		tx = treatment2026(&regimen)
		pump = regimen.is(5)
	} else {
		if treatment.ok {
			tx = treatment.val
		}
		pump = treatment.is(3, 6) && closedLoop.is(2, 3, 4)
	}
	for i, code := range [...]int16{1, 2, 3, 4, 5, 6, 7, 8} {
		proportion(&res[k13+i], true, tx == code)
	}
	if v2026 {
		// The 2026 dataset asks only whether a CGM was used: flash monitors cannot be
		// told apart, so KPI 21 is not reported (everyone ineligible).
		proportion(&res[k22], true, cgm.is(1))
		proportion(&res[k23], in3, cgm.is(1))
	} else {
		proportion(&res[k21], true, monitoring.is(2, 3))
		proportion(&res[k22], true, monitoring.is(4))
		proportion(&res[k23], in3, monitoring.is(4))
	}
	proportion(&res[k24], true, pump)

	// KPIs 25–31: the key care processes.
	process(&res[k25], in1, in3, in5, hbDone, hbPartial)
	process(&res[k26], in1, in3, in5, bmiDone, bmiPartial)
	process(&res[k27], in1, in3, in5, thyDone, false)
	process(&res[k28], in1, in4, in6, bpDone, bpPartial)
	process(&res[k29], in1, in4, in6, acrDone, acrPartial)
	process(&res[k30], in1, in4, in6, retDone, retPartial)
	process(&res[k31], in1, in4, in6, footDone, false)

	// KPI 32: health checks, without retinal screening (needed only every two years).
	given := b2f(hbDone) + b2f(bmiDone) + b2f(thyDone)
	expected := 3.0
	if in6 {
		given += b2f(bpDone) + b2f(acrDone) + b2f(footDone)
		expected = 6
	}
	all := given == expected
	if in5 {
		r := &res[k32_1]
		r.Value, r.HasValue, r.Denominator = given, true, expected
	}
	process(&res[k32_1], in1, in3, in5, all, given > 0)
	process(&res[k32_2], in1, in3 && age < 12, in5 && age < 12, all, given > 0)
	process(&res[k32_3], in1, in4, in6, all, given > 0)

	// KPIs 33–40: additional processes.
	process(&res[k33], in1, in3, in5, nHbDates >= 4, nHbDates > 0 || hbPartial)
	process(&res[k34], in1, in3, in5, psychDone, false)
	process(&res[k35], in1, in4, in6, smokeDone, smokePartial)
	process(&res[k36], in1, in4, in6, cessDone, false)
	process(&res[k37], in1, in3, in5, dietOffered, false)
	process(&res[k38], in1, in3, in5, dietDone, false)
	process(&res[k39], in1, in3, in5, fluDone, false)
	process(&res[k40], in1, true, true, sickDone, false)

	// KPIs 41–43: care at diagnosis, for new Type 1 diagnoses old enough to judge.
	diag := p.DiagnosisDate.Unix()
	e41 := in7 && diag < in.to-90*secondsPerDay
	e43 := in7 && diag < in.to-14*secondsPerDay
	process(&res[k41], in1, false, e41, coeliacAtDiag, false)
	process(&res[k42], in1, false, e41, thyroidAtDiag, false)
	process(&res[k43], in1, false, e43, carbsAtDiag, false)

	// KPIs 44/45: each patient's median HbA1c.
	if len(hbs) > 0 {
		m := median(hbs)
		for _, k := range [...]int{k44, k45} {
			res[k] = Result{Outcome: Passed, Value: m, HasValue: true}
		}
	} else {
		res[k44].Outcome, res[k45].Outcome = Failed, Failed
	}

	// KPIs 46/47: admissions.
	res[k46] = Result{Outcome: Failed, Value: float64(nAdmission), HasValue: true}
	if nAdmission > 0 {
		res[k46].Outcome = Passed
	}
	res[k47] = Result{Outcome: Failed, Value: float64(nDKA), HasValue: true}
	if nDKA > 0 {
		res[k47].Outcome = Passed
	}

	proportion(&res[k48], true, psychSupport)
	proportion(&res[k49], true, albuminuria.is(2, 3))
}

// treatment2026 maps the 2026 dataset's insulin regimen and non-insulin medication (on
// the same, latest, row) to the 2021 treatment codes of KPIs 13–20, or 0 when the
// treatment is unknown. With insulin, a missing or unknown medication counts as none;
// without insulin, dietary management alone needs a recorded "no medication".
func treatment2026(l *latest) int16 {
	if !l.ok {
		return 0
	}
	med := l.aux >= 2 && l.aux <= 5
	switch l.val {
	case 1:
		switch {
		case l.aux == 1:
			return 7
		case med:
			return 8
		}
		return 0
	case 2:
		if med {
			return 4
		}
		return 1
	case 3:
		if med {
			return 5
		}
		return 2
	case 4, 5:
		if med {
			return 6
		}
		return 3
	}
	return 0
}

// median sorts xs in place and returns its median; an even count's median is the mean
// of the middle two.
func median(xs []float64) float64 {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
