package model

import (
	"caregraph/graph/scalar"
)

// Area is a health geography area; its boundary is resolved on demand through a loader.
type Area struct {
	DBID        int64
	Kind        AreaKind
	Code        string
	Name        string
	WelshName   *string
	AreaSqKm    float64
	Centroid    scalar.GeoJSON
	Attribution string
}

// IsNode marks Area as a Node.
func (Area) IsNode() {}

// GetID returns the global ID.
func (a Area) GetID() string { return EncodeID("Area", a.Code) }

// ID returns the global ID.
func (a Area) ID() string { return a.GetID() }

// BoundaryLayer is an imported boundary layer.
type BoundaryLayer struct {
	Kind         AreaKind
	Title        string
	SourceURL    string
	Licence      string
	Attribution  string
	FeatureCount int
	ImportedAt   string
}
