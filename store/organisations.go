package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// OrgKind is the kind of an organisation in the ODS-keyed register.
type OrgKind string

// The organisation kinds.
const (
	KindSite   OrgKind = "site"
	KindTrust  OrgKind = "nhs_trust"
	KindLHB    OrgKind = "local_health_board"
	KindICB    OrgKind = "integrated_care_board"
	KindRegion OrgKind = "nhs_england_region"
	// KindOther is an organisation outside the NHS hierarchy, such as the RCPCH (8HV48).
	KindOther OrgKind = "other"
)

// OrgKinds lists every kind.
var OrgKinds = []OrgKind{KindSite, KindTrust, KindLHB, KindICB, KindRegion, KindOther}

// Valid reports whether k is a known kind.
func (k OrgKind) Valid() bool {
	for _, x := range OrgKinds {
		if x == k {
			return true
		}
	}
	return false
}

// LinkRelation names a multi-valued link between organisations.
type LinkRelation string

// The relations SetLinks accepts.
const (
	RelationICB    LinkRelation = "integrated_care_board"
	RelationRegion LinkRelation = "nhs_england_region"
)

// SuccessionKind says how a predecessor passed to its successor.
type SuccessionKind string

// The succession kinds.
const (
	SuccessionMerger      SuccessionKind = "merger"
	SuccessionAcquisition SuccessionKind = "acquisition"
	SuccessionRename      SuccessionKind = "rename"
	SuccessionClosure     SuccessionKind = "closure"
	SuccessionSplit       SuccessionKind = "split"
	SuccessionCodeChange  SuccessionKind = "code_change"
)

// Valid reports whether k is a known kind.
func (k SuccessionKind) Valid() bool {
	switch k {
	case SuccessionMerger, SuccessionAcquisition, SuccessionRename, SuccessionClosure, SuccessionSplit, SuccessionCodeChange:
		return true
	}
	return false
}

// LatLon is a WGS 84 point.
type LatLon struct {
	Lat, Lon float64
}

// OrgAttrs are the versioned attributes of an organisation; empty strings are absent.
type OrgAttrs struct {
	Name                                     string
	AddressLine1, AddressLine2, AddressLine3 string
	Town, County, Postcode                   string
	Phone, Email, Website                    string
	OrganisationType, SubType, Sector        string
	// LocalAuthority is the GSS code of the local authority as published.
	LocalAuthority string
	// CountryCode is the GSS code of the country the list declares.
	CountryCode string
	Point       *LatLon
}

// Equal reports whether a and b hold the same values.
func (a OrgAttrs) Equal(b OrgAttrs) bool {
	pa, pb := a.Point, b.Point
	a.Point, b.Point = nil, nil
	if a != b || (pa == nil) != (pb == nil) {
		return false
	}
	return pa == nil || *pa == *pb
}

const attrColumns = `v.name, COALESCE(v.address_line1, ''), COALESCE(v.address_line2, ''), COALESCE(v.address_line3, ''),
    COALESCE(v.town, ''), COALESCE(v.county, ''), COALESCE(v.postcode, ''), COALESCE(v.phone, ''),
    COALESCE(v.email, ''), COALESCE(v.website, ''), COALESCE(v.organisation_type, ''), COALESCE(v.sub_type, ''),
    COALESCE(v.sector, ''), COALESCE(v.local_authority, ''), COALESCE(v.country_code, ''), ST_Y(v.point), ST_X(v.point)`

type attrsScanner struct {
	a        OrgAttrs
	lat, lon *float64
}

func (s *attrsScanner) targets() []any {
	a := &s.a
	return []any{&a.Name, &a.AddressLine1, &a.AddressLine2, &a.AddressLine3, &a.Town, &a.County, &a.Postcode,
		&a.Phone, &a.Email, &a.Website, &a.OrganisationType, &a.SubType, &a.Sector, &a.LocalAuthority,
		&a.CountryCode, &s.lat, &s.lon}
}

func (s *attrsScanner) attrs() OrgAttrs {
	a := s.a
	if s.lat != nil && s.lon != nil {
		a.Point = &LatLon{Lat: *s.lat, Lon: *s.lon}
	}
	return a
}

// Placement is where an organisation's point lies: the GSS codes of the areas that
// contain it (empty where none does).
type Placement struct {
	Country, Region, ICB, LHB, Borough string
}

// Organisation is one organisation as it was on one date: the version that describes it
// then (its latest version begun on or before the date).
type Organisation struct {
	ID      int64
	ODSCode string
	Kind    OrgKind
	// GSSCode is the area an ICB, region or health board covers.
	GSSCode   string
	VersionID int64
	// ValidFrom and ValidTo bound the version; nil for "since before our records
	// begin" and "still current".
	ValidFrom, ValidTo *time.Time
	Attrs              OrgAttrs
	// Placed is whether the version's point has been placed in the boundaries.
	Placed bool
	Geo    Placement
	// On is the date asked for.
	On time.Time
	// Active is whether the version holds on On; false when the organisation had closed.
	Active bool
}

// OrgKey asks for one organisation as it was on one date.
type OrgKey struct {
	ID int64
	On time.Time
}

// Key returns the organisation's key.
func (o Organisation) Key() OrgKey { return OrgKey{ID: o.ID, On: Day(o.On)} }

// orgColumns reads organisation o and its version v as of k.d.
var orgColumns = orgColumnsOn("k.d")

// orgColumnsOn reads organisation o and its version v as of the date d (an SQL
// expression).
func orgColumnsOn(d string) string {
	return `o.id, o.ods_code, o.kind, COALESCE(o.gss_code, ''), v.id, lower(v.valid), upper(v.valid), ` + attrColumns + `,
    v.placed_at IS NOT NULL, COALESCE(v.geo_country, ''), COALESCE(v.geo_region, ''), COALESCE(v.geo_icb, ''),
    COALESCE(v.geo_lhb, ''), COALESCE(v.geo_borough, ''), ` + d + `, v.valid @> ` + d
}

func orgTargets(o *Organisation, sc *attrsScanner) []any {
	t := []any{&o.ID, &o.ODSCode, &o.Kind, &o.GSSCode, &o.VersionID, &o.ValidFrom, &o.ValidTo}
	t = append(t, sc.targets()...)
	return append(t, &o.Placed, &o.Geo.Country, &o.Geo.Region, &o.Geo.ICB, &o.Geo.LHB, &o.Geo.Borough, &o.On, &o.Active)
}

func scanOrg(row pgx.CollectableRow) (Organisation, error) {
	var o Organisation
	var sc attrsScanner
	err := row.Scan(orgTargets(&o, &sc)...)
	o.Attrs = sc.attrs()
	o.On = Day(o.On)
	return o, err
}

// orgsAt reads the organisations of k(id, d), each with its version as of d; those that
// did not exist yet on d are left out.
var orgsAt = `
SELECT ` + orgColumns + `
FROM k
JOIN organisations o ON o.id = k.id
JOIN ` + versionsOfK + ` v ON v.organisation_id = k.id AND v.d = k.d`

var sqlOrgsByKey = `WITH k AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::date[]) AS k(id, d))` + orgsAt

func splitOrgKeys(keys []OrgKey) ([]int64, []time.Time) {
	ids, dates := make([]int64, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		ids[i], dates[i] = k.ID, k.On
	}
	return ids, dates
}

// OrganisationsByKey returns the organisations asked for, each as it was on its date.
func (s *Store) OrganisationsByKey(ctx context.Context, keys []OrgKey) (map[OrgKey]Organisation, error) {
	ids, dates := splitOrgKeys(keys)
	rows, err := s.queryGenericPlan(ctx, sqlOrgsByKey, ids, dates)
	return collectByKey(rows, err, "organisations", scanOrg, func(o Organisation) OrgKey { return o.Key() })
}

// byCodeSQL looks one code up on a date: the organisation with its version then, whether
// it had passed to a successor by then, and (withRelations) where it belonged.
func byCodeSQL(withRelations bool) string {
	ctes, cols, join := kvCTE, "", ""
	if withRelations {
		ctes += `, ` + relationsCTEs
		cols = `, ` + relColumns
		join = `JOIN r ON r.id = k.id AND r.d = k.d`
	}
	return `
WITH k AS (SELECT o.id, $2::date AS d, o.kind FROM organisations o WHERE o.ods_code = $1), ` + ctes + `
SELECT ` + orgColumns + `, EXISTS (SELECT 1 FROM organisation_successions s
    WHERE s.predecessor_id = o.id AND s.successor_id IS NOT NULL AND s.effective_on <= k.d)` + cols + `
FROM k
JOIN organisations o ON o.id = k.id
JOIN kv v ON v.organisation_id = k.id AND v.d = k.d
` + join
}

var (
	sqlByCode              = byCodeSQL(false)
	sqlByCodeWithRelations = byCodeSQL(true)
)

// OrganisationByCode returns the organisation with the ODS code as it was on the date,
// following successions from a code that had been merged away by then, and the ids of
// the successions followed (empty when none); withRelations adds where it belonged then.
// ErrNotFound when there is no such code, or the organisation did not exist yet on that
// date. Most lookups take one statement; following successions takes more.
func (s *Store) OrganisationByCode(ctx context.Context, odsCode string, on time.Time, withRelations bool) (Organisation, []int64, *Relations, error) {
	on = Day(on)
	sql := sqlByCode
	var rel *Relations
	var o Organisation
	var sc attrsScanner
	var succeeded bool
	t := append(orgTargets(&o, &sc), &succeeded)
	if withRelations {
		sql, rel = sqlByCodeWithRelations, &Relations{}
		t = append(t, relTargets(rel)...)
	}
	err := s.queryRowGenericPlan(ctx, sql, odsCode, on).Scan(t...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Organisation{}, nil, nil, ErrNotFound
	}
	if err != nil {
		return Organisation{}, nil, nil, fmt.Errorf("organisation %s: %w", odsCode, err)
	}
	o.Attrs = sc.attrs()
	o.On = Day(o.On)
	if o.Active || !succeeded {
		if rel != nil {
			rel.Key = o.Key()
		}
		return o, nil, rel, nil
	}
	o, path, err := s.followSuccessions(ctx, odsCode, on)
	if err != nil || !withRelations {
		return o, path, nil, err
	}
	rels, err := s.RelationsByKey(ctx, []OrgKey{o.Key()})
	if err != nil {
		return Organisation{}, nil, nil, err
	}
	if r, ok := rels[o.Key()]; ok {
		rel = &r
	} else {
		rel = nil
	}
	return o, path, rel, nil
}

// A code that was merged away (or changed, or acquired) resolves to its successor when the
// succession took effect on or before the date asked and the predecessor no longer
// existed then. A split has several successors and is not followed.
var sqlFollowSuccessions = `
WITH RECURSIVE chain (id, succession_ids, depth) AS (
    SELECT o.id, ARRAY[]::bigint[], 0 FROM organisations o WHERE o.ods_code = $1
  UNION ALL
    SELECT s.successor_id, c.succession_ids || s.id, c.depth + 1
    FROM chain c
    JOIN organisation_successions s ON s.predecessor_id = c.id AND s.successor_id IS NOT NULL AND s.effective_on <= $2
    WHERE c.depth < 32
      AND NOT EXISTS (SELECT 1 FROM organisation_versions v WHERE v.organisation_id = c.id AND v.valid @> $2::date)
      AND NOT EXISTS (SELECT 1 FROM organisation_successions s2
                      WHERE s2.predecessor_id = c.id AND s2.successor_id IS NOT NULL AND s2.id <> s.id)
), k AS (
    SELECT c.id, $2::date AS d, o.kind, c.succession_ids
    FROM chain c JOIN organisations o ON o.id = c.id
    ORDER BY c.depth DESC LIMIT 1
), ` + kvCTE + `
SELECT ` + orgColumns + `, k.succession_ids
FROM k
JOIN organisations o ON o.id = k.id
JOIN kv v ON v.organisation_id = k.id AND v.d = k.d`

func (s *Store) followSuccessions(ctx context.Context, odsCode string, on time.Time) (Organisation, []int64, error) {
	var o Organisation
	var sc attrsScanner
	var path []int64
	err := s.db.QueryRow(ctx, sqlFollowSuccessions, odsCode, on).Scan(append(orgTargets(&o, &sc), &path)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Organisation{}, nil, ErrNotFound
	}
	if err != nil {
		return Organisation{}, nil, fmt.Errorf("successors of %s: %w", odsCode, err)
	}
	o.Attrs = sc.attrs()
	o.On = Day(o.On)
	return o, path, nil
}

// Relations is where an organisation belonged on one date. For a site placed by its
// point the ICB, region, health board, country and borough are the areas containing the
// point; for a site without one they are its parent's (ICBs and regions from the trust's
// links, the country the trust's list declares), and the borough is the local authority
// the list gives, when that is a London borough.
type Relations struct {
	Key      OrgKey
	ParentID *int64
	// ICBIDs and RegionIDs hold one entry for a placed site; a trust, or a site answered
	// through its trust, may have several.
	ICBIDs    []int64
	ICBCodes  []string // GSS codes, in the same order
	RegionIDs []int64
	// RegionCodes are GSS codes, in the same order as RegionIDs.
	RegionCodes []string
	LHBID       *int64
	LHBCode     string
	CountryCode string
	BoroughCode string
	// Placement is how the areas were found: point, outside (a point in no country),
	// lookup (no point: through the parent) or not_applicable (not a site).
	Placement string
	UnitID    *int64
	// DiabetesNetworkID is the network of the site's unit.
	DiabetesNetworkID *int64
	// OpenUKNetworkIDs are the OPEN UK networks of the organisation, or of a site's parent,
	// in no particular order.
	OpenUKNetworkIDs []int64
	// RegisterVersion is the register's version (see RegisterVersion) as the statement
	// that read these relations saw it.
	RegisterVersion int64
}

// kvCTE defines kv: the version that describes each organisation of k(id, d, kind) on
// its date (the rule of versionAt), chosen for all keys at once with one sort, with the
// organisation's kind as org_kind (which k carries so that the relations need not look
// the organisation up again).
const kvCTE = `kv AS MATERIALIZED (
    SELECT DISTINCT ON (kk.id, kk.d) kk.d AS d, kk.kind AS org_kind, v.*
    FROM (SELECT DISTINCT id, d, kind FROM k) kk
    JOIN organisation_versions v ON v.organisation_id = kk.id AND (lower_inf(v.valid) OR lower(v.valid) <= kk.d)
    ORDER BY kk.id, kk.d, lower(v.valid) DESC NULLS LAST
)`

// relationsCTEs define r: where each organisation of kv belonged on its date. They are
// set-based (hash joins over all keys at once) because their common use is every site
// of a list at once, and follow kvCTE in a WITH list.
const relationsCTEs = `x AS MATERIALIZED (
    SELECT kv.organisation_id AS id, kv.d, kv.org_kind AS kind, kv.geo_country, kv.geo_region, kv.geo_icb, kv.geo_lhb,
        kv.geo_borough, kv.local_authority, kv.country_code, l.parent_id, p.kind AS parent_kind, p.gss_code AS parent_gss,
        kv.org_kind IN ('site', 'other') AS site_like,
        kv.org_kind IN ('site', 'other') AND kv.point IS NOT NULL AND kv.placed_at IS NOT NULL AS by_point,
        CASE WHEN kv.org_kind IN ('site', 'other') THEN l.parent_id ELSE kv.organisation_id END AS owner
    FROM kv
    LEFT JOIN organisation_links l ON l.child_id = kv.organisation_id AND l.relation = 'parent' AND l.valid @> kv.d
    LEFT JOIN organisations p ON p.id = l.parent_id
), links AS (
    SELECT x.id, x.d, l.relation, array_agg(p.id ORDER BY p.ods_code) AS ids, array_agg(p.gss_code ORDER BY p.ods_code) AS gss
    FROM x
    JOIN organisation_links l ON l.child_id = x.owner AND l.valid @> x.d
    JOIN organisations p ON p.id = l.parent_id
    WHERE NOT x.by_point AND l.relation IN ('integrated_care_board', 'nhs_england_region')
    GROUP BY x.id, x.d, l.relation
), pv AS (
    SELECT DISTINCT ON (x.id, x.d) x.id, x.d, v.country_code
    FROM x
    JOIN organisation_versions v ON v.organisation_id = x.parent_id AND (lower_inf(v.valid) OR lower(v.valid) <= x.d)
    WHERE x.site_like AND NOT x.by_point
    ORDER BY x.id, x.d, lower(v.valid) DESC NULLS LAST
), ouk AS (
    SELECT x.id, x.d, array_agg(m.network_id) AS ids
    FROM x
    JOIN open_uk_network_members m ON m.organisation_id = x.owner AND m.valid @> x.d
    GROUP BY x.id, x.d
), r AS MATERIALIZED (
    SELECT x.id, x.d, x.parent_id,
        CASE WHEN x.by_point THEN CASE WHEN icb_g.id IS NULL THEN '{}' ELSE ARRAY[icb_g.id] END
             WHEN x.site_like OR x.kind = 'nhs_trust' THEN COALESCE(icb_l.ids, '{}') ELSE '{}' END AS icb_ids,
        CASE WHEN x.by_point THEN CASE WHEN icb_g.id IS NULL THEN '{}' ELSE ARRAY[icb_g.gss_code] END
             WHEN x.site_like OR x.kind = 'nhs_trust' THEN COALESCE(icb_l.gss, '{}') ELSE '{}' END AS icb_gss,
        CASE WHEN x.by_point THEN CASE WHEN reg_g.id IS NULL THEN '{}' ELSE ARRAY[reg_g.id] END
             WHEN x.kind IN ('nhs_england_region', 'local_health_board') THEN '{}' ELSE COALESCE(reg_l.ids, '{}') END AS region_ids,
        CASE WHEN x.by_point THEN CASE WHEN reg_g.id IS NULL THEN '{}' ELSE ARRAY[reg_g.gss_code] END
             WHEN x.kind IN ('nhs_england_region', 'local_health_board') THEN '{}' ELSE COALESCE(reg_l.gss, '{}') END AS region_gss,
        CASE WHEN x.by_point THEN lhb_g.id WHEN x.site_like AND x.parent_kind = 'local_health_board' THEN x.parent_id END AS lhb_id,
        COALESCE(CASE WHEN x.by_point THEN lhb_g.gss_code WHEN x.site_like AND x.parent_kind = 'local_health_board' THEN x.parent_gss END, '') AS lhb_gss,
        COALESCE(CASE WHEN x.by_point THEN x.geo_country WHEN x.site_like THEN pv.country_code ELSE x.country_code END, '') AS country_code,
        COALESCE(CASE WHEN x.by_point THEN x.geo_borough WHEN x.site_like AND x.local_authority LIKE 'E09%' THEN x.local_authority END, '') AS borough_code,
        CASE WHEN NOT x.site_like THEN 'not_applicable' WHEN x.by_point AND x.geo_country IS NOT NULL THEN 'point'
             WHEN x.by_point THEN 'outside' ELSE 'lookup' END AS placement,
        us.unit_id, un.network_id, COALESCE(ouk.ids, '{}') AS open_uk_ids
    FROM x
    LEFT JOIN links icb_l ON icb_l.id = x.id AND icb_l.d = x.d AND icb_l.relation = 'integrated_care_board'
    LEFT JOIN links reg_l ON reg_l.id = x.id AND reg_l.d = x.d AND reg_l.relation = 'nhs_england_region'
    LEFT JOIN organisations icb_g ON x.by_point AND icb_g.gss_code = x.geo_icb AND icb_g.kind = 'integrated_care_board'
    LEFT JOIN organisations reg_g ON x.by_point AND reg_g.gss_code = x.geo_region AND reg_g.kind = 'nhs_england_region'
    LEFT JOIN organisations lhb_g ON x.by_point AND lhb_g.gss_code = x.geo_lhb AND lhb_g.kind = 'local_health_board'
    LEFT JOIN pv ON pv.id = x.id AND pv.d = x.d
    LEFT JOIN unit_sites us ON us.organisation_id = x.id AND us.valid @> x.d
    LEFT JOIN unit_networks un ON un.unit_id = us.unit_id AND un.valid @> x.d
    LEFT JOIN ouk ON ouk.id = x.id AND ouk.d = x.d
)`

// relColumns are r's columns after id and d, in scanRelations' order, and the register's
// version as the statement saw it.
const relColumns = `r.parent_id, r.icb_ids, r.icb_gss, r.region_ids, r.region_gss, r.lhb_id, r.lhb_gss, r.country_code,
    r.borough_code, r.placement, r.unit_id, r.network_id, r.open_uk_ids,
    (SELECT version FROM register_version) AS register_version`

func relTargets(r *Relations) []any {
	return []any{&r.ParentID, &r.ICBIDs, &r.ICBCodes, &r.RegionIDs, &r.RegionCodes, &r.LHBID, &r.LHBCode, &r.CountryCode,
		&r.BoroughCode, &r.Placement, &r.UnitID, &r.DiabetesNetworkID, &r.OpenUKNetworkIDs, &r.RegisterVersion}
}

func scanRelations(row pgx.CollectableRow) (Relations, error) {
	var r Relations
	err := row.Scan(append([]any{&r.Key.ID, &r.Key.On}, relTargets(&r)...)...)
	r.Key.On = Day(r.Key.On)
	return r, err
}

var sqlRelationsByKey = `WITH k AS (
    SELECT DISTINCT u.id, u.d, o.kind FROM unnest($1::bigint[], $2::date[]) AS u(id, d) JOIN organisations o ON o.id = u.id),
` + kvCTE + `, ` + relationsCTEs + `
SELECT r.id, r.d, ` + relColumns + ` FROM r`

// RelationsByKey returns where each organisation asked for belonged on its date.
func (s *Store) RelationsByKey(ctx context.Context, keys []OrgKey) (map[OrgKey]Relations, error) {
	ids, dates := splitOrgKeys(keys)
	rows, err := s.db.Query(ctx, sqlRelationsByKey, ids, dates)
	return collectByKey(rows, err, "organisation relations", scanRelations, func(r Relations) OrgKey { return r.Key })
}

// OrganisationKinds returns the kind of every organisation in the register by ODS code.
func (s *Store) OrganisationKinds(ctx context.Context) (map[string]OrgKind, error) {
	rows, err := s.db.Query(ctx, `SELECT ods_code, kind FROM organisations`)
	if err != nil {
		return nil, fmt.Errorf("organisation kinds: %w", err)
	}
	defer rows.Close()
	out := map[string]OrgKind{}
	for rows.Next() {
		var code string
		var kind OrgKind
		if err := rows.Scan(&code, &kind); err != nil {
			return nil, fmt.Errorf("organisation kinds: %w", err)
		}
		out[code] = kind
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("organisation kinds: %w", err)
	}
	return out, nil
}

// RegisterCounts counts the register's rows: organisations per kind (by kind name), and
// "paediatric_diabetes_unit", "paediatric_diabetes_network", "open_uk_network",
// "succession".
func (s *Store) RegisterCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `
        SELECT kind, count(*) FROM organisations GROUP BY kind
        UNION ALL SELECT 'paediatric_diabetes_unit', count(*) FROM paediatric_diabetes_units
        UNION ALL SELECT 'paediatric_diabetes_network', count(*) FROM paediatric_diabetes_networks
        UNION ALL SELECT 'open_uk_network', count(*) FROM open_uk_networks
        UNION ALL SELECT 'succession', count(*) FROM organisation_successions`)
	if err != nil {
		return nil, fmt.Errorf("count register: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("count register: %w", err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count register: %w", err)
	}
	return out, nil
}

// RegisterEmpty reports whether no organisation has been recorded yet.
func (s *Store) RegisterEmpty(ctx context.Context) (bool, error) {
	var any bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organisations)`).Scan(&any); err != nil {
		return false, fmt.Errorf("organisation register: %w", err)
	}
	return !any, nil
}

// SitePlacement is where a site's current point lies, by GSS code and, for the areas
// that are also organisations, by ODS code.
type SitePlacement struct {
	ODSCode, Name string
	Point         *LatLon
	Placed        bool
	Geo           Placement
	// RegionODS, ICBODS and LHBODS are the organisations covering Geo's areas.
	RegionODS, ICBODS, LHBODS string
}

const sqlSitePlacements = `
SELECT o.ods_code, v.name, ST_Y(v.point), ST_X(v.point), v.placed_at IS NOT NULL,
    COALESCE(v.geo_country, ''), COALESCE(v.geo_region, ''), COALESCE(v.geo_icb, ''), COALESCE(v.geo_lhb, ''),
    COALESCE(v.geo_borough, ''), COALESCE(r.ods_code, ''), COALESCE(i.ods_code, ''), COALESCE(l.ods_code, '')
FROM organisations o
JOIN organisation_versions v ON v.organisation_id = o.id AND upper_inf(v.valid)
LEFT JOIN organisations r ON r.gss_code = v.geo_region AND r.kind = 'nhs_england_region'
LEFT JOIN organisations i ON i.gss_code = v.geo_icb AND i.kind = 'integrated_care_board'
LEFT JOIN organisations l ON l.gss_code = v.geo_lhb AND l.kind = 'local_health_board'
WHERE o.kind IN ('site', 'other')
ORDER BY o.ods_code`

// SitePlacements returns the current placement of every site (and other organisation
// with a point), ordered by ODS code.
func (s *Store) SitePlacements(ctx context.Context) ([]SitePlacement, error) {
	rows, err := s.db.Query(ctx, sqlSitePlacements)
	if err != nil {
		return nil, fmt.Errorf("site placements: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SitePlacement, error) {
		var p SitePlacement
		var lat, lon *float64
		err := row.Scan(&p.ODSCode, &p.Name, &lat, &lon, &p.Placed, &p.Geo.Country, &p.Geo.Region, &p.Geo.ICB,
			&p.Geo.LHB, &p.Geo.Borough, &p.RegionODS, &p.ICBODS, &p.LHBODS)
		if lat != nil && lon != nil {
			p.Point = &LatLon{Lat: *lat, Lon: *lon}
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("site placements: %w", err)
	}
	return ps, nil
}

// OrgFilter selects organisations for a list. Codes are matched as given (upper case);
// empty fields do not filter.
type OrgFilter struct {
	// Kinds defaults to sites and other organisations (the organisation list).
	Kinds []OrgKind
	// Search matches names ignoring case and punctuation, ranked by trigram similarity;
	// an exact ODS code ranks first.
	Search string
	// Parent is the ODS code of a site's trust or health board.
	Parent string
	// ICB, Region and LHB match an organisation's ODS code or its area's GSS code.
	ICB, Region, LHB string
	// Country and Borough are GSS codes.
	Country, Borough string
	Unit             string
	DiabetesNetwork  string
	OpenUKNetwork    string
	// Active: nil lists both; true only organisations that existed on the date; false
	// only those that had closed by then.
	Active *bool
	Near   *Near
}

// Near is a circle on the ground: a WGS 84 centre and a radius in kilometres.
type Near struct {
	Lat, Lon, RadiusKm float64
}

// Ranked reports whether the list is ordered by relevance or distance rather than by code.
func (f OrgFilter) Ranked() bool { return f.Search != "" || f.Near != nil }

// ByRelations reports whether the filter tests where organisations belong (their
// parent, areas, unit or networks), which the list statement then works out itself.
func (f OrgFilter) ByRelations() bool {
	return f.Parent != "" || f.ICB != "" || f.Region != "" || f.LHB != "" || f.Country != "" || f.Borough != "" ||
		f.Unit != "" || f.DiabetesNetwork != "" || f.OpenUKNetwork != ""
}

// OrgPage is a page of a filtered list.
type OrgPage struct {
	Items []ListedOrganisation
	Total int
	// RegisterVersion is the register's version (see RegisterVersion) as the list
	// statement saw it.
	RegisterVersion int64
}

// ListedOrganisation is an organisation in a list, with its search score and distance
// where the filter asked for them.
type ListedOrganisation struct {
	Organisation
	Score      *float64
	DistanceKm *float64
	// Relations are where the organisation belonged on the date, when asked for.
	Relations *Relations
}

// listQuery builds the list statement for one filter: only the conditions the filter
// uses are written, so each shape of filter is its own small prepared statement that
// plans quickly and can be planned once (generically) and reused. Every value is a
// parameter; only fixed SQL fragments are assembled.
//
// The statement evaluates every organisation of the kinds asked for (a few hundred) once
// on the date, filters, counts and pages. Search and distance pre-select candidates
// through the trigram and geography indexes (an ARRAY subquery, which the planner runs
// once through the index); the final test is on the version in force on the date.
// Filter codes become ids once, up front; the organisations' relations are computed
// (once, materialised) only when a filter needs them.
type listQuery struct {
	args []any
}

func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *listQuery) build(on time.Time, kinds []OrgKind, f OrgFilter, afterCode string, offset, limit int, withRelations bool) string {
	d := q.arg(Day(on))
	var pre, where, rel []string
	pre = append(pre, `o.kind = ANY(`+q.arg(kinds)+`)`)
	score, distance := `NULL::float8`, `NULL::float8`
	if f.Search != "" {
		raw := q.arg(f.Search)
		norm := `normalise_name(` + raw + `)`
		pre = append(pre, `(o.ods_code = upper(`+raw+`) OR o.id = ANY(ARRAY(
          SELECT organisation_id FROM organisation_versions
          WHERE search_name % `+norm+` OR `+norm+` <% search_name)))`)
		where = append(where, `(o.ods_code = upper(`+raw+`) OR v.search_name % `+norm+` OR `+norm+` <% v.search_name)`)
		score = `CASE WHEN o.ods_code = upper(` + raw + `) THEN 2
             ELSE greatest(similarity(v.search_name, ` + norm + `), word_similarity(` + norm + `, v.search_name)) END`
	}
	if f.Near != nil {
		centre := `ST_SetSRID(ST_MakePoint(` + q.arg(f.Near.Lon) + `, ` + q.arg(f.Near.Lat) + `), 4326)::geography`
		radius := q.arg(f.Near.RadiusKm * 1000)
		pre = append(pre, `o.id = ANY(ARRAY(
          SELECT organisation_id FROM organisation_versions
          WHERE ST_DWithin(point::geography, `+centre+`, `+radius+`)))`)
		where = append(where, `ST_DWithin(v.point::geography, `+centre+`, `+radius+`)`)
		distance = `ST_Distance(v.point::geography, ` + centre + `) / 1000`
	}
	if f.Active != nil {
		where = append(where, `(v.valid @> v.d) = `+q.arg(*f.Active))
	}
	byCode := func(kind, code string) string {
		return `(SELECT id FROM organisations WHERE kind = '` + kind + `' AND (ods_code = ` + q.arg(code) + ` OR gss_code = ` + q.arg(code) + `))`
	}
	if f.Parent != "" {
		rel = append(rel, `r.parent_id = (SELECT id FROM organisations WHERE ods_code = `+q.arg(f.Parent)+`)`)
	}
	if f.ICB != "" {
		rel = append(rel, byCode("integrated_care_board", f.ICB)+` = ANY(r.icb_ids)`)
	}
	if f.Region != "" {
		rel = append(rel, byCode("nhs_england_region", f.Region)+` = ANY(r.region_ids)`)
	}
	if f.LHB != "" {
		rel = append(rel, `r.lhb_id = `+byCode("local_health_board", f.LHB))
	}
	if f.Country != "" {
		rel = append(rel, `r.country_code = `+q.arg(f.Country))
	}
	if f.Borough != "" {
		rel = append(rel, `r.borough_code = `+q.arg(f.Borough))
	}
	if f.Unit != "" {
		rel = append(rel, `r.unit_id = (SELECT id FROM paediatric_diabetes_units WHERE pz_code = `+q.arg(f.Unit)+`)`)
	}
	if f.DiabetesNetwork != "" {
		rel = append(rel, `r.network_id = (SELECT id FROM paediatric_diabetes_networks WHERE code = `+q.arg(f.DiabetesNetwork)+`)`)
	}
	if f.OpenUKNetwork != "" {
		rel = append(rel, `(SELECT id FROM open_uk_networks WHERE code = `+q.arg(f.OpenUKNetwork)+`) = ANY(r.open_uk_ids)`)
	}
	relations, join, relCols := "", "", ""
	if len(rel) > 0 || withRelations {
		relations = `, ` + relationsCTEs
		join = `JOIN r ON r.id = o.id AND r.d = o.d`
		where = append(where, rel...)
	}
	if withRelations {
		relCols = `, ` + relColumns
	}
	cond := "true"
	if len(where) > 0 {
		cond = strings.Join(where, "\n      AND ")
	}
	var page string
	switch {
	case f.Ranked():
		page = `ORDER BY f.score DESC NULLS LAST, f.distance_km NULLS LAST, f.ods_code LIMIT ` + q.arg(limit) + `::int OFFSET ` + q.arg(offset) + `::int`
	case afterCode != "":
		page = `WHERE f.ods_code > ` + q.arg(afterCode) + ` ORDER BY f.ods_code LIMIT ` + q.arg(limit) + `::int`
	default:
		page = `ORDER BY f.ods_code LIMIT ` + q.arg(limit) + `::int`
	}
	return `
WITH k AS MATERIALIZED (
    SELECT o.id, ` + d + `::date AS d, o.ods_code, o.kind, o.gss_code FROM organisations o
    WHERE ` + strings.Join(pre, "\n      AND ") + `
), ` + kvCTE + relations + `, f AS MATERIALIZED (
    SELECT ` + orgColumnsOn("o.d") + `, ` + score + ` AS score, ` + distance + ` AS distance_km` + relCols + `
    FROM k o
    JOIN kv v ON v.organisation_id = o.id AND v.d = o.d
    ` + join + `
    WHERE ` + cond + `
), t AS (SELECT count(*) AS total, (SELECT version FROM register_version) AS register_version FROM f)
SELECT page.*, t.total, t.register_version
FROM t LEFT JOIN LATERAL (SELECT * FROM f ` + page + `) page ON true`
}

// ListOrganisations returns a page of the organisations that pass the filter as they were
// on the date, with the total. Unranked lists are ordered by ODS code and continue after
// afterCode; ranked ones (search, near) are ordered by score or distance and continue at
// offset.
func (s *Store) ListOrganisations(ctx context.Context, on time.Time, f OrgFilter, afterCode string, offset, limit int, withRelations bool) (OrgPage, error) {
	kinds := f.Kinds
	if len(kinds) == 0 {
		kinds = []OrgKind{KindSite, KindOther}
	}
	var q listQuery
	sql := q.build(on, kinds, f, afterCode, offset, limit, withRelations)
	query := s.db.Query
	if f.Search == "" && f.Near == nil {
		// Without a search or a distance to rank by, the parameters do not change the
		// best plan: take the generic one rather than plan the statement on every call.
		query = s.queryGenericPlan
	}
	rows, err := query(ctx, sql, q.args...)
	if err != nil {
		return OrgPage{}, fmt.Errorf("list organisations: %w", err)
	}
	var page OrgPage
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var o Organisation
		var sc attrsScanner
		var lo ListedOrganisation
		t := append(orgTargets(&o, &sc), &lo.Score, &lo.DistanceKm)
		if withRelations {
			lo.Relations = &Relations{}
			t = append(t, relTargets(lo.Relations)...)
		}
		t = append(t, &page.Total, &page.RegisterVersion)
		if row.RawValues()[0] == nil {
			// The empty page's single row carries only the total and the version.
			for i := range len(t) - 2 {
				t[i] = nil
			}
			return struct{}{}, row.Scan(t...)
		}
		if err := row.Scan(t...); err != nil {
			return struct{}{}, err
		}
		o.Attrs = sc.attrs()
		o.On = Day(o.On)
		lo.Organisation = o
		if lo.Relations != nil {
			lo.Relations.Key = o.Key()
		}
		page.Items = append(page.Items, lo)
		return struct{}{}, nil
	})
	if err != nil {
		return OrgPage{}, fmt.Errorf("list organisations: %w", err)
	}
	return page, nil
}

// RegisterVersion returns the version of the register's reference data: it rises with
// every committed change to the organisations, their versions, the units, their leads and
// networks, the networks and the areas (migration 0009).
func (s *Store) RegisterVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRow(ctx, `SELECT version FROM register_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("register version: %w", err)
	}
	return v, nil
}
