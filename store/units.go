package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Unit is a paediatric diabetes unit as it was on one date.
type Unit struct {
	ID     int64
	PZCode string
	// Name is the unit's own name, else its lead organisation's on the date.
	Name *string
	// LeadID is the lead organisation on the date, if any.
	LeadID *int64
	// NetworkID is the paediatric diabetes network on the date, if any.
	NetworkID *int64
	On        time.Time
}

// UnitKey asks for one unit as it was on one date.
type UnitKey struct {
	ID int64
	On time.Time
}

// unitAt reads units joined to k(id, d): the lead and network links valid on d, and the
// lead's name from its version on d (chosen for all keys at once).
var unitAt = unitSelect("")

// unitSelect is unitAt with columns of k before the unit's.
func unitSelect(kColumns string) string {
	return `
SELECT ` + kColumns + `u.id, u.pz_code, COALESCE(u.name, lv.name), l.organisation_id, n.network_id, k.d
FROM k
JOIN paediatric_diabetes_units u ON u.id = k.id
LEFT JOIN unit_leads l ON l.unit_id = u.id AND l.valid @> k.d
LEFT JOIN (
    SELECT DISTINCT ON (kk.id, kk.d) kk.id, kk.d, v.name
    FROM (SELECT DISTINCT id, d FROM k) kk
    JOIN unit_leads l ON l.unit_id = kk.id AND l.valid @> kk.d
    JOIN organisation_versions v ON v.organisation_id = l.organisation_id AND (lower_inf(v.valid) OR lower(v.valid) <= kk.d)
    ORDER BY kk.id, kk.d, lower(v.valid) DESC NULLS LAST
) lv ON lv.id = u.id AND lv.d = k.d
LEFT JOIN unit_networks n ON n.unit_id = u.id AND n.valid @> k.d`
}

func scanUnit(row pgx.CollectableRow) (Unit, error) {
	var u Unit
	err := row.Scan(&u.ID, &u.PZCode, &u.Name, &u.LeadID, &u.NetworkID, &u.On)
	return u, err
}

var sqlUnitByPZ = `
WITH k AS (SELECT id, $2::date AS d FROM paediatric_diabetes_units WHERE pz_code = $1)` + unitAt

// UnitByPZ returns the unit with the PZ code as it was on the date, or ErrNotFound.
func (s *Store) UnitByPZ(ctx context.Context, pzCode string, on time.Time) (Unit, error) {
	rows, err := s.db.Query(ctx, sqlUnitByPZ, pzCode, on)
	if err != nil {
		return Unit{}, fmt.Errorf("unit %s: %w", pzCode, err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUnit)
	if errors.Is(err, pgx.ErrNoRows) {
		return Unit{}, ErrNotFound
	}
	if err != nil {
		return Unit{}, fmt.Errorf("unit %s: %w", pzCode, err)
	}
	return u, nil
}

var sqlUnitsByKey = `
WITH k AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::date[]) AS k(id, d))` + unitAt

// UnitsByKey returns the units asked for, each as it was on its date; keys that name no
// unit are left out.
func (s *Store) UnitsByKey(ctx context.Context, keys []UnitKey) (map[UnitKey]Unit, error) {
	ids, dates := make([]int64, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		ids[i], dates[i] = k.ID, k.On
	}
	rows, err := s.queryPlanned(ctx, planForKeys(len(keys)), sqlUnitsByKey, ids, dates)
	return collectByKey(rows, err, "units", scanUnit, func(u Unit) UnitKey { return UnitKey{ID: u.ID, On: Day(u.On)} })
}

func splitUnitKeys(keys []UnitKey) ([]int64, []time.Time) {
	ids, dates := make([]int64, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		ids[i], dates[i] = k.ID, k.On
	}
	return ids, dates
}

// collectUnitsBy scans rows whose first column is the id they are grouped by, then a unit.
func collectUnitsBy(rows pgx.Rows) (map[UnitKey][]Unit, error) {
	out := map[UnitKey][]Unit{}
	_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var by int64
		var u Unit
		if err := row.Scan(&by, &u.ID, &u.PZCode, &u.Name, &u.LeadID, &u.NetworkID, &u.On); err != nil {
			return struct{}{}, err
		}
		u.On = Day(u.On)
		k := UnitKey{ID: by, On: u.On}
		out[k] = append(out[k], u)
		return struct{}{}, nil
	})
	return out, err
}

var sqlUnitsLedBy = `
WITH q AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::date[]) AS q(id, d)),
k AS (SELECT l.unit_id AS id, q.d, q.id AS by_id FROM q JOIN unit_leads l ON l.organisation_id = q.id AND l.valid @> q.d)
` + unitSelect("k.by_id, ") + `
ORDER BY u.pz_code`

// UnitsLedBy returns, for each organisation and date, the units it led then.
func (s *Store) UnitsLedBy(ctx context.Context, keys []OrgKey) (map[OrgKey][]Unit, error) {
	ids, dates := splitOrgKeys(keys)
	rows, err := s.db.Query(ctx, sqlUnitsLedBy, ids, dates)
	if err != nil {
		return nil, fmt.Errorf("units led: %w", err)
	}
	by, err := collectUnitsBy(rows)
	if err != nil {
		return nil, fmt.Errorf("units led: %w", err)
	}
	out := make(map[OrgKey][]Unit, len(by))
	for k, us := range by {
		out[OrgKey(k)] = us
	}
	return out, nil
}

var sqlNetworkUnits = `
WITH q AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::date[]) AS q(id, d)),
k AS (SELECT n.unit_id AS id, q.d, q.id AS by_id FROM q JOIN unit_networks n ON n.network_id = q.id AND n.valid @> q.d)
` + unitSelect("k.by_id, ") + `
ORDER BY u.pz_code`

// NetworkUnits returns, for each paediatric diabetes network (UnitKey.ID is the
// network's id) and date, the units in it then.
func (s *Store) NetworkUnits(ctx context.Context, keys []UnitKey) (map[UnitKey][]Unit, error) {
	ids, dates := splitUnitKeys(keys)
	rows, err := s.db.Query(ctx, sqlNetworkUnits, ids, dates)
	if err != nil {
		return nil, fmt.Errorf("network units: %w", err)
	}
	out, err := collectUnitsBy(rows)
	if err != nil {
		return nil, fmt.Errorf("network units: %w", err)
	}
	return out, nil
}

var sqlUnits = `
WITH k AS (SELECT id, $1::date AS d FROM paediatric_diabetes_units WHERE pz_code > $2 ORDER BY pz_code LIMIT $3)` + unitAt + `
ORDER BY u.pz_code`

// Units returns up to limit units as they were on the date, ordered by PZ code after
// afterPZ, and how many units there are.
func (s *Store) Units(ctx context.Context, on time.Time, afterPZ string, limit int) ([]Unit, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM paediatric_diabetes_units`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count units: %w", err)
	}
	rows, err := s.db.Query(ctx, sqlUnits, Day(on), afterPZ, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list units: %w", err)
	}
	us, err := pgx.CollectRows(rows, scanUnit)
	if err != nil {
		return nil, 0, fmt.Errorf("list units: %w", err)
	}
	return us, total, nil
}

// Network is a paediatric diabetes network or an OPEN UK network.
type Network struct {
	ID      int64
	Code    string
	Name    string
	Country string
}

func scanNetwork(row pgx.CollectableRow) (Network, error) {
	var n Network
	err := row.Scan(&n.ID, &n.Code, &n.Name, &n.Country)
	return n, err
}

// NetworkKind says which networks a query is about.
type NetworkKind int

// The network kinds.
const (
	DiabetesNetworks NetworkKind = iota
	OpenUKNetworks
)

func (k NetworkKind) table() string {
	if k == OpenUKNetworks {
		return "open_uk_networks"
	}
	return "paediatric_diabetes_networks"
}

func (k NetworkKind) country() string {
	if k == OpenUKNetworks {
		return "COALESCE(country, '')"
	}
	return "''"
}

// Networks returns up to limit networks of the kind ordered by code after afterCode,
// and how many there are.
func (s *Store) Networks(ctx context.Context, kind NetworkKind, afterCode string, limit int) ([]Network, int, error) {
	table := pgx.Identifier{kind.table()}.Sanitize()
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count networks: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT id, code, name, `+kind.country()+` FROM `+table+
		` WHERE code > $1 ORDER BY code LIMIT $2`, afterCode, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list networks: %w", err)
	}
	ns, err := pgx.CollectRows(rows, scanNetwork)
	if err != nil {
		return nil, 0, fmt.Errorf("list networks: %w", err)
	}
	return ns, total, nil
}

// NetworksByID returns the networks of the kind with the given ids.
func (s *Store) NetworksByID(ctx context.Context, kind NetworkKind, ids []int64) (map[int64]Network, error) {
	rows, err := s.db.Query(ctx, `SELECT id, code, name, `+kind.country()+` FROM `+pgx.Identifier{kind.table()}.Sanitize()+
		` WHERE id = ANY($1)`, ids)
	return collectByKey(rows, err, "networks", scanNetwork, func(n Network) int64 { return n.ID })
}

// NetworkByCode returns the network of the kind with the code, or ErrNotFound.
func (s *Store) NetworkByCode(ctx context.Context, kind NetworkKind, code string) (Network, error) {
	rows, err := s.db.Query(ctx, `SELECT id, code, name, `+kind.country()+` FROM `+pgx.Identifier{kind.table()}.Sanitize()+
		` WHERE code = $1`, code)
	if err != nil {
		return Network{}, fmt.Errorf("network %s: %w", code, err)
	}
	n, err := pgx.CollectExactlyOneRow(rows, scanNetwork)
	if errors.Is(err, pgx.ErrNoRows) {
		return Network{}, ErrNotFound
	}
	if err != nil {
		return Network{}, fmt.Errorf("network %s: %w", code, err)
	}
	return n, nil
}
