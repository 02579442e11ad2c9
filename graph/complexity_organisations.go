package graph

import (
	"caregraph/graph/generated"
	"caregraph/graph/model"
	"caregraph/graph/scalar"
)

// Costs of the organisation register's fields.
//
// A row of an organisation list costs a tenth of its fields: relation fields are batched
// through loaders, so a page costs a constant number of statements however long it is,
// and what grows with the page is only the response. That lets the whole site list with
// its hierarchy (1000 rows asked, a few dozen fields each) through the default limit.
// Relation lists without `first` cost their children times a generous guess at their
// length, so nesting them multiplies quickly.
const (
	orgRowDivisor      = 10
	costTextSearch     = 20 // a ranked trigram search
	costNearest        = 20 // a KNN search
	sitesGuess         = 40 // sites of a trust, ICB or region
	membersGuess       = 60 // trusts of an ICB, ICBs and trusts of a region
	siblingsGuess      = 20 // other sites of one trust
	unitSitesGuess     = 10 // sites of one unit
	networkUnitsGuess  = 40 // units of one network
	openUKMembersGuess = 30 // trusts of one OPEN UK network
	historyGuess       = 5  // versions of one organisation
	linkedGuess        = 5  // ICBs, regions or networks of one trust
)

// orgPageCost is the cost of a page of organisations.
func orgPageCost(child int, first *int) int {
	n := defaultPageSize
	if first != nil && *first > 0 {
		n = *first
	}
	return 1 + (child*n+orgRowDivisor-1)/orgRowDivisor
}

// organisationsComplexity sets the costs of the fields of organisations.graphqls.
func organisationsComplexity(c *generated.ComplexityRoot) {
	list := func(guess int) func(int, *scalar.Date) int {
		return func(child int, _ *scalar.Date) int { return 1 + child*guess }
	}
	c.Query.Organisations = func(child int, f *model.OrganisationFilter, _ *scalar.Date, first *int, _ *string) int {
		cost := orgPageCost(child, first)
		if f != nil && f.Search != nil {
			cost += costTextSearch
		}
		return cost
	}
	c.Query.Trusts = func(child int, search *string, _ *scalar.Date, first *int, _ *string) int {
		cost := orgPageCost(child, first)
		if search != nil {
			cost += costTextSearch
		}
		return cost
	}
	c.Query.NearestOrganisations = func(child int, _, _ float64, first *int, _ []model.OrganisationKind, _ *scalar.Date) int {
		n := 10
		if first != nil && *first > 0 {
			n = *first
		}
		return costNearest + (child*n+orgRowDivisor-1)/orgRowDivisor
	}
	c.Query.PaediatricDiabetesUnits = func(child int, _ *scalar.Date, first *int, _ *string) int { return orgPageCost(child, first) }
	c.Query.PaediatricDiabetesNetworks = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.OpenUkNetworks = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Area.Organisations = func(child int, _ *scalar.Date, first *int, _ *string) int { return orgPageCost(child, first) }
	c.Organisation.Sites = list(sitesGuess)
	c.Organisation.Members = func(child int, _ *model.OrganisationKind, _ *scalar.Date) int { return 1 + child*membersGuess }
	c.Organisation.Siblings = list(siblingsGuess)
	c.Organisation.IntegratedCareBoards = list(linkedGuess)
	c.Organisation.NhsEnglandRegions = list(linkedGuess)
	c.Organisation.OpenUkNetworks = list(linkedGuess)
	c.Organisation.LeadsUnits = list(linkedGuess)
	c.Organisation.History = func(child int) int { return 1 + child*historyGuess }
	c.PaediatricDiabetesUnit.Sites = list(unitSitesGuess)
	c.PaediatricDiabetesNetwork.Units = list(networkUnitsGuess)
	c.OpenUkNetwork.Members = list(openUKMembersGuess)
}
