package kpi

import (
	"testing"
)

// benchPatient is a patient with a year of typical records: 12 visits, most with an
// HbA1c, treatment and monitoring, some with the annual checks, and one admission.
func benchPatient() *Patient {
	start := d("2024-04-03")
	var vs []Visit
	for i := range 12 {
		at := start.AddDate(0, 0, 30*i)
		v := Visit{VisitDate: at, Treatment: i16(3), ClosedLoopSystem: i16(2), GlucoseMonitoring: i16(4)}
		if i%3 != 2 {
			v.HbA1c, v.HbA1cFormat, v.HbA1cDate = f64(50+float64(i)), i16(1), at
			v.Height, v.Weight, v.HeightWeightDate = f64(150), f64(45), at
		}
		switch i {
		case 2:
			v.SystolicBP, v.DiastolicBP, v.BPDate = i16(110), i16(70), at
			v.ACR, v.ACRDate, v.AlbuminuriaStage = f64(1.1), at, i16(1)
			v.ThyroidFunctionDate, v.ThyroidTreatment = at, i16(1)
			v.FootExamDate, v.RetinalScreeningDate, v.RetinalScreeningResult = at, at, i16(1)
		case 5:
			v.PsychScreeningDate, v.PsychAdditionalSupport = at, i16(2)
			v.SmokingStatus, v.DietitianOffered, v.KetoneTesting = i16(1), i16(1), i16(1)
			v.FluImmunisationDate, v.SickDayRulesDate = at, at
		case 8:
			v.AdmissionDate, v.DischargeDate, v.AdmissionReason = at, at.AddDate(0, 0, 2), i16(2)
		}
		vs = append(vs, v)
	}
	return &Patient{ID: 1, DatasetVersion: 2021, DateOfBirth: d("2011-08-08"), DiabetesType: i16(1),
		DiagnosisDate: d("2019-02-01"), Visits: number(vs)}
}

// BenchmarkEvaluate evaluates one patient for one period (the year and its quarters in
// turn), reusing the result buffer as an aggregation does.
func BenchmarkEvaluate(b *testing.B) {
	p := benchPatient()
	periods := Periods(2024)
	buf := make([]Result, len(Definitions))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = EvaluateInto(buf, p, periods[i%len(periods)])
		i++
	}
}
