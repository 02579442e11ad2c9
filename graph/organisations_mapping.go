package graph

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"caregraph/graph/model"
	"caregraph/graph/scalar"
	"caregraph/store"
)

// today is the default asOf: the current calendar date in UK time, so that a request made
// just after midnight in London asks for the new day.
func today() time.Time {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		loc = time.UTC
	}
	return store.Day(time.Now().In(loc))
}

// asOfDate returns the date asked for, else the fallback (the parent object's date), else
// today.
func asOfDate(asOf *scalar.Date, fallback time.Time) time.Time {
	if asOf != nil {
		return store.Day(asOf.Time)
	}
	if !fallback.IsZero() {
		return store.Day(fallback)
	}
	return today()
}

// normaliseCode trims and upper-cases an ODS, PZ or GSS code as typed by a caller.
func normaliseCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

var orgKindToStore = map[model.OrganisationKind]store.OrgKind{
	model.OrganisationKindSite:                store.KindSite,
	model.OrganisationKindNhsTrust:            store.KindTrust,
	model.OrganisationKindLocalHealthBoard:    store.KindLHB,
	model.OrganisationKindIntegratedCareBoard: store.KindICB,
	model.OrganisationKindNhsEnglandRegion:    store.KindRegion,
	model.OrganisationKindOther:               store.KindOther,
}

func modelOrgKind(k store.OrgKind) model.OrganisationKind {
	for mk, sk := range orgKindToStore {
		if sk == k {
			return mk
		}
	}
	return model.OrganisationKind(strings.ToUpper(string(k)))
}

func storeOrgKinds(ks []model.OrganisationKind) []store.OrgKind {
	out := make([]store.OrgKind, 0, len(ks))
	for _, k := range ks {
		if sk, ok := orgKindToStore[k]; ok {
			out = append(out, sk)
		}
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func dateOrNil(t *time.Time) *scalar.Date {
	if t == nil {
		return nil
	}
	return &scalar.Date{Time: store.Day(*t)}
}

func toAddress(a store.OrgAttrs) *model.Address {
	if a.AddressLine1 == "" && a.AddressLine2 == "" && a.AddressLine3 == "" && a.Town == "" && a.County == "" && a.Postcode == "" {
		return nil
	}
	return &model.Address{Line1: optional(a.AddressLine1), Line2: optional(a.AddressLine2), Line3: optional(a.AddressLine3),
		Town: optional(a.Town), County: optional(a.County), Postcode: optional(a.Postcode)}
}

func toLatLon(p *store.LatLon) *model.LatLon {
	if p == nil {
		return nil
	}
	return &model.LatLon{Lat: p.Lat, Lon: p.Lon}
}

// placement mirrors the store's rule: a site with a placed point is placed by it (or
// lies outside every country); a site without one is answered through its parent.
func placement(o store.Organisation) model.Placement {
	switch {
	case o.Kind != store.KindSite && o.Kind != store.KindOther:
		return model.PlacementNotApplicable
	case o.Attrs.Point != nil && o.Placed && o.Geo.Country != "":
		return model.PlacementPoint
	case o.Attrs.Point != nil && o.Placed:
		return model.PlacementOutside
	default:
		return model.PlacementLookup
	}
}

func toOrganisation(o store.Organisation) *model.Organisation {
	return &model.Organisation{
		DBID:             o.ID,
		OdsCode:          o.ODSCode,
		Kind:             modelOrgKind(o.Kind),
		Name:             o.Attrs.Name,
		AsOf:             scalar.Date{Time: store.Day(o.On)},
		Active:           o.Active,
		ValidFrom:        dateOrNil(o.ValidFrom),
		ValidTo:          dateOrNil(o.ValidTo),
		GssCode:          optional(o.GSSCode),
		Address:          toAddress(o.Attrs),
		Telephone:        optional(o.Attrs.Phone),
		Email:            optional(o.Attrs.Email),
		Website:          optional(o.Attrs.Website),
		OrganisationType: optional(o.Attrs.OrganisationType),
		Sector:           optional(o.Attrs.Sector),
		Location:         toLatLon(o.Attrs.Point),
		Placement:        placement(o),
	}
}

func toOrganisations(os []store.Organisation) []*model.Organisation {
	return mapAll(os, toOrganisation)
}

func toUnit(u store.Unit) *model.PaediatricDiabetesUnit {
	return &model.PaediatricDiabetesUnit{DBID: u.ID, PzCode: u.PZCode, Name: u.Name, AsOf: scalar.Date{Time: store.Day(u.On)},
		LeadID: u.LeadID, NetworkID: u.NetworkID}
}

func toUnits(us []store.Unit) []*model.PaediatricDiabetesUnit {
	return mapAll(us, toUnit)
}

func toDiabetesNetwork(n store.Network) *model.PaediatricDiabetesNetwork {
	return &model.PaediatricDiabetesNetwork{DBID: n.ID, Code: n.Code, Name: n.Name}
}

func toOpenUKNetwork(n store.Network) *model.OpenUkNetwork {
	return &model.OpenUkNetwork{DBID: n.ID, Code: n.Code, Name: n.Name, Country: optional(n.Country)}
}

var successionKinds = map[store.SuccessionKind]model.SuccessionKind{
	store.SuccessionMerger:      model.SuccessionKindMerger,
	store.SuccessionAcquisition: model.SuccessionKindAcquisition,
	store.SuccessionRename:      model.SuccessionKindRename,
	store.SuccessionClosure:     model.SuccessionKindClosure,
	store.SuccessionSplit:       model.SuccessionKindSplit,
	store.SuccessionCodeChange:  model.SuccessionKindCodeChange,
}

func toSuccession(s store.Succession) *model.Succession {
	return &model.Succession{DBID: s.ID, Kind: successionKinds[s.Kind], EffectiveOn: scalar.Date{Time: s.EffectiveOn},
		PredecessorID: s.PredecessorID, SuccessorID: s.SuccessorID, Note: optional(s.Note)}
}

// countryNames lets a filter name a country instead of giving its GSS code.
var countryNames = map[string]string{
	"ENGLAND":          "E92000001",
	"WALES":            "W92000004",
	"SCOTLAND":         "S92000003",
	"NORTHERN IRELAND": "N92000002",
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return normaliseCode(*p)
}

// storeFilter checks a filter and turns it into the store's.
func storeFilter(f *model.OrganisationFilter) (store.OrgFilter, error) {
	active := true
	if f == nil {
		return store.OrgFilter{Active: &active}, nil
	}
	sf := store.OrgFilter{
		Kinds:           storeOrgKinds(f.Kinds),
		Parent:          str(f.Trust),
		ICB:             str(f.IntegratedCareBoard),
		Region:          str(f.NhsEnglandRegion),
		LHB:             str(f.LocalHealthBoard),
		Country:         str(f.Country),
		Borough:         str(f.LondonBorough),
		Unit:            str(f.PaediatricDiabetesUnit),
		DiabetesNetwork: str(f.PaediatricDiabetesNetwork),
		OpenUKNetwork:   str(f.OpenUkNetwork),
		Active:          f.Active,
	}
	if code, ok := countryNames[sf.Country]; ok {
		sf.Country = code
	}
	if f.Search != nil {
		sf.Search = strings.TrimSpace(*f.Search)
		if len(sf.Search) > 200 {
			return sf, badInput("search must be at most 200 characters")
		}
	}
	if n := f.Near; n != nil {
		if err := checkLatLon(n.Lat, n.Lon); err != nil {
			return sf, err
		}
		if math.IsNaN(n.RadiusKm) || n.RadiusKm <= 0 || n.RadiusKm > 1000 {
			return sf, badInput(fmt.Sprintf("near.radiusKm must be more than 0 and at most 1000, got %v", n.RadiusKm))
		}
		sf.Near = &store.Near{Lat: n.Lat, Lon: n.Lon, RadiusKm: n.RadiusKm}
	}
	return sf, nil
}

func checkLatLon(lat, lon float64) error {
	if math.IsNaN(lat) || lat < -90 || lat > 90 {
		return badInput(fmt.Sprintf("lat must be between -90 and 90, got %v", lat))
	}
	if math.IsNaN(lon) || lon < -180 || lon > 180 {
		return badInput(fmt.Sprintf("lon must be between -180 and 180, got %v", lon))
	}
	return nil
}

// Ranked lists (search, near) page by position: their cursors hold an offset rather than
// a code, since the order is not by code.
const offsetCursorPrefix = "@"

func offsetCursor(n int) string { return encodeCursor(offsetCursorPrefix + strconv.Itoa(n)) }

// pagePosition reads an `after` cursor: the code to continue after, or (for a ranked
// list) the offset to continue at.
func pagePosition(after *string, ranked bool) (string, int, error) {
	key, err := decodeCursor(after)
	if err != nil || key == "" {
		return "", 0, err
	}
	n, isOffset := strings.CutPrefix(key, offsetCursorPrefix)
	if isOffset != ranked {
		return "", 0, badInput("after is a cursor from a list in another order")
	}
	if !ranked {
		return key, 0, nil
	}
	off, err := strconv.Atoi(n)
	if err != nil || off < 0 {
		return "", 0, badInput("after is not a cursor from this API")
	}
	return "", off + 1, nil
}

// orgConnection builds a connection from a page fetched with one row more than asked.
func orgConnection(items []store.ListedOrganisation, total, limit int, ranked bool, offset int, hasPrevious bool) *model.OrganisationConnection {
	items, cursors, info := page(items, limit, hasPrevious, func(i int, it store.ListedOrganisation) string {
		if ranked {
			return offsetCursor(offset + i)
		}
		return encodeCursor(it.ODSCode)
	})
	conn := &model.OrganisationConnection{TotalCount: total, PageInfo: info, Nodes: make([]*model.Organisation, len(items)), Edges: make([]*model.OrganisationEdge, len(items))}
	for i, it := range items {
		node := toOrganisation(it.Organisation)
		conn.Nodes[i] = node
		conn.Edges[i] = &model.OrganisationEdge{Cursor: cursors[i], Node: node, Score: roundPtr(it.Score, 1000), DistanceKm: roundPtr(it.DistanceKm, 1000)}
	}
	return conn
}

func roundPtr(v *float64, scale float64) *float64 {
	if v == nil {
		return nil
	}
	r := math.Round(*v*scale) / scale
	return &r
}

// pageByCode pages a whole list already ordered by code: what follows afterCode, up to limit.
func pageByCode(os []store.Organisation, afterCode string, limit int) *model.OrganisationConnection {
	start := 0
	if afterCode != "" {
		for start < len(os) && os[start].ODSCode <= afterCode {
			start++
		}
	}
	rest := os[start:]
	items := make([]store.ListedOrganisation, 0, min(len(rest), limit+1))
	for _, o := range rest[:min(len(rest), limit+1)] {
		items = append(items, store.ListedOrganisation{Organisation: o})
	}
	return orgConnection(items, len(os), limit, false, 0, afterCode != "")
}
