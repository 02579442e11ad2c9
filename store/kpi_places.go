package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// PlaceLevel is a level at which KPIs are aggregated.
type PlaceLevel string

// The place levels, narrowest first.
const (
	LevelUnit     PlaceLevel = "unit"
	LevelTrust    PlaceLevel = "trust" // an NHS trust or a Welsh local health board
	LevelICB      PlaceLevel = "integrated_care_board"
	LevelRegion   PlaceLevel = "nhs_england_region"
	LevelNetwork  PlaceLevel = "diabetes_network"
	LevelCountry  PlaceLevel = "country"
	LevelNational PlaceLevel = "national"
)

// PlaceLevels lists every level, narrowest first.
var PlaceLevels = []PlaceLevel{LevelUnit, LevelTrust, LevelICB, LevelRegion, LevelNetwork, LevelCountry, LevelNational}

// NationalCode is the code of the one national place.
const NationalCode = "national"

// Place is somewhere KPIs are aggregated for.
type Place struct {
	Level PlaceLevel
	// Code is a unit's PZ code; a trust's, board's, ICB's or region's ODS code; a
	// network's code; a country's GSS code; NationalCode.
	Code string
	Name string
	// AreaCode is the GSS code of the place's boundary, where it has one (ICBs, regions,
	// health boards, countries).
	AreaCode string
}

// UnitPlaces is a unit with the places it counts towards, one per level at most (the
// unit itself first, the nation last).
type UnitPlaces struct {
	UnitID int64
	PZCode string
	Places []Place
}

// Place returns the unit's place at the level, if it has one.
func (u UnitPlaces) Place(l PlaceLevel) (Place, bool) {
	for _, p := range u.Places {
		if p.Level == l {
			return p, true
		}
	}
	return Place{}, false
}

// sqlKPIUnits reads every unit with its lead organisation, the lead's kind, its network
// and the sites it cares through on the date; the lead's and sites' trusts, ICBs,
// regions and countries come from RelationsByKey.
const sqlKPIUnits = `
SELECT u.id, u.pz_code, COALESCE(u.name, lv.name, u.pz_code), l.organisation_id, o.kind, n.code, n.name,
    COALESCE((SELECT array_agg(s.organisation_id ORDER BY s.organisation_id) FROM unit_sites s
              WHERE s.unit_id = u.id AND s.valid @> $1::date), '{}')
FROM paediatric_diabetes_units u
LEFT JOIN unit_leads l ON l.unit_id = u.id AND l.valid @> $1::date
LEFT JOIN organisations o ON o.id = l.organisation_id
LEFT JOIN LATERAL (
    SELECT v.name FROM organisation_versions v
    WHERE v.organisation_id = l.organisation_id AND (lower_inf(v.valid) OR lower(v.valid) <= $1::date)
    ORDER BY lower(v.valid) DESC NULLS LAST LIMIT 1
) lv ON true
LEFT JOIN unit_networks un ON un.unit_id = u.id AND un.valid @> $1::date
LEFT JOIN paediatric_diabetes_networks n ON n.id = un.network_id
ORDER BY u.pz_code`

// KPIPlaces maps every unit to its places as the organisation register had them on the
// date: the trust or health board is the lead organisation itself, or a lead site's
// parent; the ICB, region and country are the lead's (a site's from its point, else
// through its trust). Where the lead gives several ICBs or regions (a trust that spans
// several) or none, the unit's sites decide by majority (ties to the lowest id); a
// unit left without one is counted in no place of that level, but still nationally.
func (s *Store) KPIPlaces(ctx context.Context, on time.Time) ([]UnitPlaces, error) {
	on = Day(on)
	type unitRow struct {
		id               int64
		pz, name         string
		leadID           *int64
		leadKind         *string
		netCode, netName *string
		sites            []int64
	}
	rows, err := s.db.Query(ctx, sqlKPIUnits, on)
	if err != nil {
		return nil, fmt.Errorf("kpi places: %w", err)
	}
	units, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (unitRow, error) {
		var u unitRow
		err := row.Scan(&u.id, &u.pz, &u.name, &u.leadID, &u.leadKind, &u.netCode, &u.netName, &u.sites)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("kpi places: %w", err)
	}
	var keys []OrgKey
	for _, u := range units {
		if u.leadID != nil {
			keys = append(keys, OrgKey{ID: *u.leadID, On: on})
		}
		for _, id := range u.sites {
			keys = append(keys, OrgKey{ID: id, On: on})
		}
	}
	rels, err := s.RelationsByKey(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("kpi places: %w", err)
	}
	// The organisations the units lead to: trusts, boards, ICBs, regions.
	need := map[int64]bool{}
	for _, u := range units {
		if u.leadID == nil {
			continue
		}
		need[*u.leadID] = true
		r := rels[OrgKey{ID: *u.leadID, On: on}]
		if r.ParentID != nil {
			need[*r.ParentID] = true
		}
		for _, id := range slices.Concat(r.ICBIDs, r.RegionIDs) {
			need[id] = true
		}
		for _, sid := range u.sites {
			sr := rels[OrgKey{ID: sid, On: on}]
			for _, id := range slices.Concat(sr.ICBIDs, sr.RegionIDs) {
				need[id] = true
			}
		}
	}
	okeys := make([]OrgKey, 0, len(need))
	for id := range need {
		okeys = append(okeys, OrgKey{ID: id, On: on})
	}
	orgs, err := s.OrganisationsByKey(ctx, okeys)
	if err != nil {
		return nil, fmt.Errorf("kpi places: %w", err)
	}
	countries, _, err := s.Areas(ctx, Country, "", 100)
	if err != nil {
		return nil, fmt.Errorf("kpi places: %w", err)
	}
	countryNames := map[string]string{}
	for _, c := range countries {
		countryNames[c.Code] = c.Name
	}
	orgPlace := func(l PlaceLevel, id int64) (Place, bool) {
		o, ok := orgs[OrgKey{ID: id, On: on}]
		if !ok {
			return Place{}, false
		}
		return Place{Level: l, Code: o.ODSCode, Name: o.Attrs.Name, AreaCode: o.GSSCode}, true
	}

	out := make([]UnitPlaces, 0, len(units))
	for _, u := range units {
		up := UnitPlaces{UnitID: u.id, PZCode: u.pz, Places: []Place{{Level: LevelUnit, Code: u.pz, Name: u.name}}}
		if u.leadID != nil {
			lead := rels[OrgKey{ID: *u.leadID, On: on}]
			trustID := u.leadID
			if k := OrgKind(*u.leadKind); k == KindSite || k == KindOther {
				trustID = lead.ParentID
			} else if k != KindTrust && k != KindLHB {
				trustID = nil
			}
			if trustID != nil {
				if p, ok := orgPlace(LevelTrust, *trustID); ok {
					up.Places = append(up.Places, p)
				}
			}
			var siteICBs, siteRegions, siteCountries []string
			for _, sid := range u.sites {
				sr := rels[OrgKey{ID: sid, On: on}]
				if len(sr.ICBIDs) == 1 {
					siteICBs = append(siteICBs, fmt.Sprint(sr.ICBIDs[0]))
				}
				if len(sr.RegionIDs) == 1 {
					siteRegions = append(siteRegions, fmt.Sprint(sr.RegionIDs[0]))
				}
				if sr.CountryCode != "" {
					siteCountries = append(siteCountries, sr.CountryCode)
				}
			}
			if id, ok := oneOrMajority(lead.ICBIDs, siteICBs); ok {
				if p, ok := orgPlace(LevelICB, id); ok {
					up.Places = append(up.Places, p)
				}
			}
			if id, ok := oneOrMajority(lead.RegionIDs, siteRegions); ok {
				if p, ok := orgPlace(LevelRegion, id); ok {
					up.Places = append(up.Places, p)
				}
			}
			country := lead.CountryCode
			if country == "" {
				country = majority(siteCountries)
			}
			if name, ok := countryNames[country]; ok {
				up.Places = append(up.Places, Place{Level: LevelCountry, Code: country, Name: name, AreaCode: country})
			}
		}
		if u.netCode != nil {
			up.Places = append(up.Places, Place{Level: LevelNetwork, Code: *u.netCode, Name: *u.netName})
		}
		up.Places = append(up.Places, Place{Level: LevelNational, Code: NationalCode, Name: "England and Wales"})
		slices.SortStableFunc(up.Places, func(a, b Place) int { return cmp.Compare(levelRank(a.Level), levelRank(b.Level)) })
		out = append(out, up)
	}
	return out, nil
}

func levelRank(l PlaceLevel) int { return slices.Index(PlaceLevels, l) }

// oneOrMajority is the lead's only id, else the most common of the sites' (ties to the
// lowest).
func oneOrMajority(lead []int64, sites []string) (int64, bool) {
	if len(lead) == 1 {
		return lead[0], true
	}
	m := majority(sites)
	if m == "" {
		return 0, false
	}
	var id int64
	_, err := fmt.Sscan(m, &id)
	return id, err == nil
}

// majority is the most common value, ties to the lowest; "" when there is none.
func majority(xs []string) string {
	counts := map[string]int{}
	best := ""
	for _, x := range xs {
		counts[x]++
	}
	for x, n := range counts {
		if n > counts[best] || (n == counts[best] && x < best) {
			best = x
		}
	}
	return best
}
