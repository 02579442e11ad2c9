package graph

import (
	"context"

	"caregraph/graph/model"
	"caregraph/store"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"
)

// Prefetching keeps a list's statements constant however long it is. A dataloader
// batches the keys that arrive within its wait; the rows of a long list are resolved by
// many goroutines that do not all ask within that window, so batches would split. A list
// resolver therefore looks at what its rows select, loads their relations itself in one
// statement and primes the loader with them, and queues (without waiting) the loads the
// relations lead to, so that each is one batch. The rows' resolvers then find everything
// in the loaders' caches.

// rowTypes are the types whose fragments count when reading a row's selection.
var rowTypes = []string{"Organisation", "OrganisationConnection", "OrganisationEdge", "NearbyOrganisation",
	"PaediatricDiabetesUnit", "PaediatricDiabetesUnitConnection", "PaediatricDiabetesUnitEdge", "Node"}

// selection is what the rows of a list select: row holds the fields selected on the rows
// themselves, deep every field name below them.
type selection struct {
	row, deep map[string]bool
}

// rowSelection reads the current field's selection, descending through paths (each a
// chain of field names, such as nodes or edges → node) to reach the rows; with no path
// the field's own selection is the row's.
func rowSelection(ctx context.Context, paths ...[]string) selection {
	sel := selection{row: map[string]bool{}, deep: map[string]bool{}}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return sel
	}
	op := graphql.GetOperationContext(ctx)
	var deep func(ss ast.SelectionSet, depth int)
	deep = func(ss ast.SelectionSet, depth int) {
		if depth > 8 {
			return
		}
		for _, f := range graphql.CollectFields(op, ss, rowTypes) {
			sel.deep[f.Name] = true
			deep(f.Selections, depth+1)
		}
	}
	rows := func(ss ast.SelectionSet) {
		for _, f := range graphql.CollectFields(op, ss, rowTypes) {
			sel.row[f.Name] = true
		}
		deep(ss, 0)
	}
	if len(paths) == 0 {
		rows(fc.Field.Selections)
		return sel
	}
	for _, path := range paths {
		sets := []ast.SelectionSet{fc.Field.Selections}
		for _, name := range path {
			var next []ast.SelectionSet
			for _, ss := range sets {
				for _, f := range graphql.CollectFields(op, ss, rowTypes) {
					if f.Name == name {
						next = append(next, f.Selections)
					}
				}
			}
			sets = next
		}
		for _, ss := range sets {
			rows(ss)
		}
	}
	return sel
}

// connectionRows are the paths from a connection to its rows.
var connectionRows = [][]string{{"nodes"}, {"edges", "node"}}

func (s selection) any(names ...string) bool {
	for _, n := range names {
		if s.row[n] {
			return true
		}
	}
	return false
}

// prefetchPlan is what the rows of a list will ask for.
type prefetchPlan struct {
	relations, orgs, units, networks, openUK, areas, linkedAreas bool
	linked, sitesInArea, unitsLed, siblings                      bool
	// ownArea: the rows' own area (an ICB's, region's or health board's).
	ownArea bool
}

func planFor(sel selection) prefetchPlan {
	p := prefetchPlan{
		orgs: sel.any("parent", "trust", "localHealthBoard", "integratedCareBoard", "integratedCareBoards",
			"nhsEnglandRegion", "nhsEnglandRegions", "siblings"),
		units:    sel.row["paediatricDiabetesUnit"],
		openUK:   sel.any("openUkNetwork", "openUkNetworks"),
		areas:    sel.any("country", "londonBorough"),
		linked:   sel.any("sites", "members"),
		unitsLed: sel.row["leadsUnits"],
		siblings: sel.row["siblings"],
	}
	p.sitesInArea = sel.row["sites"]
	p.ownArea = sel.row["area"]
	p.networks = sel.row["paediatricDiabetesNetwork"] || p.units && sel.deep["network"]
	p.linkedAreas = p.orgs && sel.deep["area"]
	p.relations = p.orgs || p.units || p.networks || p.openUK || p.areas
	return p
}

// prefetchOrganisations loads the relations of orgs that their rows ask for and hangs
// them on the rows (see organisations_related.go), and queues the lists hanging off them.
func (r *Resolver) prefetchOrganisations(ctx context.Context, orgs []*model.Organisation, sel selection) error {
	if len(orgs) == 0 {
		return nil
	}
	plan := planFor(sel)
	r.queueLinked(ctx, orgs, plan)
	var rels map[store.OrgKey]store.Relations
	if plan.relations {
		keys := make([]store.OrgKey, len(orgs))
		for i, o := range orgs {
			keys[i] = store.OrgKey{ID: o.DBID, On: o.AsOf.Time}
		}
		var err error
		if rels, err = r.Store.RelationsByKey(ctx, keys); err != nil {
			return err
		}
	}
	return r.loadRelated(ctx, orgs, rels, plan)
}

// queueLinked queues the lists hanging off each organisation that the rows ask for.
func (r *Resolver) queueLinked(ctx context.Context, orgs []*model.Organisation, plan prefetchPlan) {
	l := r.orgLoaders(ctx)
	var linked, led []store.OrgKey
	var inArea []store.AreaKey
	for _, o := range orgs {
		key := store.OrgKey{ID: o.DBID, On: o.AsOf.Time}
		if plan.linked {
			isArea := o.Kind == model.OrganisationKindIntegratedCareBoard || o.Kind == model.OrganisationKindNhsEnglandRegion
			if isArea && o.GssCode != nil && plan.sitesInArea {
				inArea = append(inArea, store.AreaKey{Code: *o.GssCode, On: key.On})
			}
			linked = append(linked, key)
		}
		if plan.unitsLed {
			led = append(led, key)
		}
	}
	queue(ctx, l.SitesInArea, inArea)
	queue(ctx, l.Linked, linked)
	queue(ctx, l.UnitsLed, led)
}

// queue asks a loader for keys without waiting for them.
func queue[K comparable, V any](ctx context.Context, l *dataloadgen.Loader[K, V], keys []K) {
	for _, k := range keys {
		l.LoadThunk(ctx, k)
	}
}

// prefetchUnits queues what the rows of a unit list ask for.
func (r *Resolver) prefetchUnits(ctx context.Context, units []*model.PaediatricDiabetesUnit, sel selection) {
	l := r.orgLoaders(ctx)
	var leads []store.OrgKey
	var networks []int64
	var sites []store.UnitKey
	for _, u := range units {
		d := u.AsOf.Time
		if sel.any("leadOrganisation", "parent") && u.LeadID != nil {
			leads = append(leads, store.OrgKey{ID: *u.LeadID, On: d})
		}
		if sel.row["network"] && u.NetworkID != nil {
			networks = append(networks, *u.NetworkID)
		}
		if sel.row["sites"] {
			sites = append(sites, store.UnitKey{ID: u.DBID, On: d})
		}
	}
	queue(ctx, l.Organisation, leads)
	queue(ctx, l.DiabetesNet, networks)
	queue(ctx, l.UnitSites, sites)
}

func ptrs(ps ...*int64) []int64 {
	var out []int64
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}
