package model

import (
	"caregraph/graph/scalar"
)

// Organisation is an organisation as it was on AsOf; its relations resolve through
// loaders, keyed by DBID and the date asked for.
type Organisation struct {
	DBID             int64
	OdsCode          string
	Kind             OrganisationKind
	Name             string
	AsOf             scalar.Date
	Active           bool
	ValidFrom        *scalar.Date
	ValidTo          *scalar.Date
	GssCode          *string
	Address          *Address
	Telephone        *string
	Email            *string
	Website          *string
	OrganisationType *string
	Sector           *string
	Location         *LatLon
	Placement        Placement
	// SuccessionIDs are the successions followed to reach this organisation from the
	// code asked for.
	SuccessionIDs []int64
	// Related and OwnArea are relations loaded ahead by the resolver that produced the
	// object (nil when it did not); see organisation_related.go.
	Related *OrgRelated
	OwnArea *OwnArea
}

// IsNode marks Organisation as a Node.
func (Organisation) IsNode() {}

// GetID returns the global ID.
func (o Organisation) GetID() string { return EncodeID("Organisation", o.OdsCode) }

// ID returns the global ID.
func (o Organisation) ID() string { return o.GetID() }

// PaediatricDiabetesUnit is a PDU as it was on AsOf; its relations resolve through loaders.
type PaediatricDiabetesUnit struct {
	DBID   int64
	PzCode string
	// Name is the unit's own name, else its lead organisation's on AsOf.
	Name *string
	// AsOf is the date the unit was read at; relation fields default to it.
	AsOf scalar.Date
	// LeadID and NetworkID are the unit's lead organisation and network on AsOf.
	LeadID    *int64
	NetworkID *int64
	// NetworkOf is the network loaded ahead for AsOf (nil when it was not).
	NetworkOf *UnitNetwork
}

// IsNode marks PaediatricDiabetesUnit as a Node.
func (PaediatricDiabetesUnit) IsNode() {}

// GetID returns the global ID.
func (u PaediatricDiabetesUnit) GetID() string { return EncodeID("PaediatricDiabetesUnit", u.PzCode) }

// ID returns the global ID.
func (u PaediatricDiabetesUnit) ID() string { return u.GetID() }

// PaediatricDiabetesNetwork is a network of diabetes units.
type PaediatricDiabetesNetwork struct {
	DBID int64
	Code string
	Name string
}

// IsNode marks PaediatricDiabetesNetwork as a Node.
func (PaediatricDiabetesNetwork) IsNode() {}

// GetID returns the global ID.
func (n PaediatricDiabetesNetwork) GetID() string {
	return EncodeID("PaediatricDiabetesNetwork", n.Code)
}

// ID returns the global ID.
func (n PaediatricDiabetesNetwork) ID() string { return n.GetID() }

// OpenUkNetwork is an OPEN UK paediatric epilepsy network.
type OpenUkNetwork struct {
	DBID    int64
	Code    string
	Name    string
	Country *string
}

// IsNode marks OpenUkNetwork as a Node.
func (OpenUkNetwork) IsNode() {}

// GetID returns the global ID.
func (n OpenUkNetwork) GetID() string { return EncodeID("OpenUkNetwork", n.Code) }

// ID returns the global ID.
func (n OpenUkNetwork) ID() string { return n.GetID() }

// Succession is a predecessor passing to a successor; both resolve through loaders.
type Succession struct {
	DBID          int64
	Kind          SuccessionKind
	EffectiveOn   scalar.Date
	PredecessorID int64
	SuccessorID   *int64
	Note          *string
}
