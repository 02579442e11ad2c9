// Package kpi computes the National Paediatric Diabetes Audit's key performance
// indicators for one patient and one period, from the typed values of the patient's
// rows. It is plain Go without SQL: the store loads Patients, the aggregation in
// sync/aggregate sums Results by place. docs/kpis.md states every rule.
package kpi

import (
	"fmt"
	"time"
)

// Period is the stretch of time a KPI looks at: an audit year (1 April to 31 March) or
// one of its quarters. Start and End are calendar dates in UTC, both included.
type Period struct {
	// Year is the audit year (2024 for April 2024 to March 2025).
	Year int
	// Quarter is 1–4 (Q1 April–June … Q4 January–March), or 0 for the whole year.
	Quarter int
	Start   time.Time
	End     time.Time
}

// YearPeriod is the whole audit year.
func YearPeriod(year int) Period {
	return Period{Year: year, Start: day(year, time.April, 1), End: day(year+1, time.March, 31)}
}

// QuarterPeriod is quarter q (1–4) of the audit year.
func QuarterPeriod(year, q int) (Period, error) {
	if q < 1 || q > 4 {
		return Period{}, fmt.Errorf("quarter must be 1 to 4, got %d", q)
	}
	start := day(year, time.April, 1).AddDate(0, 3*(q-1), 0)
	return Period{Year: year, Quarter: q, Start: start, End: start.AddDate(0, 3, -1)}, nil
}

// Periods are the year and its four quarters, in that order: what an aggregation
// computes for an audit year.
func Periods(year int) []Period {
	ps := []Period{YearPeriod(year)}
	for q := 1; q <= 4; q++ {
		p, _ := QuarterPeriod(year, q)
		ps = append(ps, p)
	}
	return ps
}

// Contains reports whether the date d (a calendar date, UTC midnight) is in the period.
func (p Period) Contains(d time.Time) bool {
	return !d.IsZero() && !d.Before(p.Start) && !d.After(p.End)
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Patient is one patient of a unit's active submission with the values that passed
// validation: a zero time.Time or a nil pointer is a blank or invalid cell, which the
// rules treat as missing. Dates are calendar dates at UTC midnight.
type Patient struct {
	ID     int64
	UnitID int64
	// DatasetVersion is 2021 or 2026: the fields a KPI reads differ between them.
	DatasetVersion int

	DateOfBirth        time.Time
	DiabetesType       *int16
	DiagnosisDate      time.Time
	DateLeavingService time.Time
	LeavingReason      *int16
	DeathDate          time.Time

	// Visits are the patient's rows in file order (ascending row number).
	Visits []Visit
}

// Visit is one row of the patient: the visit-level values that passed validation.
type Visit struct {
	RowNumber int
	VisitDate time.Time

	Height, Weight   *float64
	HeightWeightDate time.Time

	HbA1c *float64
	// HbA1cFormat is 1 (mmol/mol) or 2 (%); nil when missing.
	HbA1cFormat *int16
	HbA1cDate   time.Time

	Treatment            *int16
	ClosedLoopSystem     *int16
	GlucoseMonitoring    *int16
	InsulinRegimen       *int16
	NonInsulinMedication *int16
	CGM                  *int16

	SystolicBP, DiastolicBP *int16
	BPDate                  time.Time

	FootExamDate           time.Time
	RetinalScreeningDate   time.Time
	RetinalScreeningResult *int16

	ACR              *float64
	ACRDate          time.Time
	AlbuminuriaStage *int16

	TotalCholesterol     *float64
	TotalCholesterolDate time.Time

	ThyroidFunctionDate time.Time
	ThyroidTreatment    *int16
	CoeliacScreenDate   time.Time
	GlutenFreeDiet      *int16

	PsychScreeningDate     time.Time
	PsychAdditionalSupport *int16
	PsychSupportOutcome    *int16

	SmokingStatus        *int16
	SmokingVapingStatus  *int16
	SmokingCessationDate time.Time

	CarbCountingDate    time.Time
	DietitianOffered    *int16
	DietitianDate       time.Time
	KetoneTesting       *int16
	FluImmunisationDate time.Time
	SickDayRulesDate    time.Time

	AdmissionDate   time.Time
	DischargeDate   time.Time
	AdmissionReason *int16
}

// Outcome is a patient's result for one KPI.
type Outcome uint8

// The outcomes. Every KPI gives each patient exactly one.
const (
	Ineligible Outcome = iota
	Passed
	Failed
)

// String names the outcome as the API and the database write it.
func (o Outcome) String() string {
	switch o {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	default:
		return "ineligible"
	}
}

// CareStatus is the care-process status of an eligible patient, for the KPIs that
// report one (the care processes); CareNone elsewhere.
type CareStatus uint8

// The care-process statuses.
const (
	CareNone CareStatus = iota
	CareComplete
	CareIncomplete
	CareNotRequired
	CareIncompleteYear
	CareMissed
)

// String names the status as the API and the database write it.
func (c CareStatus) String() string {
	switch c {
	case CareComplete:
		return "complete"
	case CareIncomplete:
		return "incomplete"
	case CareNotRequired:
		return "not_required"
	case CareIncompleteYear:
		return "incomplete_year_of_care"
	case CareMissed:
		return "missed"
	default:
		return ""
	}
}

// Kind says how the results of a KPI add up across patients.
type Kind uint8

// The kinds of KPI.
const (
	// Proportion: eligible, passed and failed counts; percentage = passed / eligible.
	Proportion Kind = iota + 1
	// Count: the number of passed patients is the figure (KPIs 1–12: who is counted);
	// for KPIs 2–12 the rest of KPI 1's set has failed, so eligible is KPI 1's count.
	Count
	// Mean: the mean of the passed patients' Values (KPI 44); an eligible patient
	// without a value has failed.
	Mean
	// Median: the median of the passed patients' Values (KPI 45).
	Median
	// Sum: the sum of eligible patients' Values, with the number of passed patients
	// (at least one) beside it (KPIs 46 and 47: admissions, and patients admitted).
	Sum
	// Ratio: the sum of Values over the sum of Denominators across eligible patients
	// (KPI 32.1: health checks given over health checks expected).
	Ratio
)

// Definition describes one KPI.
type Definition struct {
	// ID is the KPI's number as the specification writes it: "1" … "49", "32.1".
	ID   string
	Name string
	Kind Kind
}

// Result is one patient's result for one KPI.
type Result struct {
	Outcome Outcome
	// Value is the patient's figure for Mean, Median and Sum KPIs (an HbA1c median in
	// mmol/mol, a number of admissions, health checks given), valid when HasValue.
	Value    float64
	HasValue bool
	// Denominator is the patient's share of a Ratio KPI's denominator (health checks
	// expected).
	Denominator float64
	Care        CareStatus
}
