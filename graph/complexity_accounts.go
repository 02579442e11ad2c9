package graph

import (
	"caregraph/graph/generated"
	"caregraph/graph/model"
)

// Costs of the account fields. Lists without `first` cost their children times a
// generous guess at their length; anything that runs argon2id costs as much as a
// large page, so that a batch of logins in one document hits the cost limit.
const (
	costPasswordHash = 500 // one argon2id hash or check
	unitMembersGuess = 50  // accounts of one unit
	tokensGuess      = 20  // tokens of one account
	unitsGuess       = 5   // units of one account
)

// pageCost is the cost of a connection: its children times the page size asked for.
func pageCost(child int, first *int) int {
	n := defaultPageSize
	if first != nil && *first > 0 {
		n = *first
	}
	return 1 + child*n
}

// accountsComplexity sets the costs of the fields of accounts.graphqls.
func accountsComplexity(c *generated.ComplexityRoot) {
	c.Query.Users = func(child int, _ *model.UserFilter, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.AccessLog = func(child int, _ *model.AccessLogFilter, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.MyTokens = func(child int, _ *bool) int { return 1 + child*tokensGuess }
	c.Query.Tokens = func(child int, _ string, _ *bool) int { return 1 + child*tokensGuess }
	c.PaediatricDiabetesUnit.Users = func(child int) int { return 1 + child*unitMembersGuess }
	c.User.Units = func(child int) int { return 1 + child*unitsGuess }
	c.Mutation.Login = func(child int, _, _ string, _ *string) int { return costPasswordHash + child }
	c.Mutation.ChangePassword = func(child int, _, _ string) int { return 2*costPasswordHash + child }
	c.Mutation.CreateUser = func(child int, _ model.CreateUserInput) int { return costPasswordHash + child }
}
