package store

// Every write to the organisation tables is in this file, so that history cannot be
// bypassed: a change closes the open row of what it changes on the date given and opens a
// new one from that date, and never rewrites the past. Dates are calendar dates; the zero
// time.Time as a start means "since before our records begin" (an unbounded lower end),
// which only a first write may use.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// NewOrganisation is an organisation to create with its first version.
type NewOrganisation struct {
	ODSCode string
	Kind    OrgKind
	// GSSCode is the area an ICB, region or health board covers; empty for others.
	GSSCode string
	Attrs   OrgAttrs
	// From is when the first version begins; zero for "since before our records begin".
	From time.Time
}

// CreateOrganisation inserts an organisation and its first version, places it on the map
// when it has a point, and returns its id. An existing ODS code is ErrConflict.
func (s *Store) CreateOrganisation(ctx context.Context, n NewOrganisation) (int64, error) {
	ids, err := s.CreateOrganisations(ctx, []NewOrganisation{n})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// CreateOrganisations inserts organisations with their first versions in one
// transaction and places all of them on the map in one set-based statement. It returns
// their ids in order.
func (s *Store) CreateOrganisations(ctx context.Context, ns []NewOrganisation) ([]int64, error) {
	for _, n := range ns {
		if !n.Kind.Valid() {
			return nil, fmt.Errorf("create organisation %s: unknown kind %q", n.ODSCode, n.Kind)
		}
		if n.Attrs.Name == "" {
			return nil, fmt.Errorf("create organisation %s: a name is required", n.ODSCode)
		}
	}
	ids := make([]int64, len(ns))
	err := s.InTx(ctx, func(tx *Store) error {
		vids := make([]int64, len(ns))
		for i, n := range ns {
			err := tx.db.QueryRow(ctx, `INSERT INTO organisations (ods_code, kind, gss_code) VALUES ($1, $2, NULLIF($3, '')) RETURNING id`,
				n.ODSCode, n.Kind, n.GSSCode).Scan(&ids[i])
			if err != nil {
				return fmt.Errorf("create organisation %s: %w", n.ODSCode, conflict(err))
			}
			if vids[i], err = tx.insertVersion(ctx, ids[i], n.Attrs, n.From); err != nil {
				return fmt.Errorf("create organisation %s: %w", n.ODSCode, err)
			}
		}
		if _, err := tx.placeVersions(ctx, vids); err != nil {
			return fmt.Errorf("place new organisations: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// LockRegister takes a transaction-level advisory lock on the organisation register, so
// that two seeds (two replicas starting at once) run one after the other. Call it inside
// InTx.
func (s *Store) LockRegister(ctx context.Context) error {
	_, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(registerLock))
	return err
}

// registerLock is the advisory lock key of the organisation register.
const registerLock = 7_262_011_003

// SetAttributes records that the organisation's attributes are a from the date on: the
// open version is closed on from and a new one opened. It reports whether anything
// changed; attributes equal to the open version's change nothing. A second change on
// the same day replaces the first; a change dated before the open version began is
// ErrConflict, since history is only ever appended.
func (s *Store) SetAttributes(ctx context.Context, odsCode string, a OrgAttrs, from time.Time) (bool, error) {
	if a.Name == "" {
		return false, fmt.Errorf("set attributes of %s: a name is required", odsCode)
	}
	return s.changeAttributes(ctx, odsCode, from, func(OrgAttrs) OrgAttrs { return a })
}

// SetName records a new name from the date on, keeping every other attribute.
func (s *Store) SetName(ctx context.Context, odsCode, name string, from time.Time) (bool, error) {
	if name == "" {
		return false, fmt.Errorf("set name of %s: a name is required", odsCode)
	}
	return s.changeAttributes(ctx, odsCode, from, func(a OrgAttrs) OrgAttrs { a.Name = name; return a })
}

// SetPoint records a new location (nil for none) from the date on and places the
// organisation again.
func (s *Store) SetPoint(ctx context.Context, odsCode string, p *LatLon, from time.Time) (bool, error) {
	return s.changeAttributes(ctx, odsCode, from, func(a OrgAttrs) OrgAttrs { a.Point = p; return a })
}

const sqlOpenVersion = `
SELECT v.id, lower(v.valid), ` + attrColumns + `
FROM organisation_versions v JOIN organisations o ON o.id = v.organisation_id
WHERE o.ods_code = $1 AND upper_inf(v.valid)
FOR UPDATE OF v`

func (s *Store) changeAttributes(ctx context.Context, odsCode string, from time.Time, change func(OrgAttrs) OrgAttrs) (bool, error) {
	if from.IsZero() {
		return false, fmt.Errorf("change %s: a change needs the date it takes effect", odsCode)
	}
	from = Day(from)
	changed := false
	err := s.InTx(ctx, func(tx *Store) error {
		var vid int64
		var lower *time.Time
		var sc attrsScanner
		err := tx.db.QueryRow(ctx, sqlOpenVersion, odsCode).Scan(append([]any{&vid, &lower}, sc.targets()...)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s has no open version (unknown or closed)", ErrNotFound, odsCode)
		}
		if err != nil {
			return err
		}
		cur := sc.attrs()
		next := change(cur)
		if next.Equal(cur) {
			return nil
		}
		changed = true
		switch {
		case lower != nil && lower.After(from):
			return fmt.Errorf("%w: the open version of %s began on %s, after %s; history is only appended",
				ErrConflict, odsCode, lower.Format(time.DateOnly), from.Format(time.DateOnly))
		case lower != nil && lower.Equal(from):
			// A second change on the same day: the open version never held for a whole day.
			if _, err := tx.db.Exec(ctx, `DELETE FROM organisation_versions WHERE id = $1`, vid); err != nil {
				return err
			}
		default:
			if _, err := tx.db.Exec(ctx, `UPDATE organisation_versions SET valid = daterange(lower(valid), $2) WHERE id = $1`, vid, from); err != nil {
				return err
			}
		}
		var orgID int64
		if err := tx.db.QueryRow(ctx, `SELECT id FROM organisations WHERE ods_code = $1`, odsCode).Scan(&orgID); err != nil {
			return err
		}
		nid, err := tx.insertVersion(ctx, orgID, next, from)
		if err != nil {
			return err
		}
		_, err = tx.placeVersions(ctx, []int64{nid})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("change %s: %w", odsCode, conflict(err))
	}
	return changed, nil
}

const sqlInsertVersion = `
INSERT INTO organisation_versions (organisation_id, valid, name, address_line1, address_line2, address_line3,
    town, county, postcode, phone, email, website, organisation_type, sub_type, sector, local_authority,
    country_code, point)
VALUES ($1, daterange($2, NULL), $3, NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''),
    NULLIF($9, ''), NULLIF($10, ''), NULLIF($11, ''), NULLIF($12, ''), NULLIF($13, ''), NULLIF($14, ''), NULLIF($15, ''),
    NULLIF($16, ''), NULLIF($17, ''),
    CASE WHEN $18::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($19, $18), 4326) END)
RETURNING id`

func (s *Store) insertVersion(ctx context.Context, orgID int64, a OrgAttrs, from time.Time) (int64, error) {
	var lat, lon *float64
	if a.Point != nil {
		lat, lon = &a.Point.Lat, &a.Point.Lon
	}
	var id int64
	err := s.db.QueryRow(ctx, sqlInsertVersion, orgID, dateOrNil(from), a.Name, a.AddressLine1, a.AddressLine2,
		a.AddressLine3, a.Town, a.County, a.Postcode, a.Phone, a.Email, a.Website, a.OrganisationType, a.SubType,
		a.Sector, a.LocalAuthority, a.CountryCode, lat, lon).Scan(&id)
	return id, err
}

// Placement takes each point's areas from the subdivided boundary parts (EPSG:27700, so
// the GiST index serves it), all versions in one statement, and writes only versions
// whose answer changed, so running it again changes nothing.
const sqlPlaceVersions = `
WITH pts AS (
    SELECT v.id, ST_Transform(v.point, 27700) AS pt
    FROM organisation_versions v
    WHERE v.point IS NOT NULL AND ($1::bigint[] IS NULL OR v.id = ANY($1))
), found AS (
    SELECT pts.id,
        min(a.code) FILTER (WHERE a.kind = 'country') AS country,
        min(a.code) FILTER (WHERE a.kind = 'nhs_england_region') AS region,
        min(a.code) FILTER (WHERE a.kind = 'integrated_care_board') AS icb,
        min(a.code) FILTER (WHERE a.kind = 'local_health_board') AS lhb,
        min(a.code) FILTER (WHERE a.kind = 'london_borough') AS borough
    FROM pts
    LEFT JOIN area_parts p ON ST_Intersects(p.geom, pts.pt)
    LEFT JOIN areas a ON a.id = p.area_id
    GROUP BY pts.id
)
UPDATE organisation_versions v
SET placed_at = now(), geo_country = f.country, geo_region = f.region, geo_icb = f.icb, geo_lhb = f.lhb, geo_borough = f.borough
FROM found f
WHERE f.id = v.id AND (v.placed_at IS NULL
    OR (v.geo_country, v.geo_region, v.geo_icb, v.geo_lhb, v.geo_borough) IS DISTINCT FROM (f.country, f.region, f.icb, f.lhb, f.borough))`

// Versions without a point keep no placement: their areas come from their parent.
const sqlUnplaceVersions = `
UPDATE organisation_versions
SET placed_at = NULL, geo_country = NULL, geo_region = NULL, geo_icb = NULL, geo_lhb = NULL, geo_borough = NULL
WHERE point IS NULL AND placed_at IS NOT NULL AND ($1::bigint[] IS NULL OR id = ANY($1))`

// PlaceOrganisations computes again, for every version with a point, the country,
// region, ICB, health board and London borough that contain it, and returns how many
// versions changed. Run it after the boundaries change. Without boundaries imported it
// does nothing, leaving organisations to be placed through their parents.
func (s *Store) PlaceOrganisations(ctx context.Context) (int64, error) {
	n, err := s.placeVersions(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("place organisations: %w", err)
	}
	return n, nil
}

func (s *Store) placeVersions(ctx context.Context, ids []int64) (int64, error) {
	var haveAreas bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM area_parts)`).Scan(&haveAreas); err != nil {
		return 0, err
	}
	if !haveAreas {
		return 0, nil
	}
	tag, err := s.db.Exec(ctx, sqlPlaceVersions, ids)
	if err != nil {
		return 0, err
	}
	cleared, err := s.db.Exec(ctx, sqlUnplaceVersions, ids)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected() + cleared.RowsAffected(), nil
}

// A link is one kind of versioned relation: rows of table tying owner to target, each
// with a validity range; where is an extra condition (and insert value) for tables that
// hold several relations.
type link struct {
	name   string
	table  string
	owner  string
	target string
	// relation, when set, is the value of the relation column this link uses.
	relation string
}

var (
	linkParent    = link{name: "parent", table: "organisation_links", owner: "child_id", target: "parent_id", relation: "parent"}
	linkICB       = link{name: "integrated care board", table: "organisation_links", owner: "child_id", target: "parent_id", relation: "integrated_care_board"}
	linkRegion    = link{name: "NHS England region", table: "organisation_links", owner: "child_id", target: "parent_id", relation: "nhs_england_region"}
	linkUnitLead  = link{name: "unit lead", table: "unit_leads", owner: "unit_id", target: "organisation_id"}
	linkSiteUnit  = link{name: "unit", table: "unit_sites", owner: "organisation_id", target: "unit_id"}
	linkUnitNet   = link{name: "network", table: "unit_networks", owner: "unit_id", target: "network_id"}
	linkOpenUK    = link{name: "OPEN UK network", table: "open_uk_network_members", owner: "organisation_id", target: "network_id"}
	relationLinks = map[LinkRelation]link{RelationICB: linkICB, RelationRegion: linkRegion}
)

func (l link) cond() string {
	if l.relation == "" {
		return ""
	}
	return " AND relation = '" + l.relation + "'"
}

// setTargets makes the open rows of l for owner exactly targets from the date on: open
// rows to other targets are closed on from, new targets are opened from it. It reports
// whether anything changed.
func (s *Store) setTargets(ctx context.Context, l link, owner int64, targets []int64, from time.Time) (bool, error) {
	table := pgx.Identifier{l.table}.Sanitize()
	ownerCol, targetCol := pgx.Identifier{l.owner}.Sanitize(), pgx.Identifier{l.target}.Sanitize()
	rows, err := s.db.Query(ctx, `SELECT id, `+targetCol+`, lower(valid) FROM `+table+
		` WHERE `+ownerCol+` = $1 AND upper_inf(valid)`+l.cond()+` FOR UPDATE`, owner)
	if err != nil {
		return false, err
	}
	type openRow struct {
		id, target int64
		lower      *time.Time
	}
	open, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (openRow, error) {
		var o openRow
		err := r.Scan(&o.id, &o.target, &o.lower)
		return o, err
	})
	if err != nil {
		return false, err
	}
	changed := false
	for _, o := range open {
		if slices.Contains(targets, o.target) {
			continue
		}
		if from.IsZero() {
			return false, fmt.Errorf("%w: changing an existing %s needs the date it takes effect", ErrConflict, l.name)
		}
		switch {
		case o.lower != nil && o.lower.After(from):
			return false, fmt.Errorf("%w: the open %s began on %s, after %s; history is only appended",
				ErrConflict, l.name, o.lower.Format(time.DateOnly), from.Format(time.DateOnly))
		case o.lower != nil && o.lower.Equal(from):
			_, err = s.db.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, o.id)
		default:
			_, err = s.db.Exec(ctx, `UPDATE `+table+` SET valid = daterange(lower(valid), $2) WHERE id = $1`, o.id, from)
		}
		if err != nil {
			return false, err
		}
		changed = true
	}
	var relCol, relVal string
	if l.relation != "" {
		relCol, relVal = ", relation", ", '"+l.relation+"'"
	}
	for _, t := range targets {
		if slices.ContainsFunc(open, func(o openRow) bool { return o.target == t }) {
			continue
		}
		_, err := s.db.Exec(ctx, `INSERT INTO `+table+` (`+l.owner+`, `+l.target+relCol+`, valid) VALUES ($1, $2`+relVal+`, daterange($3, NULL))`,
			owner, t, dateOrNil(from))
		if err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// setByCodes resolves the owner and target codes and runs setTargets in a transaction.
func (s *Store) setByCodes(ctx context.Context, l link, ownerSQL, ownerCode, targetSQL string, targetCodes []string, from time.Time) (bool, error) {
	if !from.IsZero() {
		from = Day(from)
	}
	changed := false
	err := s.InTx(ctx, func(tx *Store) error {
		var owner int64
		if err := tx.db.QueryRow(ctx, ownerSQL, ownerCode).Scan(&owner); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, ownerCode)
		} else if err != nil {
			return err
		}
		targets := make([]int64, 0, len(targetCodes))
		for _, c := range targetCodes {
			var id int64
			if err := tx.db.QueryRow(ctx, targetSQL, c).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: %s", ErrNotFound, c)
			} else if err != nil {
				return err
			}
			if !slices.Contains(targets, id) {
				targets = append(targets, id)
			}
		}
		var err error
		changed, err = tx.setTargets(ctx, l, owner, targets, from)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("set %s of %s: %w", l.name, ownerCode, conflict(err))
	}
	return changed, nil
}

const (
	sqlOrgID     = `SELECT id FROM organisations WHERE ods_code = $1`
	sqlUnitID    = `SELECT id FROM paediatric_diabetes_units WHERE pz_code = $1`
	sqlNetworkID = `SELECT id FROM paediatric_diabetes_networks WHERE code = $1`
	sqlOpenUKID  = `SELECT id FROM open_uk_networks WHERE code = $1`
)

func codes(c string) []string {
	if c == "" {
		return nil
	}
	return []string{c}
}

// SetParent records the site's trust or health board (empty for none) from the date on
// (zero: since before our records begin, for a first link only).
func (s *Store) SetParent(ctx context.Context, siteCode, parentCode string, from time.Time) (bool, error) {
	return s.setByCodes(ctx, linkParent, sqlOrgID, siteCode, sqlOrgID, codes(parentCode), from)
}

// SetLinks records the ICBs or regions of an organisation (a trust may have several) from
// the date on.
func (s *Store) SetLinks(ctx context.Context, code string, rel LinkRelation, parentCodes []string, from time.Time) (bool, error) {
	l, ok := relationLinks[rel]
	if !ok {
		return false, fmt.Errorf("set links of %s: unknown relation %q", code, rel)
	}
	return s.setByCodes(ctx, l, sqlOrgID, code, sqlOrgID, parentCodes, from)
}

// SetUnitLead records the organisation that leads the unit (empty for none) from the date on.
func (s *Store) SetUnitLead(ctx context.Context, pzCode, orgCode string, from time.Time) (bool, error) {
	return s.setByCodes(ctx, linkUnitLead, sqlUnitID, pzCode, sqlOrgID, codes(orgCode), from)
}

// SetSiteUnit records the unit a site belongs to (empty for none) from the date on.
func (s *Store) SetSiteUnit(ctx context.Context, siteCode, pzCode string, from time.Time) (bool, error) {
	return s.setByCodes(ctx, linkSiteUnit, sqlOrgID, siteCode, sqlUnitID, codes(pzCode), from)
}

// SetUnitNetwork records the paediatric diabetes network of a unit (empty for none) from
// the date on.
func (s *Store) SetUnitNetwork(ctx context.Context, pzCode, networkCode string, from time.Time) (bool, error) {
	return s.setByCodes(ctx, linkUnitNet, sqlUnitID, pzCode, sqlNetworkID, codes(networkCode), from)
}

// SetOpenUKNetworks records the OPEN UK networks of a trust or health board from the date on.
func (s *Store) SetOpenUKNetworks(ctx context.Context, orgCode string, networkCodes []string, from time.Time) (bool, error) {
	return s.setByCodes(ctx, linkOpenUK, sqlOrgID, orgCode, sqlOpenUKID, networkCodes, from)
}

// UpsertUnit creates the unit with the PZ code if it is new, and reports whether it did.
// The unit's name is left alone: units are named after their lead organisation unless
// someone names them.
func (s *Store) UpsertUnit(ctx context.Context, pzCode string) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO paediatric_diabetes_units (pz_code) VALUES ($1) ON CONFLICT (pz_code) DO NOTHING`, pzCode)
	if err != nil {
		return false, fmt.Errorf("unit %s: %w", pzCode, err)
	}
	return tag.RowsAffected() == 1, nil
}

// UpsertDiabetesNetwork creates or renames a paediatric diabetes network and reports
// whether anything changed.
func (s *Store) UpsertDiabetesNetwork(ctx context.Context, code, name string) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO paediatric_diabetes_networks AS n (code, name) VALUES ($1, $2)
        ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name WHERE n.name IS DISTINCT FROM EXCLUDED.name`, code, name)
	if err != nil {
		return false, fmt.Errorf("network %s: %w", code, err)
	}
	return tag.RowsAffected() == 1, nil
}

// UpsertOpenUKNetwork creates or updates an OPEN UK network and reports whether anything
// changed.
func (s *Store) UpsertOpenUKNetwork(ctx context.Context, code, name, country string) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO open_uk_networks AS n (code, name, country) VALUES ($1, $2, NULLIF($3, ''))
        ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, country = EXCLUDED.country
        WHERE (n.name, n.country) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.country)`, code, name, country)
	if err != nil {
		return false, fmt.Errorf("OPEN UK network %s: %w", code, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Closing an organisation ends its open version and every open relation it is part of.
const sqlCloseOrganisation = `
WITH v AS (
    UPDATE organisation_versions SET valid = daterange(lower(valid), $2)
    WHERE organisation_id = $1 AND upper_inf(valid) RETURNING 1
), l AS (
    UPDATE organisation_links SET valid = daterange(lower(valid), $2)
    WHERE (child_id = $1 OR parent_id = $1) AND upper_inf(valid) RETURNING 1
), ul AS (
    UPDATE unit_leads SET valid = daterange(lower(valid), $2)
    WHERE organisation_id = $1 AND upper_inf(valid) RETURNING 1
), us AS (
    UPDATE unit_sites SET valid = daterange(lower(valid), $2)
    WHERE organisation_id = $1 AND upper_inf(valid) RETURNING 1
), m AS (
    UPDATE open_uk_network_members SET valid = daterange(lower(valid), $2)
    WHERE organisation_id = $1 AND upper_inf(valid) RETURNING 1
)
SELECT (SELECT count(*) FROM v)`

// closeOrganisation ends the organisation and its relations on the date. Rows that began
// on or after that date would become empty, so they are refused as a conflict.
func (s *Store) closeOrganisation(ctx context.Context, id int64, on time.Time) error {
	var late bool
	err := s.db.QueryRow(ctx, `
        SELECT EXISTS (SELECT 1 FROM organisation_versions WHERE organisation_id = $1 AND upper_inf(valid) AND lower(valid) >= $2)
            OR EXISTS (SELECT 1 FROM organisation_links WHERE (child_id = $1 OR parent_id = $1) AND upper_inf(valid) AND lower(valid) >= $2)
            OR EXISTS (SELECT 1 FROM unit_leads WHERE organisation_id = $1 AND upper_inf(valid) AND lower(valid) >= $2)
            OR EXISTS (SELECT 1 FROM unit_sites WHERE organisation_id = $1 AND upper_inf(valid) AND lower(valid) >= $2)
            OR EXISTS (SELECT 1 FROM open_uk_network_members WHERE organisation_id = $1 AND upper_inf(valid) AND lower(valid) >= $2)`,
		id, on).Scan(&late)
	if err != nil {
		return err
	}
	if late {
		return fmt.Errorf("%w: something about it began on or after %s; close it later than that", ErrConflict, on.Format(time.DateOnly))
	}
	var n int
	if err := s.db.QueryRow(ctx, sqlCloseOrganisation, id, on).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: it is already closed", ErrConflict)
	}
	return nil
}

// NewSuccession is a succession to record.
type NewSuccession struct {
	PredecessorCode string
	// SuccessorCode may be empty only for a closure.
	SuccessorCode string
	Kind          SuccessionKind
	EffectiveOn   time.Time
	Note          string
}

// Moving a predecessor's dependants: sites whose parent it was, and units it led, pass to
// the successor from the effective date.
const sqlMoveChildren = `
WITH moved AS (
    UPDATE organisation_links SET valid = daterange(lower(valid), $3)
    WHERE parent_id = $1 AND relation = 'parent' AND upper_inf(valid) AND (lower_inf(valid) OR lower(valid) < $3)
    RETURNING child_id
)
INSERT INTO organisation_links (child_id, relation, parent_id, valid)
SELECT child_id, 'parent', $2, daterange($3, NULL) FROM moved WHERE child_id <> $2`

const sqlMoveLeads = `
WITH moved AS (
    UPDATE unit_leads SET valid = daterange(lower(valid), $3)
    WHERE organisation_id = $1 AND upper_inf(valid) AND (lower_inf(valid) OR lower(valid) < $3)
    RETURNING unit_id
)
INSERT INTO unit_leads (unit_id, organisation_id, valid)
SELECT unit_id, $2, daterange($3, NULL) FROM moved`

// RecordSuccession records that the predecessor ceased on the effective date and, for
// every kind but a split or closure, that its sites and the units it led passed to the
// successor. The successor must already exist (create a new code first, valid from the
// effective date). The predecessor's versions and relations are closed on that date, so
// that asking for a date before it still answers with the organisation as it was.
func (s *Store) RecordSuccession(ctx context.Context, n NewSuccession) error {
	if !n.Kind.Valid() {
		return fmt.Errorf("record succession of %s: unknown kind %q", n.PredecessorCode, n.Kind)
	}
	if n.EffectiveOn.IsZero() {
		return fmt.Errorf("record succession of %s: the effective date is required", n.PredecessorCode)
	}
	if n.SuccessorCode == "" && n.Kind != SuccessionClosure {
		return fmt.Errorf("record succession of %s: a %s needs a successor", n.PredecessorCode, n.Kind)
	}
	on := Day(n.EffectiveOn)
	err := s.InTx(ctx, func(tx *Store) error {
		var pred int64
		if err := tx.db.QueryRow(ctx, sqlOrgID, n.PredecessorCode).Scan(&pred); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, n.PredecessorCode)
		} else if err != nil {
			return err
		}
		var succ *int64
		if n.SuccessorCode != "" {
			var id int64
			if err := tx.db.QueryRow(ctx, sqlOrgID, n.SuccessorCode).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: %s", ErrNotFound, n.SuccessorCode)
			} else if err != nil {
				return err
			}
			succ = &id
		}
		if _, err := tx.db.Exec(ctx, `INSERT INTO organisation_successions (predecessor_id, successor_id, kind, effective_on, note)
            VALUES ($1, $2, $3, $4, NULLIF($5, ''))`, pred, succ, n.Kind, on, n.Note); err != nil {
			return err
		}
		if succ != nil && n.Kind != SuccessionSplit {
			if _, err := tx.db.Exec(ctx, sqlMoveChildren, pred, *succ, on); err != nil {
				return err
			}
			if _, err := tx.db.Exec(ctx, sqlMoveLeads, pred, *succ, on); err != nil {
				return err
			}
		}
		return tx.closeOrganisation(ctx, pred, on)
	})
	if err != nil {
		return fmt.Errorf("record %s of %s: %w", n.Kind, n.PredecessorCode, conflict(err))
	}
	return nil
}

// CloseOrganisation records that the organisation closed on the date, without a successor.
func (s *Store) CloseOrganisation(ctx context.Context, odsCode string, on time.Time) error {
	return s.RecordSuccession(ctx, NewSuccession{PredecessorCode: odsCode, Kind: SuccessionClosure, EffectiveOn: on})
}

// conflict maps the database's refusals (a duplicate key, overlapping validity) to
// ErrConflict, keeping the message.
func conflict(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "23P01") {
		return fmt.Errorf("%w: %s", ErrConflict, pgErr.Message)
	}
	return err
}

func dateOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	d := Day(t)
	return &d
}

// AnalyzeRegister refreshes the planner's statistics of the register's tables, so that
// the first queries after a bulk load (a seed) are planned for the rows now there rather
// than for empty tables.
//
// It also moves the names' trigram index's pending list (where a GIN index gathers the
// rows of a bulk load) into the index proper. Until that happens, by a vacuum that may
// come minutes later, the planner costs the index as if it were scanning the whole list
// and prefers a sequential scan that tests every name: a search then took 8–15 ms
// instead of 0.5 ms, depending on whether autovacuum had run yet.
func (s *Store) AnalyzeRegister(ctx context.Context) error {
	_, err := s.db.Exec(ctx, `ANALYZE organisations, organisation_versions, organisation_links, organisation_successions,
        paediatric_diabetes_units, paediatric_diabetes_networks, unit_leads, unit_sites, unit_networks,
        open_uk_networks, open_uk_network_members`)
	if err != nil {
		return fmt.Errorf("analyze the register: %w", err)
	}
	if _, err := s.db.Exec(ctx, `SELECT gin_clean_pending_list('organisation_versions_search_idx'::regclass)`); err != nil {
		return fmt.Errorf("flush the name index: %w", err)
	}
	return nil
}
