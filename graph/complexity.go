package graph

import (
	"caregraph/graph/generated"
	"caregraph/graph/model"
)

// Costs of fields that do more work than reading a column. A list costs its children
// times the page size asked for, so `first` cannot multiply work unnoticed.
const (
	costBoundary   = 20  // one area's boundary
	costBoundaries = 200 // a whole layer's FeatureCollection
	costAreasAt    = 10  // a spatial lookup
)

// Complexity returns the cost functions the complexity limit uses.
func Complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	c.Area.Boundary = func(child int, _ *int) int { return child + costBoundary }
	c.Query.Areas = func(child int, _ model.AreaKind, first *int, _ *string) int {
		n := defaultPageSize
		if first != nil && *first > 0 {
			n = *first
		}
		return 1 + child*n
	}
	c.Query.AreasAt = func(child int, _, _ float64) int { return costAreasAt + child*5 }
	c.Query.Boundaries = func(child int, _ model.AreaKind, _ *int) int { return costBoundaries }
	accountsComplexity(&c)
	organisationsComplexity(&c)
	datasetsComplexity(&c)
	submissionsComplexity(&c)
	odsComplexity(&c)
	kpisComplexity(&c)
	return c
}
