package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"caregraph/graph/model"
	"caregraph/graph/scalar"
	"caregraph/store"

	"github.com/99designs/gqlgen/graphql"
	"golang.org/x/sync/errgroup"
)

// The relation fields marked @prefetched are model methods (graph/model/
// organisation_related.go) so that gqlgen runs them inline instead of in a goroutine per
// field. A resolver that produces organisations loads their relations ahead
// (loadRelated) and hangs them on the objects; the directive lets the method answer when
// the relation was loaded for the date asked and otherwise resolves the field through the
// loaders here, as the resolvers did before.

// Prefetched implements the @prefetched directive.
func (r *Resolver) Prefetched(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	asOf, _ := fc.Args["asOf"].(*scalar.Date)
	switch o := obj.(type) {
	case *model.Organisation:
		if o.Prefetched(fc.Field.Name, asOf) {
			return next(ctx)
		}
		return r.loadOrgRelation(ctx, o, fc.Field.Name, asOf)
	case *model.PaediatricDiabetesUnit:
		if o.Prefetched(asOf) {
			return next(ctx)
		}
		u, _, err := r.unitOn(ctx, o, asOf)
		if err != nil {
			return nil, err
		}
		return r.diabetesNetwork(ctx, u.NetworkID)
	}
	return next(ctx)
}

// loadOrgRelation resolves a relation field of obj through the loaders.
func (r *Resolver) loadOrgRelation(ctx context.Context, obj *model.Organisation, field string, asOf *scalar.Date) (any, error) {
	if field == "area" {
		if obj.GssCode == nil {
			return nil, nil
		}
		return r.areaByCode(ctx, *obj.GssCode)
	}
	rel, d, err := r.relations(ctx, obj, asOf)
	if err != nil {
		return nil, err
	}
	switch field {
	case "country":
		return r.areaByCode(ctx, rel.CountryCode)
	case "londonBorough":
		return r.areaByCode(ctx, rel.BoroughCode)
	case "parent":
		return r.orgByID(ctx, rel.ParentID, d)
	case "trust":
		p, err := r.orgByID(ctx, rel.ParentID, d)
		if err != nil || p == nil || p.Kind != model.OrganisationKindNhsTrust {
			return nil, err
		}
		return p, nil
	case "localHealthBoard":
		return r.orgByID(ctx, rel.LHBID, d)
	case "integratedCareBoard":
		return r.onlyOne(ctx, rel.ICBIDs, d)
	case "integratedCareBoards":
		return r.orgsByID(ctx, rel.ICBIDs, d)
	case "nhsEnglandRegion":
		return r.onlyOne(ctx, rel.RegionIDs, d)
	case "nhsEnglandRegions":
		return r.orgsByID(ctx, rel.RegionIDs, d)
	case "paediatricDiabetesUnit":
		if rel.UnitID == nil {
			return nil, nil
		}
		u, ok, err := load(ctx, r.orgLoaders(ctx).Unit, store.UnitKey{ID: *rel.UnitID, On: d})
		if err != nil || !ok {
			return nil, err
		}
		return toUnit(u), nil
	case "paediatricDiabetesNetwork":
		return r.diabetesNetwork(ctx, rel.DiabetesNetworkID)
	case "openUkNetwork":
		if len(rel.OpenUKNetworkIDs) != 1 {
			return nil, nil
		}
		ns, err := r.openUKNetworks(ctx, rel.OpenUKNetworkIDs)
		if err != nil || len(ns) == 0 {
			return nil, err
		}
		return ns[0], nil
	case "openUkNetworks":
		return r.openUKNetworks(ctx, rel.OpenUKNetworkIDs)
	}
	return nil, fmt.Errorf("@prefetched on unknown field Organisation.%s", field)
}

// loadRelated loads what the rows select of their relations on their own dates (rels,
// keyed by the rows' keys) and hangs it on them. Each kind of related object is one
// statement over all rows, run at once rather than after a loader's wait: the keys are
// all known here.
func (r *Resolver) loadRelated(ctx context.Context, orgs []*model.Organisation, rels map[store.OrgKey]store.Relations, plan prefetchPlan) error {
	l := r.orgLoaders(ctx)
	var parents []store.OrgKey
	for _, rel := range rels {
		l.Relations.Prime(rel.Key, rel)
		if plan.siblings && rel.ParentID != nil {
			parents = append(parents, store.OrgKey{ID: *rel.ParentID, On: rel.Key.On})
		}
	}
	// siblings stays a resolver (a list per row); its parents' sites are one batch.
	queue(ctx, l.Linked, parents)
	var orgKeys []store.OrgKey
	var unitKeys []store.UnitKey
	var networkIDs, openUKIDs []int64
	var areaCodes []string
	for _, o := range orgs {
		if plan.ownArea && o.GssCode != nil {
			areaCodes = append(areaCodes, *o.GssCode)
		}
		rel, ok := rels[orgKey(o)]
		if !ok {
			continue
		}
		d := rel.Key.On
		if plan.orgs {
			for _, id := range rel.ICBIDs {
				orgKeys = append(orgKeys, store.OrgKey{ID: id, On: d})
			}
			for _, id := range rel.RegionIDs {
				orgKeys = append(orgKeys, store.OrgKey{ID: id, On: d})
			}
			for _, id := range ptrs(rel.ParentID, rel.LHBID) {
				orgKeys = append(orgKeys, store.OrgKey{ID: id, On: d})
			}
		}
		if plan.units && rel.UnitID != nil {
			unitKeys = append(unitKeys, store.UnitKey{ID: *rel.UnitID, On: d})
		}
		if plan.networks && rel.DiabetesNetworkID != nil {
			networkIDs = append(networkIDs, *rel.DiabetesNetworkID)
		}
		if plan.openUK {
			openUKIDs = append(openUKIDs, rel.OpenUKNetworkIDs...)
		}
		if plan.areas {
			areaCodes = append(areaCodes, rel.CountryCode, rel.BoroughCode)
		}
		if plan.linkedAreas {
			areaCodes = append(append(append(areaCodes, rel.ICBCodes...), rel.RegionCodes...), rel.LHBCode)
		}
	}

	// The statements are independent (a unit's network on the date is the one the
	// relations name), so they run side by side, each on its own connection, for what
	// the cache of related objects does not hold.
	related := map[store.OrgKey]*model.Organisation{}
	units := map[store.UnitKey]*model.PaediatricDiabetesUnit{}
	networks := map[int64]*model.PaediatricDiabetesNetwork{}
	openUK := map[int64]*model.OpenUkNetwork{}
	areas := map[string]*model.Area{}
	areaCodes = slices.DeleteFunc(distinct(areaCodes), func(c string) bool { return c == "" })
	c := r.Related
	var version int64
	if c != nil && len(orgKeys)+len(unitKeys)+len(networkIDs)+len(openUKIDs)+len(areaCodes) > 0 {
		// The statement that read the relations read the register's version too; the
		// oldest of them is the one the cache may answer for.
		for _, rel := range rels {
			if version == 0 || rel.RegisterVersion < version {
				version = rel.RegisterVersion
			}
		}
		if version > 0 {
			c.at(version)
		} else {
			var err error
			if version, err = c.current(ctx, r.Store); err != nil {
				return err
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if len(orgKeys) > 0 {
		g.Go(func() error {
			os, err := fetchCached(c, version, c.heldOrgs(), distinct(orgKeys), func(keys []store.OrgKey) (map[store.OrgKey]store.Organisation, error) {
				return r.Store.OrganisationsByKey(gctx, keys)
			})
			for k, o := range os {
				related[k] = toOrganisation(o)
			}
			return err
		})
	}
	if len(unitKeys) > 0 {
		g.Go(func() error {
			us, err := fetchCached(c, version, c.heldUnits(), distinct(unitKeys), func(keys []store.UnitKey) (map[store.UnitKey]store.Unit, error) {
				return r.Store.UnitsByKey(gctx, keys)
			})
			for k, u := range us {
				units[k] = toUnit(u)
			}
			return err
		})
	}
	if len(networkIDs) > 0 {
		g.Go(func() error {
			ns, err := fetchCached(c, version, c.heldNetworks(store.DiabetesNetworks), distinct(networkIDs), func(ids []int64) (map[int64]store.Network, error) {
				return r.Store.NetworksByID(gctx, store.DiabetesNetworks, ids)
			})
			for id, n := range ns {
				networks[id] = toDiabetesNetwork(n)
			}
			return err
		})
	}
	if len(openUKIDs) > 0 {
		g.Go(func() error {
			ns, err := fetchCached(c, version, c.heldNetworks(store.OpenUKNetworks), distinct(openUKIDs), func(ids []int64) (map[int64]store.Network, error) {
				return r.Store.NetworksByID(gctx, store.OpenUKNetworks, ids)
			})
			for id, n := range ns {
				openUK[id] = toOpenUKNetwork(n)
			}
			return err
		})
	}
	if len(areaCodes) > 0 {
		g.Go(func() error {
			as, err := fetchCached(c, version, c.heldAreas(), areaCodes, func(codes []string) (map[string]store.Area, error) {
				as, err := r.Store.AreasByCode(gctx, codes)
				byCode := make(map[string]store.Area, len(as))
				for _, a := range as {
					byCode[a.Code] = a
				}
				return byCode, err
			})
			for code, a := range as {
				areas[code] = toArea(a)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	area := func(code string) *model.Area {
		if code == "" {
			return nil
		}
		return areas[code]
	}

	if plan.linkedAreas {
		for _, o := range related {
			if o.GssCode != nil {
				o.OwnArea = &model.OwnArea{Area: area(*o.GssCode)}
			}
		}
	}
	if plan.networks {
		for _, u := range units {
			if u.NetworkID == nil {
				u.NetworkOf = &model.UnitNetwork{}
			} else if n, ok := networks[*u.NetworkID]; ok {
				u.NetworkOf = &model.UnitNetwork{Network: n}
			}
		}
	}
	for _, o := range orgs {
		if plan.ownArea && o.GssCode != nil {
			o.OwnArea = &model.OwnArea{Area: area(*o.GssCode)}
		}
		rel, ok := rels[orgKey(o)]
		if !ok {
			continue
		}
		d := rel.Key.On
		orgOf := func(id *int64) *model.Organisation {
			if id == nil {
				return nil
			}
			return related[store.OrgKey{ID: *id, On: d}]
		}
		orgsOf := func(ids []int64) []*model.Organisation {
			out := make([]*model.Organisation, 0, len(ids))
			for _, id := range ids {
				if p := related[store.OrgKey{ID: id, On: d}]; p != nil {
					out = append(out, p)
				}
			}
			return out
		}
		rd := &model.OrgRelated{On: d, HasOrgs: plan.orgs, HasAreas: plan.areas, HasUnit: plan.units,
			HasNetwork: plan.networks, HasOpenUK: plan.openUK}
		if plan.orgs {
			rd.Parent, rd.LocalHealthBoard = orgOf(rel.ParentID), orgOf(rel.LHBID)
			rd.ICBs, rd.Regions = orgsOf(rel.ICBIDs), orgsOf(rel.RegionIDs)
		}
		if plan.areas {
			rd.Country, rd.Borough = area(rel.CountryCode), area(rel.BoroughCode)
		}
		if plan.units && rel.UnitID != nil {
			rd.Unit = units[store.UnitKey{ID: *rel.UnitID, On: d}]
		}
		if plan.networks && rel.DiabetesNetworkID != nil {
			rd.Network = networks[*rel.DiabetesNetworkID]
		}
		if plan.openUK {
			rd.OpenUK = make([]*model.OpenUkNetwork, 0, len(rel.OpenUKNetworkIDs))
			for _, id := range rel.OpenUKNetworkIDs {
				if n := openUK[id]; n != nil {
					rd.OpenUK = append(rd.OpenUK, n)
				}
			}
			sortNetworks(rd.OpenUK)
		}
		o.Related = rd
	}
	return nil
}

// orgKey is the key of an organisation on its own date.
func orgKey(o *model.Organisation) store.OrgKey {
	return store.OrgKey{ID: o.DBID, On: store.Day(o.AsOf.Time)}
}

// distinct returns keys without repeats, in first-seen order.
func distinct[K comparable](keys []K) []K {
	seen := make(map[K]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// relationsByKey keys relations by organisation and date.
func relationsByKey(rels []store.Relations) map[store.OrgKey]store.Relations {
	out := make(map[store.OrgKey]store.Relations, len(rels))
	for _, rel := range rels {
		out[rel.Key] = rel
	}
	return out
}

// sortNetworks orders networks by code, as the openUkNetworks field lists them.
func sortNetworks(ns []*model.OpenUkNetwork) {
	slices.SortFunc(ns, func(a, b *model.OpenUkNetwork) int { return strings.Compare(a.Code, b.Code) })
}
