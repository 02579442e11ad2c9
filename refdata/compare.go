package refdata

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"caregraph/store"
)

// compare reports the points that lie in no country, and every placed site whose
// geographic answer differs from what the lookup tables say: its trust's ICBs and
// regions in the mapping, its health board parent, the country its trust's list row
// declares, and the London borough of its published local authority.
func (sd *seeder) compare(ctx context.Context) error {
	placements, err := sd.tx.SitePlacements(ctx)
	if err != nil {
		return err
	}
	lk := sd.readMappingQuietly()
	trustCountry := map[string]string{}
	for _, t := range sd.lists.Trusts {
		trustCountry[t.Code] = countryCodes[strings.ToUpper(t.Country)]
	}
	for _, h := range sd.lists.LHBs {
		trustCountry[h.Code] = countryCodes["WALES"]
	}
	site := map[string]Site{}
	for _, s := range sd.lists.Sites {
		if _, seen := site[s.Code]; !seen {
			site[s.Code] = s
		}
	}
	for _, p := range placements {
		s, listed := site[p.ODSCode]
		if !listed || !p.Placed || p.Point == nil {
			continue
		}
		parent := s.ParentCode
		if p.Geo.Country == "" {
			msg := fmt.Sprintf("point (%.5f, %.5f) lies outside every UK country boundary", p.Point.Lat, p.Point.Lon)
			if strings.HasPrefix(strings.ToUpper(s.Postcode), "JE") {
				msg += " (Jersey, a Crown Dependency outside the ONS layers)"
			}
			if parent != "" {
				msg += fmt.Sprintf("; listed under %s (%s), kept as listed, but its country, region and ICB are left empty rather than taken from that parent", parent, s.ParentName)
			}
			sd.problem(FileSites, p.ODSCode, "%s", msg)
		}
		var lhb string
		if sd.kinds[parent] == store.KindLHB {
			lhb = parent
		}
		var borough string
		if strings.HasPrefix(s.LocalAuthority, "E09") {
			borough = s.LocalAuthority
		}
		checks := []struct {
			field  string
			geo    string
			lookup []string
		}{
			{"country", p.Geo.Country, nonEmpty(trustCountry[parent])},
			{"nhs_england_region", p.RegionODS, lk.trustRegions[parent]},
			{"integrated_care_board", p.ICBODS, lk.trustICBs[parent]},
			{"local_health_board", p.LHBODS, nonEmpty(lhb)},
			{"london_borough", p.Geo.Borough, nonEmpty(borough)},
		}
		for _, c := range checks {
			if c.geo == "" && len(c.lookup) == 0 || slices.Contains(c.lookup, c.geo) {
				continue
			}
			sd.report.Disagreements = append(sd.report.Disagreements, Disagreement{
				Code: p.ODSCode, Name: p.Name, Field: c.field, Geographic: orNone(c.geo), Lookup: orNone(strings.Join(c.lookup, " or ")),
			})
		}
	}
	return nil
}

// readMappingQuietly builds the lookup without reporting its rows a second time.
func (sd *seeder) readMappingQuietly() lookup {
	problems := sd.report.Problems
	lk := sd.readMapping()
	sd.report.Problems = problems
	return lk
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
