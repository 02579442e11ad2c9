package graph

import (
	"caregraph/audit/kpi"
	"caregraph/graph/generated"
	"caregraph/graph/model"
)

// Costs of the KPI fields. An aggregation list costs its children times the rows it can
// return: the places of the level (a generous guess for units) times the KPIs asked for.
const (
	costKPIMap = 200 // a whole layer's FeatureCollection with figures spliced in
)

var placesGuess = map[model.PlaceLevel]int{
	model.PlaceLevelUnit:                180,
	model.PlaceLevelTrust:               160,
	model.PlaceLevelIntegratedCareBoard: 42,
	model.PlaceLevelNhsEnglandRegion:    7,
	model.PlaceLevelDiabetesNetwork:     12,
	model.PlaceLevelCountry:             2,
	model.PlaceLevelNational:            1,
}

// kpisComplexity sets the costs of the fields of kpis.graphqls.
func kpisComplexity(c *generated.ComplexityRoot) {
	c.Query.KpiAggregations = func(child int, level model.PlaceLevel, code *string, _ int, _ *int, kpis []string) int {
		places := placesGuess[level]
		if code != nil || places == 0 {
			places = 1
		}
		n := len(kpi.Definitions)
		if kpis != nil {
			n = len(kpis)
		}
		// Each row costs its fields, but is only a copy of a stored row: a tenth of a
		// child per row keeps an analyst's "every unit, every KPI" query under the limit.
		return 1 + (child*places*n)/10
	}
	c.Query.KpiMap = func(child int, _ model.PlaceLevel, _ int, _ string, _ *int, _ *int) int { return costKPIMap }
	c.Patient.Kpis = func(child int, _ int, _ *int) int { return 1 + child*len(kpi.Definitions)/10 }
}
