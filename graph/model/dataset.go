package model

import "caregraph/graph/scalar"

// Dataset is a dropdown dataset; its options, owner unit, parent and audit log resolve
// on demand through loaders.
type Dataset struct {
	DBID               int64
	Key                string
	Name               string
	Description        string
	Category           DatasetCategory
	SourceType         DatasetSourceType
	ReferenceURL       *string
	APIEndpoint        *string
	Tags               []string
	Version            int
	OptionCount        int
	LastSyncedAt       *string
	LastScrapedAt      *string
	NhsDdPublishedOn   *scalar.Date
	SyncFrequencyHours *int
	Active             bool
	IsGlobal           bool
	PublishedAt        *string
	CreatedAt          string
	UpdatedAt          string
	// OwnerPzCode is the PZ code of the owner unit.
	OwnerPzCode *string
	// UnitID and ParentID are the owner unit and the parent dataset, if any.
	UnitID   *int64
	ParentID *int64
	// UserCreated is whether the dataset is a user list (the Policy asks).
	UserCreated bool
	// Alone is set when the dataset was asked for by itself (dataset(key:), node, a
	// mutation): its relations are then read directly, without waiting for a batch
	// that will never have a second member.
	Alone bool
}

// IsNode marks Dataset as a Node.
func (Dataset) IsNode() {}

// GetID returns the global ID.
func (d Dataset) GetID() string { return EncodeID("Dataset", d.Key) }

// ID returns the global ID.
func (d Dataset) ID() string { return d.GetID() }
