package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The reads behind relation fields: each answers many keys (an id or code with a date)
// in one statement, for the per-request loaders.

// AreaKey asks for the sites in one area (by GSS code) on one date.
type AreaKey struct {
	Code string
	On   time.Time
}

// collectGrouped scans rows whose first column is a grouping key, then an organisation.
func collectGrouped[K comparable](rows pgx.Rows, key func(o Organisation, first any) K, first func() any) (map[K][]Organisation, error) {
	out := map[K][]Organisation{}
	_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var o Organisation
		var sc attrsScanner
		f := first()
		if err := row.Scan(append([]any{f}, orgTargets(&o, &sc)...)...); err != nil {
			return struct{}{}, err
		}
		o.Attrs = sc.attrs()
		o.On = Day(o.On)
		k := key(o, f)
		out[k] = append(out[k], o)
		return struct{}{}, nil
	})
	return out, err
}

// LinkedOrganisation is an organisation linked to another, with the relation.
type LinkedOrganisation struct {
	Organisation
	// Relation is parent, integrated_care_board or nhs_england_region: how the member is
	// linked to the organisation asked about.
	Relation string
}

var sqlLinkedTo = `
WITH q AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::date[]) AS q(id, d)),
k AS (
    SELECT l.child_id AS id, q.d, q.id AS parent_id, l.relation
    FROM q JOIN organisation_links l ON l.parent_id = q.id AND l.valid @> q.d
)
SELECT k.parent_id, k.relation, ` + orgColumns + `
FROM k
JOIN organisations o ON o.id = k.id
JOIN ` + versionsOfK + ` v ON v.organisation_id = k.id AND v.d = k.d
ORDER BY o.ods_code`

// LinkedTo returns, for each organisation and date, the organisations linked to it then:
// the sites whose parent it is, the trusts in an ICB, the ICBs and trusts in a region.
func (s *Store) LinkedTo(ctx context.Context, keys []OrgKey) (map[OrgKey][]LinkedOrganisation, error) {
	ids, dates := splitOrgKeys(keys)
	rows, err := s.db.Query(ctx, sqlLinkedTo, ids, dates)
	if err != nil {
		return nil, fmt.Errorf("linked organisations: %w", err)
	}
	out := map[OrgKey][]LinkedOrganisation{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var lo LinkedOrganisation
		var parent int64
		var sc attrsScanner
		if err := row.Scan(append([]any{&parent, &lo.Relation}, orgTargets(&lo.Organisation, &sc)...)...); err != nil {
			return struct{}{}, err
		}
		lo.Attrs = sc.attrs()
		lo.On = Day(lo.On)
		k := OrgKey{ID: parent, On: lo.On}
		out[k] = append(out[k], lo)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("linked organisations: %w", err)
	}
	return out, nil
}

// A site is in an area when the area is its country, borough or health board, or its only
// ICB or region (a site answered through a trust that spans several is in none of them).
var sqlSitesInAreas = `
WITH q AS (SELECT DISTINCT * FROM unnest($1::text[], $2::date[]) AS q(code, d)),
k AS (
    SELECT o.id, dd.d, o.kind FROM organisations o CROSS JOIN (SELECT DISTINCT d FROM q) dd
    WHERE o.kind IN ('site', 'other')
), ` + kvCTE + `, ` + relationsCTEs + `
SELECT q.code, ` + orgColumns + `
FROM q
JOIN r ON r.d = q.d AND (q.code IN (r.country_code, r.borough_code, r.lhb_gss)
    OR (cardinality(r.icb_gss) = 1 AND r.icb_gss[1] = q.code)
    OR (cardinality(r.region_gss) = 1 AND r.region_gss[1] = q.code))
JOIN k ON k.id = r.id AND k.d = r.d
JOIN organisations o ON o.id = k.id
JOIN kv v ON v.organisation_id = k.id AND v.d = k.d
WHERE v.valid @> k.d
ORDER BY o.ods_code`

// SitesInAreas returns, for each area (GSS code) and date, the sites placed in it then,
// ordered by ODS code.
func (s *Store) SitesInAreas(ctx context.Context, keys []AreaKey) (map[AreaKey][]Organisation, error) {
	codes, dates := make([]string, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		codes[i], dates[i] = k.Code, k.On
	}
	rows, err := s.db.Query(ctx, sqlSitesInAreas, codes, dates)
	if err != nil {
		return nil, fmt.Errorf("sites in areas: %w", err)
	}
	out, err := collectGrouped(rows, func(o Organisation, first any) AreaKey {
		return AreaKey{Code: *first.(*string), On: o.On}
	}, func() any { return new(string) })
	if err != nil {
		return nil, fmt.Errorf("sites in areas: %w", err)
	}
	return out, nil
}

var sqlUnitSites = `
WITH q AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::date[]) AS q(id, d)),
k AS (SELECT us.organisation_id AS id, q.d, q.id AS unit_id FROM q JOIN unit_sites us ON us.unit_id = q.id AND us.valid @> q.d)
SELECT k.unit_id, ` + orgColumns + `
FROM k
JOIN organisations o ON o.id = k.id
JOIN ` + versionsOfK + ` v ON v.organisation_id = k.id AND v.d = k.d
ORDER BY o.ods_code`

// UnitSites returns, for each unit and date, the sites the unit cared through then.
func (s *Store) UnitSites(ctx context.Context, keys []UnitKey) (map[UnitKey][]Organisation, error) {
	ids, dates := make([]int64, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		ids[i], dates[i] = k.ID, k.On
	}
	rows, err := s.db.Query(ctx, sqlUnitSites, ids, dates)
	if err != nil {
		return nil, fmt.Errorf("unit sites: %w", err)
	}
	out, err := collectGrouped(rows, func(o Organisation, first any) UnitKey {
		return UnitKey{ID: *first.(*int64), On: o.On}
	}, func() any { return new(int64) })
	if err != nil {
		return nil, fmt.Errorf("unit sites: %w", err)
	}
	return out, nil
}

var sqlOpenUKMembers = `
WITH q AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::date[]) AS q(id, d)),
k AS (SELECT m.organisation_id AS id, q.d, q.id AS network_id FROM q JOIN open_uk_network_members m ON m.network_id = q.id AND m.valid @> q.d)
SELECT k.network_id, ` + orgColumns + `
FROM k
JOIN organisations o ON o.id = k.id
JOIN ` + versionsOfK + ` v ON v.organisation_id = k.id AND v.d = k.d
ORDER BY o.ods_code`

// OpenUKMembers returns, for each OPEN UK network (UnitKey.ID is the network's id) and
// date, the trusts and health boards in it then.
func (s *Store) OpenUKMembers(ctx context.Context, keys []UnitKey) (map[UnitKey][]Organisation, error) {
	ids, dates := make([]int64, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		ids[i], dates[i] = k.ID, k.On
	}
	rows, err := s.db.Query(ctx, sqlOpenUKMembers, ids, dates)
	if err != nil {
		return nil, fmt.Errorf("OPEN UK network members: %w", err)
	}
	out, err := collectGrouped(rows, func(o Organisation, first any) UnitKey {
		return UnitKey{ID: *first.(*int64), On: o.On}
	}, func() any { return new(int64) })
	if err != nil {
		return nil, fmt.Errorf("OPEN UK network members: %w", err)
	}
	return out, nil
}

// NearestOrganisations returns up to n organisations of the kinds (default sites and
// other organisations) that existed on the date, nearest the point first, with their
// distances. The KNN operator on the geography index picks the candidates; the reported
// distance and final order are on the spheroid.
func (s *Store) NearestOrganisations(ctx context.Context, lat, lon float64, kinds []OrgKind, on time.Time, n int) ([]ListedOrganisation, error) {
	if len(kinds) == 0 {
		kinds = []OrgKind{KindSite, KindOther}
	}
	rows, err := s.db.Query(ctx, sqlNearest, lon, lat, kinds, Day(on), n)
	if err != nil {
		return nil, fmt.Errorf("nearest organisations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ListedOrganisation, error) {
		var lo ListedOrganisation
		var sc attrsScanner
		var d float64
		err := row.Scan(append(orgTargets(&lo.Organisation, &sc), &d)...)
		lo.Attrs = sc.attrs()
		lo.On = Day(lo.On)
		lo.DistanceKm = &d
		return lo, err
	})
	if err != nil {
		return nil, fmt.Errorf("nearest organisations: %w", err)
	}
	return out, nil
}

var sqlNearest = `
WITH g AS (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography AS g),
near AS (
    SELECT v.id AS version_id, v.organisation_id
    FROM organisation_versions v, g
    WHERE v.point IS NOT NULL AND v.valid @> $4::date
      AND v.organisation_id IN (SELECT id FROM organisations WHERE kind = ANY($3))
    ORDER BY v.point::geography <-> g.g
    LIMIT $5
), k AS (SELECT organisation_id AS id, $4::date AS d, version_id FROM near)
SELECT ` + orgColumns + `, ST_Distance(v.point::geography, g.g) / 1000 AS distance_km
FROM k
JOIN organisations o ON o.id = k.id
JOIN organisation_versions v ON v.id = k.version_id
CROSS JOIN g
ORDER BY distance_km, o.ods_code`

// OrgVersion is one version of an organisation's attributes.
type OrgVersion struct {
	OrganisationID     int64
	ValidFrom, ValidTo *time.Time
	Attrs              OrgAttrs
}

const sqlHistories = `
SELECT v.organisation_id, lower(v.valid), upper(v.valid), ` + attrColumns + `
FROM organisation_versions v
WHERE v.organisation_id = ANY($1)
ORDER BY v.organisation_id, lower(v.valid) NULLS FIRST`

// Histories returns every version of each organisation, oldest first.
func (s *Store) Histories(ctx context.Context, ids []int64) (map[int64][]OrgVersion, error) {
	rows, err := s.db.Query(ctx, sqlHistories, ids)
	if err != nil {
		return nil, fmt.Errorf("organisation histories: %w", err)
	}
	out := map[int64][]OrgVersion{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var v OrgVersion
		var sc attrsScanner
		if err := row.Scan(append([]any{&v.OrganisationID, &v.ValidFrom, &v.ValidTo}, sc.targets()...)...); err != nil {
			return struct{}{}, err
		}
		v.Attrs = sc.attrs()
		out[v.OrganisationID] = append(out[v.OrganisationID], v)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("organisation histories: %w", err)
	}
	return out, nil
}

// Succession is a recorded succession.
type Succession struct {
	ID            int64
	PredecessorID int64
	SuccessorID   *int64
	Kind          SuccessionKind
	EffectiveOn   time.Time
	Note          string
}

const sqlSuccessions = `
SELECT id, predecessor_id, successor_id, kind, effective_on, COALESCE(note, '')
FROM organisation_successions
WHERE id = ANY($1) OR predecessor_id = ANY($2) OR successor_id = ANY($2)
ORDER BY effective_on, id`

// Successions returns the successions with the given ids, and those in which any of
// the given organisations was predecessor or successor, ordered by date.
func (s *Store) Successions(ctx context.Context, ids, orgIDs []int64) ([]Succession, error) {
	rows, err := s.db.Query(ctx, sqlSuccessions, ids, orgIDs)
	if err != nil {
		return nil, fmt.Errorf("successions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Succession, error) {
		var sc Succession
		err := row.Scan(&sc.ID, &sc.PredecessorID, &sc.SuccessorID, &sc.Kind, &sc.EffectiveOn, &sc.Note)
		sc.EffectiveOn = Day(sc.EffectiveOn)
		return sc, err
	})
	if err != nil {
		return nil, fmt.Errorf("successions: %w", err)
	}
	return out, nil
}
