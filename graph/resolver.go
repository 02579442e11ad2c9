// Package graph is caregraph's GraphQL layer: the schema in graph/schema, thin resolvers,
// per-request dataloaders and the mapping from store rows to GraphQL models.
package graph

//go:generate go tool gqlgen generate

import (
	"caregraph/auth"
	"caregraph/store"
	"caregraph/submissions"
)

// Resolver holds the dependencies every resolver uses.
type Resolver struct {
	Store         *store.Store
	BoundaryCache *store.BoundaryCache
	AreaLocator   *store.AreaLocator
	// Auth signs people in and out, manages accounts and tokens, and holds the Policy
	// every guarded resolver asks.
	Auth *auth.Service
	// Uploads takes audit CSV uploads and serves their files (the name Submissions is taken
	// by resolver methods).
	Uploads *submissions.Service
	// Related keeps the objects lists and lookups of organisations lead to across
	// requests (nil: none kept).
	Related *RelatedCache
}
