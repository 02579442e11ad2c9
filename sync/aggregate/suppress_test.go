package aggregate_test

import (
	"testing"

	"caregraph/audit/kpi"
	"caregraph/store"
	"caregraph/sync/aggregate"
)

func TestSuppress(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	// shown lists the counts left (eligible, ineligible, passed, failed); -1 is withheld.
	tests := []struct {
		name                                 string
		kind                                 kpi.Kind
		eligible, ineligible, passed, failed int
		value                                *float64
		shown                                [4]int
		percentage, valueShown, suppressed   bool
	}{
		{"nothing small", kpi.Proportion, 20, 5, 12, 8, nil, [4]int{20, 5, 12, 8}, true, false, false},
		{"zeros are shown", kpi.Proportion, 10, 0, 10, 0, nil, [4]int{10, 0, 10, 0}, true, false, false},
		// passed 1 is withheld; so is failed, the smaller of the rest of its sum
		// (eligible = passed + failed), so that 10 − 9 cannot give it back.
		{"one passed", kpi.Proportion, 10, 0, 1, 9, nil, [4]int{10, 0, -1, -1}, false, false, true},
		{"two failed", kpi.Proportion, 30, 4, 28, 2, nil, [4]int{30, 4, -1, -1}, false, false, true},
		// Both of a sum already withheld: nothing more.
		{"passed and failed small", kpi.Proportion, 3, 7, 1, 2, nil, [4]int{3, 7, -1, -1}, false, false, true},
		// ineligible 2 gives eligible back from the population: eligible goes too, and
		// then the smaller of passed and failed.
		{"two ineligible", kpi.Proportion, 50, 2, 30, 20, nil, [4]int{-1, -1, 30, -1}, false, false, true},
		// eligible 2 and failed 2: ineligible goes with eligible (the population would
		// give it back); passed 0 stays, since eligible = failed is all it tells.
		{"two eligible", kpi.Proportion, 2, 40, 0, 2, nil, [4]int{-1, -1, 0, -1}, false, false, true},
		{"mean of one patient", kpi.Mean, 10, 0, 1, 9, f(48), [4]int{10, 0, -1, -1}, false, false, true},
		{"mean of many", kpi.Mean, 10, 0, 7, 3, f(48), [4]int{10, 0, 7, 3}, true, true, false},
		{"two admissions", kpi.Sum, 40, 0, 2, 38, f(2), [4]int{40, 0, -1, -1}, false, false, true},
		{"admissions shown", kpi.Sum, 40, 0, 5, 35, f(7), [4]int{40, 0, 5, 35}, true, true, false},
		{"ratio of few", kpi.Ratio, 2, 30, 1, 1, f(50), [4]int{-1, -1, -1, -1}, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := 100 * float64(tt.passed) / float64(tt.eligible)
			a := store.KPIAggregate{Kind: tt.kind, Eligible: tt.eligible, Ineligible: tt.ineligible, Passed: tt.passed,
				Failed: tt.failed, Percentage: &p, Value: tt.value}
			got := aggregate.Suppress(a)
			for i, v := range []*int{got.Eligible, got.Ineligible, got.Passed, got.Failed} {
				want := tt.shown[i]
				if (want < 0) != (v == nil) || v != nil && *v != want {
					t.Errorf("count %d = %v, want %d (-1 withheld)", i, ptr(v), want)
				}
			}
			if (got.Percentage != nil) != tt.percentage {
				t.Errorf("percentage shown = %v, want %v", got.Percentage != nil, tt.percentage)
			}
			if (got.Value != nil) != tt.valueShown {
				t.Errorf("value shown = %v, want %v", got.Value != nil, tt.valueShown)
			}
			if got.Suppressed != tt.suppressed {
				t.Errorf("suppressed = %v, want %v", got.Suppressed, tt.suppressed)
			}
			// Whatever is withheld, no withheld count can be worked back from the shown
			// ones through either sum.
			e, i, ps, fl := got.Eligible, got.Ineligible, got.Passed, got.Failed
			if n := nils(e, ps, fl); n == 1 {
				t.Errorf("exactly one of eligible, passed, failed withheld: %v", [3]any{ptr(e), ptr(ps), ptr(fl)})
			}
			if n := nils(e, i); n == 1 {
				t.Errorf("exactly one of eligible, ineligible withheld: %v", [2]any{ptr(e), ptr(i)})
			}
			exact := aggregate.Exact(a)
			if exact.Suppressed || *exact.Passed != tt.passed || exact.Percentage == nil {
				t.Errorf("Exact = %+v", exact)
			}
		})
	}
}

func nils(ps ...*int) int {
	n := 0
	for _, p := range ps {
		if p == nil {
			n++
		}
	}
	return n
}

func ptr(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
