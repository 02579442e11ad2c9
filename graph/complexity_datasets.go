package graph

import (
	"caregraph/graph/generated"
	"caregraph/graph/model"
)

// Costs of the dataset fields. Options are small rows read in one statement, so they
// cost a tenth of a field each: a whole list of 5000 stays within the limit, while a
// large page of datasets with all their options does not. Without `first` a list is
// priced at a generous guess at its length.
const (
	optionsGuess  = 100 // options of one dataset when first is not given
	optionsPerUse = 10  // options that cost as much as one field
	costSearch    = 2   // a ranked search over one dataset's options
)

// datasetsComplexity sets the costs of the fields of datasets.graphqls.
func datasetsComplexity(c *generated.ComplexityRoot) {
	c.Query.Datasets = func(child int, _ *model.DatasetFilter, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.JobRuns = func(child int, _ *string, first *int) int { return listCost(child, first, defaultJobRunPage) }
	c.Dataset.Options = func(child int, search *string, first *int) int {
		n := optionsGuess
		if first != nil && *first > 0 {
			n = *first
		}
		rows := (n + optionsPerUse - 1) / optionsPerUse
		cost := listCost(child, &rows, 1)
		if search != nil && *search != "" {
			cost += costSearch
		}
		return cost
	}
	c.Dataset.AuditLog = func(child int, first *int) int { return listCost(child, first, defaultAuditPage) }
}

// listCost is the cost of a plain list: its children times the length asked for, or a
// default guess.
func listCost(child int, first *int, guess int) int {
	n := guess
	if first != nil && *first > 0 {
		n = *first
	}
	return 1 + child*n
}
