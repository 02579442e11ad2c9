package aggregate

import (
	"caregraph/audit/kpi"
	"caregraph/store"
)

// Sums are the additive figures of one KPI over a set of patients, as kpi.Definitions'
// doc comment says each kind adds up.
type Sums struct {
	Eligible, Ineligible, Passed, Failed int
	// ValueSum and ValueCount add the patients' values: the Passed ones of a Mean or
	// Median KPI, the eligible ones of a Sum or Ratio KPI. DenominatorSum adds a Ratio
	// KPI's denominators.
	ValueSum       float64
	ValueCount     int
	DenominatorSum float64
	// Values are a Median KPI's patient values (the median does not add up).
	Values []float64
}

// AddResult counts one patient's result for a KPI of the kind.
func (s *Sums) AddResult(k kpi.Kind, r kpi.Result) {
	switch r.Outcome {
	case kpi.Passed:
		s.Passed++
		s.Eligible++
	case kpi.Failed:
		s.Failed++
		s.Eligible++
	default:
		s.Ineligible++
		return
	}
	if !r.HasValue {
		return
	}
	switch k {
	case kpi.Mean, kpi.Median:
		if r.Outcome != kpi.Passed {
			return
		}
		s.ValueSum += r.Value
		s.ValueCount++
		if k == kpi.Median {
			s.Values = append(s.Values, r.Value)
		}
	case kpi.Sum:
		s.ValueSum += r.Value
		s.ValueCount++
	case kpi.Ratio:
		s.ValueSum += r.Value
		s.ValueCount++
		s.DenominatorSum += r.Denominator
	}
}

// Add adds another set of patients' sums.
func (s *Sums) Add(o Sums) {
	s.Eligible += o.Eligible
	s.Ineligible += o.Ineligible
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.ValueSum += o.ValueSum
	s.ValueCount += o.ValueCount
	s.DenominatorSum += o.DenominatorSum
	s.Values = append(s.Values, o.Values...)
}

// Aggregate makes the row of the KPI at position order in kpi.Definitions for the
// place and quarter (0 the whole year), with its percentage and figure. A Median KPI's
// Values must be sorted.
func (s Sums) Aggregate(year, quarter int, place store.Place, order int) store.KPIAggregate {
	d := kpi.Definitions[order]
	a := store.KPIAggregate{AuditYear: year, Quarter: quarter, Level: place.Level, Code: place.Code, Name: place.Name,
		AreaCode: place.AreaCode, KPI: d.ID, Order: order, Kind: d.Kind,
		Eligible: s.Eligible, Ineligible: s.Ineligible, Passed: s.Passed, Failed: s.Failed,
		ValueSum: s.ValueSum, ValueCount: s.ValueCount, DenominatorSum: s.DenominatorSum}
	if s.Eligible > 0 {
		p := 100 * float64(s.Passed) / float64(s.Eligible)
		a.Percentage = &p
	}
	switch d.Kind {
	case kpi.Mean:
		if s.ValueCount > 0 {
			v := s.ValueSum / float64(s.ValueCount)
			a.Value = &v
		}
	case kpi.Median:
		if n := len(s.Values); n > 0 {
			v := s.Values[n/2]
			if n%2 == 0 {
				v = (s.Values[n/2-1] + s.Values[n/2]) / 2
			}
			a.Value = &v
		}
	case kpi.Sum:
		if s.Eligible > 0 {
			v := s.ValueSum
			a.Value = &v
		}
	case kpi.Ratio:
		// A percentage, like the proportions: health checks given per 100 expected.
		if s.DenominatorSum > 0 {
			v := 100 * s.ValueSum / s.DenominatorSum
			a.Value = &v
		}
	}
	return a
}
