package aggregate

import (
	"caregraph/audit/kpi"
	"caregraph/store"
)

// Figures are an aggregate as one caller may see it: a nil figure is withheld.
type Figures struct {
	Eligible, Ineligible, Passed, Failed *int
	Percentage, Value                    *float64
	// Suppressed says that at least one figure was withheld.
	Suppressed bool
}

// Exact shows every figure of a row.
func Exact(a store.KPIAggregate) Figures {
	return Figures{Eligible: &a.Eligible, Ineligible: &a.Ineligible, Passed: &a.Passed, Failed: &a.Failed,
		Percentage: a.Percentage, Value: a.Value}
}

// The counts of a row, by position in Suppress's working array.
const (
	fEligible = iota
	fIneligible
	fPassed
	fFailed
)

// sumsOfARow are the relations between a row's counts that a reader could use to work
// a withheld count back: eligible = passed + failed, and eligible + ineligible = the
// place's patients in the period (published as KPI 1's eligible + ineligible, so treated
// as known). Members are listed in the order ties are broken.
var sumsOfARow = [][]int{
	{fPassed, fFailed, fEligible},
	{fIneligible, fEligible},
}

// Suppress withholds small counts of a row for a caller who may not see them exactly.
//
// A row of results is the four counts of one KPI for one place and period: eligible,
// ineligible, passed and failed. Any of them that is 1 or 2 is withheld (0 is shown:
// "nobody" identifies nobody). Then, while one of the row's sums (eligible = passed +
// failed; eligible + ineligible = the place's patients) has exactly one withheld member,
// the smallest of its other members is withheld too — the "next smallest" value, taken
// among the values that would otherwise give the withheld one back. (The smallest value
// of the whole row is not always enough: with eligible 10, passed 1, failed 9 and
// ineligible 0, withholding passed and ineligible would leave passed = 10 − 9.)
//
// A percentage is withheld when passed or eligible is; a Mean or Median figure (over
// the passed patients) when passed is; a Ratio figure when eligible is; a Sum figure (a
// number of admissions) when it is itself 1 or 2.
func Suppress(a store.KPIAggregate) Figures {
	vals := [4]int{a.Eligible, a.Ineligible, a.Passed, a.Failed}
	var withheld [4]bool
	for i, v := range vals {
		withheld[i] = small(v)
	}
	for changed := true; changed; {
		changed = false
		for _, sum := range sumsOfARow {
			n, next := 0, -1
			for _, i := range sum {
				if withheld[i] {
					n++
				} else if next < 0 || vals[i] < vals[next] {
					next = i
				}
			}
			if n == 1 && next >= 0 {
				withheld[next] = true
				changed = true
			}
		}
	}
	f := Exact(a)
	ptrs := [4]**int{&f.Eligible, &f.Ineligible, &f.Passed, &f.Failed}
	for i, w := range withheld {
		if w {
			*ptrs[i] = nil
			f.Suppressed = true
		}
	}
	if withheld[fPassed] || withheld[fEligible] {
		f.Percentage = nil
	}
	switch a.Kind {
	case kpi.Mean, kpi.Median:
		if withheld[fPassed] {
			f.Value = nil
		}
	case kpi.Ratio:
		if withheld[fEligible] {
			f.Value = nil
		}
	case kpi.Sum:
		if a.Value != nil && small(int(*a.Value)) && *a.Value == float64(int(*a.Value)) {
			f.Value = nil
			f.Suppressed = true
		}
	}
	return f
}

func small(n int) bool { return n == 1 || n == 2 }
