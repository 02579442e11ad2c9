package graph

import (
	"context"
	"fmt"
	"sort"
	"time"

	"caregraph/graph/model"
	"caregraph/graph/scalar"
	"caregraph/store"
)

// Helpers of organisations.resolvers.go: each loads through the request's loaders.

func (r *Resolver) orgLoaders(ctx context.Context) *OrgLoaders { return r.loaders(ctx).Orgs }

// relations loads where obj belonged on the date asked for (default: obj's own date).
func (r *Resolver) relations(ctx context.Context, obj *model.Organisation, asOf *scalar.Date) (store.Relations, time.Time, error) {
	d := asOfDate(asOf, obj.AsOf.Time)
	rel, _, err := load(ctx, r.orgLoaders(ctx).Relations, store.OrgKey{ID: obj.DBID, On: d})
	return rel, d, err
}

// orgByID loads one organisation as it was on d; nil for no id or no such organisation.
func (r *Resolver) orgByID(ctx context.Context, id *int64, d time.Time) (*model.Organisation, error) {
	if id == nil {
		return nil, nil
	}
	o, ok, err := load(ctx, r.orgLoaders(ctx).Organisation, store.OrgKey{ID: *id, On: d})
	if err != nil || !ok {
		return nil, err
	}
	return toOrganisation(o), nil
}

// orgsByID loads organisations as they were on d, keeping the order of ids.
func (r *Resolver) orgsByID(ctx context.Context, ids []int64, d time.Time) ([]*model.Organisation, error) {
	thunks := make([]func() (store.Organisation, error), len(ids))
	for i, id := range ids {
		thunks[i] = r.orgLoaders(ctx).Organisation.LoadThunk(ctx, store.OrgKey{ID: id, On: d})
	}
	out := make([]*model.Organisation, 0, len(ids))
	for _, t := range thunks {
		o, err := t()
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		out = append(out, toOrganisation(o))
	}
	return out, nil
}

// onlyOne returns the single organisation of ids, or nil when there are none or several.
func (r *Resolver) onlyOne(ctx context.Context, ids []int64, d time.Time) (*model.Organisation, error) {
	if len(ids) != 1 {
		return nil, nil
	}
	return r.orgByID(ctx, &ids[0], d)
}

// areaByCode loads an area by GSS code; nil when there is none (or boundaries are missing).
func (r *Resolver) areaByCode(ctx context.Context, code string) (*model.Area, error) {
	if code == "" {
		return nil, nil
	}
	a, ok, err := load(ctx, r.orgLoaders(ctx).Area, code)
	if err != nil || !ok {
		return nil, err
	}
	return toArea(a), nil
}

// linked loads the organisations linked to obj on the date, keeping those of the
// relation (all when empty) and kind (all when empty).
func (r *Resolver) linked(ctx context.Context, id int64, d time.Time, relation string, kind store.OrgKind) ([]*model.Organisation, error) {
	ls, _, err := load(ctx, r.orgLoaders(ctx).Linked, store.OrgKey{ID: id, On: d})
	if err != nil {
		return nil, err
	}
	out := []*model.Organisation{}
	for _, l := range ls {
		if (relation == "" || l.Relation == relation) && (kind == "" || l.Kind == kind) {
			out = append(out, toOrganisation(l.Organisation))
		}
	}
	return out, r.prefetchOrganisations(ctx, out, rowSelection(ctx))
}

// unitOn returns the unit as it was on the date asked for: obj itself when that is the
// date it was read at.
func (r *Resolver) unitOn(ctx context.Context, obj *model.PaediatricDiabetesUnit, asOf *scalar.Date) (store.Unit, time.Time, error) {
	d := asOfDate(asOf, obj.AsOf.Time)
	if d.Equal(store.Day(obj.AsOf.Time)) {
		return store.Unit{ID: obj.DBID, PZCode: obj.PzCode, Name: obj.Name, LeadID: obj.LeadID, NetworkID: obj.NetworkID, On: d}, d, nil
	}
	u, _, err := load(ctx, r.orgLoaders(ctx).Unit, store.UnitKey{ID: obj.DBID, On: d})
	return u, d, err
}

func (r *Resolver) diabetesNetwork(ctx context.Context, id *int64) (*model.PaediatricDiabetesNetwork, error) {
	if id == nil {
		return nil, nil
	}
	n, ok, err := load(ctx, r.orgLoaders(ctx).DiabetesNet, *id)
	if err != nil || !ok {
		return nil, err
	}
	return toDiabetesNetwork(n), nil
}

func (r *Resolver) openUKNetworks(ctx context.Context, ids []int64) ([]*model.OpenUkNetwork, error) {
	out := make([]*model.OpenUkNetwork, 0, len(ids))
	for _, id := range ids {
		n, ok, err := load(ctx, r.orgLoaders(ctx).OpenUKNet, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, toOpenUKNetwork(n))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

// successionsOf returns the successions obj took part in on the given side.
func (r *Resolver) successionsOf(ctx context.Context, obj *model.Organisation, asPredecessor bool) ([]*model.Succession, error) {
	ss, _, err := load(ctx, r.orgLoaders(ctx).SuccessionsOf, obj.DBID)
	if err != nil {
		return nil, err
	}
	out := []*model.Succession{}
	for _, s := range ss {
		if asPredecessor && s.PredecessorID == obj.DBID || !asPredecessor && s.SuccessorID != nil && *s.SuccessorID == obj.DBID {
			out = append(out, toSuccession(s))
		}
	}
	return out, nil
}

// organisationByCode looks an organisation up by code on the date, following successions;
// nil when there is none then.
func (r *Resolver) organisationByCode(ctx context.Context, odsCode string, asOf *scalar.Date) (*model.Organisation, error) {
	code := normaliseCode(odsCode)
	if code == "" {
		return nil, badInput("odsCode must not be empty")
	}
	plan := planFor(rowSelection(ctx))
	o, path, rel, err := r.Store.OrganisationByCode(ctx, code, asOfDate(asOf, time.Time{}), plan.relations)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := toOrganisation(o)
	m.SuccessionIDs = path
	r.queueLinked(ctx, []*model.Organisation{m}, plan)
	var rels map[store.OrgKey]store.Relations
	if rel != nil {
		rels = relationsByKey([]store.Relations{*rel})
	}
	return m, r.loadRelated(ctx, []*model.Organisation{m}, rels, plan)
}

// listOrganisations runs a filtered, paged list.
func (r *Resolver) listOrganisations(ctx context.Context, f store.OrgFilter, asOf *scalar.Date, first *int, after *string) (*model.OrganisationConnection, error) {
	limit, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	afterCode, offset, err := pagePosition(after, f.Ranked())
	if err != nil {
		return nil, err
	}
	plan := planFor(rowSelection(ctx, connectionRows...))
	// The list statement works its rows' relations out when they are asked for, unless the
	// cache of related objects holds them (and the filter does not test them).
	c := r.Related
	cached := plan.relations && !f.ByRelations() && c.warm()
	page, err := r.Store.ListOrganisations(ctx, asOfDate(asOf, time.Time{}), f, afterCode, offset, limit+1, plan.relations && !cached)
	if err != nil {
		return nil, err
	}
	conn := orgConnection(page.Items, page.Total, limit, f.Ranked(), offset, afterCode != "" || offset > 0)
	r.queueLinked(ctx, conn.Nodes, plan)
	rels := map[store.OrgKey]store.Relations{}
	for _, it := range page.Items[:len(conn.Nodes)] {
		if it.Relations != nil {
			rels[it.Relations.Key] = *it.Relations
		}
	}
	if c != nil && plan.relations {
		c.at(page.RegisterVersion)
		keys := make([]store.OrgKey, len(conn.Nodes))
		for i, o := range conn.Nodes {
			keys[i] = orgKey(o)
		}
		if cached {
			if rels, err = fetchCached(c, page.RegisterVersion, c.heldRelations(), keys, func(keys []store.OrgKey) (map[store.OrgKey]store.Relations, error) {
				return r.Store.RelationsByKey(ctx, keys)
			}); err != nil {
				return nil, err
			}
		} else {
			c.keep(page.RegisterVersion, rels)
		}
	}
	return conn, r.loadRelated(ctx, conn.Nodes, rels, plan)
}

// organisationNode resolves the global ids of the register's types.
func (r *Resolver) organisationNode(ctx context.Context, typeName, key string) (model.Node, error) {
	switch typeName {
	case "Organisation":
		o, err := r.organisationByCode(ctx, key, nil)
		if o == nil || err != nil {
			return nil, err
		}
		return o, nil
	case "PaediatricDiabetesUnit":
		u, err := r.Store.UnitByPZ(ctx, key, today())
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return toUnit(u), nil
	case "PaediatricDiabetesNetwork", "OpenUkNetwork":
		kind := store.DiabetesNetworks
		if typeName == "OpenUkNetwork" {
			kind = store.OpenUKNetworks
		}
		n, err := r.Store.NetworkByCode(ctx, kind, key)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if kind == store.OpenUKNetworks {
			return toOpenUKNetwork(n), nil
		}
		return toDiabetesNetwork(n), nil
	}
	return nil, badInput(fmt.Sprintf("id names an unknown type %q", typeName))
}

// networkPage reads one page of diabetes or OPEN UK networks, with the rows' cursors,
// the page information and the total.
func (r *queryResolver) networkPage(ctx context.Context, kind store.NetworkKind, first *int, after *string) ([]store.Network, []string, *model.PageInfo, int, error) {
	limit, err := pageSize(first)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	afterCode, err := decodeCursor(after)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	ns, total, err := r.Store.Networks(ctx, kind, afterCode, limit+1)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	ns, cursors, info := page(ns, limit, afterCode != "", func(_ int, n store.Network) string { return encodeCursor(n.Code) })
	return ns, cursors, info, total, nil
}
