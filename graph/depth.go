package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DefaultMaxDepth is how deeply fields may nest in one operation unless configured.
const DefaultMaxDepth = 12

// CodeTooDeep is the extensions.code of an operation refused by DepthLimit.
const CodeTooDeep = "QUERY_TOO_DEEP"

// DepthLimit is a gqlgen handler extension that refuses operations whose fields nest
// deeper than Max, before any resolver runs. The cost limit bounds how much work a
// query asks for; the depth limit bounds how far it can wander through cyclic relations
// (unit → users → units → users …), which costs little per level but adds up.
//
// Fragments add no depth of their own. Fields named ofType do not count either: an
// introspection query follows a type reference through its list and non-null wrappers
// with a chain of them, and that chain is as long as the schema's wrapping, not as the
// query wants.
type DepthLimit struct {
	Max int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = DepthLimit{}

// ExtensionName names the extension in gqlgen's statistics.
func (DepthLimit) ExtensionName() string { return "DepthLimit" }

// Validate checks the limit when the extension is added to the server.
func (d DepthLimit) Validate(graphql.ExecutableSchema) error {
	if d.Max < 1 {
		return fmt.Errorf("depth limit must be at least 1, got %d", d.Max)
	}
	return nil
}

// MutateOperationContext measures the operation and refuses it when it is too deep.
func (d DepthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	m := depthMeter{fragments: oc.Doc.Fragments, memo: map[string]int{}, open: map[string]bool{}}
	if depth := m.selections(oc.Operation.SelectionSet); depth > d.Max {
		err := gqlerror.Errorf("the operation nests fields %d deep; the limit is %d", depth, d.Max)
		err.Extensions = map[string]any{"code": CodeTooDeep}
		return err
	}
	return nil
}

// depthMeter measures selection sets, each named fragment once however often it is
// spread, so that a document of nested fragment spreads costs time linear in its size.
type depthMeter struct {
	fragments ast.FragmentDefinitionList
	memo      map[string]int
	open      map[string]bool
}

func (m *depthMeter) selections(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = m.selections(s.SelectionSet)
			if s.Name != "ofType" {
				d++
			}
		case *ast.InlineFragment:
			d = m.selections(s.SelectionSet)
		case *ast.FragmentSpread:
			d = m.fragment(s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

func (m *depthMeter) fragment(name string) int {
	if d, ok := m.memo[name]; ok {
		return d
	}
	def := m.fragments.ForName(name)
	// Validation refuses fragment cycles before this runs; the guard keeps a bug there
	// from becoming endless recursion here.
	if def == nil || m.open[name] {
		return 0
	}
	m.open[name] = true
	d := m.selections(def.SelectionSet)
	m.open[name] = false
	m.memo[name] = d
	return d
}
