package model

import (
	"errors"
	"time"

	"caregraph/graph/scalar"
)

// Relation fields served from the object. The resolver that produces organisations for a
// list (or a lookup) loads the relations its rows select in a fixed number of statements
// and hangs them on each row as Related; the fields below then answer from memory. They
// are model methods rather than resolvers because gqlgen runs every resolver field in a
// goroutine of its own: for a list of 339 sites with five relations that was about 2,000
// goroutines and most of the request's time. A method that takes no context runs inline.
//
// The schema marks these fields @prefetched: the directive (graph/organisations_related.go)
// lets a method run only when the relation it answers was loaded for the date asked, and
// otherwise resolves the field through the loaders, as a resolver would. errNotPrefetched
// is therefore never seen by a client unless that guard is missing.

var errNotPrefetched = errors.New("relation not loaded ahead (the field lacks @prefetched)")

// OrgRelated holds an organisation's relations on one date, loaded ahead. Each group is
// answered from here only when its Has flag is set.
type OrgRelated struct {
	// On is the date the relations hold for.
	On time.Time

	HasOrgs                  bool
	Parent, LocalHealthBoard *Organisation
	ICBs, Regions            []*Organisation

	HasAreas         bool
	Country, Borough *Area

	HasUnit bool
	Unit    *PaediatricDiabetesUnit

	HasNetwork bool
	Network    *PaediatricDiabetesNetwork

	// OpenUK are ordered by code.
	HasOpenUK bool
	OpenUK    []*OpenUkNetwork
}

// OwnArea is the area an ICB, region or health board covers, loaded ahead; it does not
// depend on a date.
type OwnArea struct {
	Area *Area
}

// Prefetched reports whether the relation behind field was loaded ahead for the date
// asOf names (nil: the object's own date).
func (o *Organisation) Prefetched(field string, asOf *scalar.Date) bool {
	if field == "area" {
		return o.GssCode == nil || o.OwnArea != nil
	}
	r := o.Related
	if r == nil || !sameDay(asOf, o.AsOf.Time, r.On) {
		return false
	}
	switch field {
	case "parent", "trust", "localHealthBoard", "integratedCareBoard", "integratedCareBoards",
		"nhsEnglandRegion", "nhsEnglandRegions":
		return r.HasOrgs
	case "country", "londonBorough":
		return r.HasAreas
	case "paediatricDiabetesUnit":
		return r.HasUnit
	case "paediatricDiabetesNetwork":
		return r.HasNetwork
	case "openUkNetwork", "openUkNetworks":
		return r.HasOpenUK
	}
	return false
}

// sameDay reports whether the date asked for (asOf, else def) is the calendar day on.
func sameDay(asOf *scalar.Date, def, on time.Time) bool {
	if asOf == nil && def.Equal(on) {
		// The common case, and without the calendar arithmetic: both dates are already
		// midnight UTC.
		return true
	}
	d := def
	if asOf != nil {
		d = asOf.Time
	}
	y, m, dd := d.Date()
	oy, om, od := on.Date()
	return y == oy && m == om && dd == od
}

// related returns the relations loaded ahead, or errNotPrefetched.
func (o *Organisation) related(field string, asOf *scalar.Date) (*OrgRelated, error) {
	if !o.Prefetched(field, asOf) {
		return nil, errNotPrefetched
	}
	return o.Related, nil
}

// Area is the area an ICB, region or health board covers.
func (o *Organisation) Area() (*Area, error) {
	if o.GssCode == nil {
		return nil, nil
	}
	if o.OwnArea == nil {
		return nil, errNotPrefetched
	}
	return o.OwnArea.Area, nil
}

// Country is the organisation's country on asOf.
func (o *Organisation) Country(asOf *scalar.Date) (*Area, error) {
	r, err := o.related("country", asOf)
	if err != nil {
		return nil, err
	}
	return r.Country, nil
}

// LondonBorough is the London borough a site lay in on asOf.
func (o *Organisation) LondonBorough(asOf *scalar.Date) (*Area, error) {
	r, err := o.related("londonBorough", asOf)
	if err != nil {
		return nil, err
	}
	return r.Borough, nil
}

// Parent is a site's trust or health board on asOf.
func (o *Organisation) Parent(asOf *scalar.Date) (*Organisation, error) {
	r, err := o.related("parent", asOf)
	if err != nil {
		return nil, err
	}
	return r.Parent, nil
}

// Trust is a site's parent when that is an NHS trust.
func (o *Organisation) Trust(asOf *scalar.Date) (*Organisation, error) {
	r, err := o.related("trust", asOf)
	if err != nil || r.Parent == nil || r.Parent.Kind != OrganisationKindNhsTrust {
		return nil, err
	}
	return r.Parent, nil
}

// LocalHealthBoard is a site's health board on asOf.
func (o *Organisation) LocalHealthBoard(asOf *scalar.Date) (*Organisation, error) {
	r, err := o.related("localHealthBoard", asOf)
	if err != nil {
		return nil, err
	}
	return r.LocalHealthBoard, nil
}

// IntegratedCareBoard is the only ICB, or nil when there are none or several.
func (o *Organisation) IntegratedCareBoard(asOf *scalar.Date) (*Organisation, error) {
	r, err := o.related("integratedCareBoard", asOf)
	if err != nil || len(r.ICBs) != 1 {
		return nil, err
	}
	return r.ICBs[0], nil
}

// IntegratedCareBoards are every ICB on asOf.
func (o *Organisation) IntegratedCareBoards(asOf *scalar.Date) ([]*Organisation, error) {
	r, err := o.related("integratedCareBoards", asOf)
	if err != nil {
		return nil, err
	}
	return nonNil(r.ICBs), nil
}

// NhsEnglandRegion is the only region, or nil when there are none or several.
func (o *Organisation) NhsEnglandRegion(asOf *scalar.Date) (*Organisation, error) {
	r, err := o.related("nhsEnglandRegion", asOf)
	if err != nil || len(r.Regions) != 1 {
		return nil, err
	}
	return r.Regions[0], nil
}

// NhsEnglandRegions are every region on asOf.
func (o *Organisation) NhsEnglandRegions(asOf *scalar.Date) ([]*Organisation, error) {
	r, err := o.related("nhsEnglandRegions", asOf)
	if err != nil {
		return nil, err
	}
	return nonNil(r.Regions), nil
}

// PaediatricDiabetesUnit is a site's unit on asOf.
func (o *Organisation) PaediatricDiabetesUnit(asOf *scalar.Date) (*PaediatricDiabetesUnit, error) {
	r, err := o.related("paediatricDiabetesUnit", asOf)
	if err != nil {
		return nil, err
	}
	return r.Unit, nil
}

// PaediatricDiabetesNetwork is the network of a site's unit on asOf.
func (o *Organisation) PaediatricDiabetesNetwork(asOf *scalar.Date) (*PaediatricDiabetesNetwork, error) {
	r, err := o.related("paediatricDiabetesNetwork", asOf)
	if err != nil {
		return nil, err
	}
	return r.Network, nil
}

// OpenUkNetwork is the only OPEN UK network, or nil when there are none or several.
func (o *Organisation) OpenUkNetwork(asOf *scalar.Date) (*OpenUkNetwork, error) {
	r, err := o.related("openUkNetwork", asOf)
	if err != nil || len(r.OpenUK) != 1 {
		return nil, err
	}
	return r.OpenUK[0], nil
}

// OpenUkNetworks are every OPEN UK network on asOf.
func (o *Organisation) OpenUkNetworks(asOf *scalar.Date) ([]*OpenUkNetwork, error) {
	r, err := o.related("openUkNetworks", asOf)
	if err != nil {
		return nil, err
	}
	return nonNil(r.OpenUK), nil
}

// UnitNetwork is a unit's network, loaded ahead for the unit's own date.
type UnitNetwork struct {
	Network *PaediatricDiabetesNetwork
}

// Prefetched reports whether the unit's network was loaded ahead for the date asOf names.
func (u *PaediatricDiabetesUnit) Prefetched(asOf *scalar.Date) bool {
	return u.NetworkOf != nil && sameDay(asOf, u.AsOf.Time, u.AsOf.Time)
}

// Network is the unit's network on asOf.
func (u *PaediatricDiabetesUnit) Network(asOf *scalar.Date) (*PaediatricDiabetesNetwork, error) {
	if !u.Prefetched(asOf) {
		return nil, errNotPrefetched
	}
	return u.NetworkOf.Network, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
