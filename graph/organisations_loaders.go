package graph

import (
	"context"
	"errors"
	"time"

	"caregraph/store"

	"github.com/vikstrous/dataloadgen"
)

// OrgLoaders batch the organisation register's relation lookups of one request. Keys
// carry the date asked for, so one batch may mix dates and still be one statement.
type OrgLoaders struct {
	Organisation  *dataloadgen.Loader[store.OrgKey, store.Organisation]
	Relations     *dataloadgen.Loader[store.OrgKey, store.Relations]
	Linked        *dataloadgen.Loader[store.OrgKey, []store.LinkedOrganisation]
	SitesInArea   *dataloadgen.Loader[store.AreaKey, []store.Organisation]
	Unit          *dataloadgen.Loader[store.UnitKey, store.Unit]
	UnitSites     *dataloadgen.Loader[store.UnitKey, []store.Organisation]
	UnitsLed      *dataloadgen.Loader[store.OrgKey, []store.Unit]
	NetworkUnits  *dataloadgen.Loader[store.UnitKey, []store.Unit]
	OpenUKMembers *dataloadgen.Loader[store.UnitKey, []store.Organisation]
	DiabetesNet   *dataloadgen.Loader[int64, store.Network]
	OpenUKNet     *dataloadgen.Loader[int64, store.Network]
	Area          *dataloadgen.Loader[string, store.Area]
	History       *dataloadgen.Loader[int64, []store.OrgVersion]
	Succession    *dataloadgen.Loader[int64, store.Succession]
	SuccessionsOf *dataloadgen.Loader[int64, []store.Succession]
}

// orgLoaderWait is short: lists prefetch and queue their rows' keys themselves (see
// organisations_prefetch.go), so the wait only gathers the few fields of one object, and
// a lookup with its whole hierarchy waits it once per level.
const orgLoaderWait = raceSlowdown * 500 * time.Microsecond

func newOrgLoaders(st *store.Store) *OrgLoaders {
	wait := dataloadgen.WithWait(orgLoaderWait)
	return &OrgLoaders{
		Organisation:  dataloadgen.NewMappedLoader(st.OrganisationsByKey, wait),
		Relations:     dataloadgen.NewMappedLoader(st.RelationsByKey, wait),
		Linked:        dataloadgen.NewMappedLoader(st.LinkedTo, wait),
		SitesInArea:   dataloadgen.NewMappedLoader(st.SitesInAreas, wait),
		Unit:          dataloadgen.NewMappedLoader(st.UnitsByKey, wait),
		UnitSites:     dataloadgen.NewMappedLoader(st.UnitSites, wait),
		UnitsLed:      dataloadgen.NewMappedLoader(st.UnitsLedBy, wait),
		NetworkUnits:  dataloadgen.NewMappedLoader(st.NetworkUnits, wait),
		OpenUKMembers: dataloadgen.NewMappedLoader(st.OpenUKMembers, wait),
		DiabetesNet: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]store.Network, error) {
			return st.NetworksByID(ctx, store.DiabetesNetworks, ids)
		}, wait),
		OpenUKNet: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]store.Network, error) {
			return st.NetworksByID(ctx, store.OpenUKNetworks, ids)
		}, wait),
		Area: dataloadgen.NewMappedLoader(func(ctx context.Context, codes []string) (map[string]store.Area, error) {
			as, err := st.AreasByCode(ctx, codes)
			if err != nil {
				return nil, err
			}
			out := make(map[string]store.Area, len(as))
			for _, a := range as {
				out[a.Code] = a
			}
			return out, nil
		}, wait),
		History: dataloadgen.NewMappedLoader(st.Histories, wait),
		Succession: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]store.Succession, error) {
			ss, err := st.Successions(ctx, ids, nil)
			if err != nil {
				return nil, err
			}
			out := make(map[int64]store.Succession, len(ss))
			for _, s := range ss {
				out[s.ID] = s
			}
			return out, nil
		}, wait),
		SuccessionsOf: dataloadgen.NewMappedLoader(func(ctx context.Context, orgIDs []int64) (map[int64][]store.Succession, error) {
			ss, err := st.Successions(ctx, nil, orgIDs)
			if err != nil {
				return nil, err
			}
			out := map[int64][]store.Succession{}
			for _, s := range ss {
				out[s.PredecessorID] = append(out[s.PredecessorID], s)
				if s.SuccessorID != nil && *s.SuccessorID != s.PredecessorID {
					out[*s.SuccessorID] = append(out[*s.SuccessorID], s)
				}
			}
			return out, nil
		}, wait),
	}
}

// load runs a loader and turns "no value for this key" into the zero value and ok false.
func load[K comparable, V any](ctx context.Context, l *dataloadgen.Loader[K, V], key K) (V, bool, error) {
	v, err := l.Load(ctx, key)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		var zero V
		return zero, false, nil
	}
	if err != nil {
		var zero V
		return zero, false, err
	}
	return v, true, nil
}

// isNotFound reports whether err says a row or loader key does not exist.
func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, dataloadgen.ErrNotFound)
}
