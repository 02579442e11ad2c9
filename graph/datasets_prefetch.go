package graph

import (
	"context"
	"encoding/json"
	"strings"

	"caregraph/graph/model"
	"caregraph/store"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// datasetRowTypes are the types whose fragments count when reading what a page of
// datasets selects.
var datasetRowTypes = []string{"Dataset", "DatasetConnection", "DatasetEdge", "Node"}

// prefetchDatasetRelations loads the relations the rows of a datasets page select
// (options, for each distinct search and first; parents; audit logs) in one statement
// each and primes the request's loaders with them. A loader alone batches only the keys
// that arrive within its wait, and the rows' resolvers, each in its own goroutine, do not
// always ask within it on a busy machine: the page's statements would then grow with
// its length.
func (r *Resolver) prefetchDatasetRelations(ctx context.Context, rows []*model.Dataset) error {
	if len(rows) == 0 || !graphql.HasOperationContext(ctx) {
		return nil
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return nil
	}
	op := graphql.GetOperationContext(ctx)
	var fields []graphql.CollectedField
	for _, path := range [][]string{{"nodes"}, {"edges", "node"}} {
		sets := []ast.SelectionSet{fc.Field.Selections}
		for _, name := range path {
			var next []ast.SelectionSet
			for _, ss := range sets {
				for _, f := range graphql.CollectFields(op, ss, datasetRowTypes) {
					if f.Name == name {
						next = append(next, f.Selections)
					}
				}
			}
			sets = next
		}
		for _, ss := range sets {
			fields = append(fields, graphql.CollectFields(op, ss, datasetRowTypes)...)
		}
	}
	ids := make([]int64, len(rows))
	for i, d := range rows {
		ids[i] = d.DBID
	}
	l := r.loaders(ctx).Datasets
	optionQueries := map[store.OptionQuery]bool{}
	auditLimits := map[int]bool{}
	wantParents := false
	for _, f := range fields {
		args := f.ArgumentMap(op.Variables)
		switch f.Name {
		case "options":
			first, ok := intArg(args["first"], 0, maxOptionsPage)
			if !ok || (args["first"] != nil && first == 0) {
				continue // the resolver reports a bad argument, or answers first: 0 itself
			}
			search, _ := args["search"].(string)
			optionQueries[store.OptionQuery{Search: strings.TrimSpace(search), Limit: first}] = true
		case "auditLog":
			if first, ok := intArg(args["first"], defaultAuditPage, maxAuditPage); ok && first > 0 {
				auditLimits[first] = true
			}
		case "parent":
			wantParents = true
		}
	}
	for q := range optionQueries {
		got, err := r.Store.SearchOptions(ctx, ids, q)
		if err != nil {
			return err
		}
		for _, id := range ids {
			l.Options.Prime(optionsKey{ID: id, Search: q.Search, Limit: q.Limit}, got[id])
		}
	}
	for limit := range auditLimits {
		got, err := r.Store.DatasetAudit(ctx, ids, limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			l.Audit.Prime(auditKey{ID: id, Limit: limit}, got[id])
		}
	}
	if wantParents {
		var parents []int64
		for _, d := range rows {
			if d.ParentID != nil {
				parents = append(parents, *d.ParentID)
			}
		}
		if len(parents) > 0 {
			got, err := r.Store.DatasetsByID(ctx, parents)
			if err != nil {
				return err
			}
			for id, d := range got {
				l.Dataset.Prime(id, d)
			}
		}
	}
	return nil
}

// intArg reads an optional Int argument as the resolver will: def when absent, ok false
// when out of range (the resolver then reports it).
func intArg(v any, def, max int) (int, bool) {
	var n int64
	switch x := v.(type) {
	case nil:
		return def, true
	case int:
		n = int64(x)
	case int64:
		n = x
	case float64:
		n = int64(x)
	case json.Number:
		var err error
		if n, err = x.Int64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if n < 0 || n > int64(max) {
		return 0, false
	}
	return int(n), true
}
