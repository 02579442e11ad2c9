// Package graph is caregraph's GraphQL layer: the schema in graph/schema, thin resolvers,
// per-request dataloaders and the mapping from store rows to GraphQL models.
package graph

//go:generate go tool gqlgen generate

import (
	"caregraph/store"
)

// Resolver holds the dependencies every resolver uses.
type Resolver struct {
	Store         *store.Store
	BoundaryCache *store.BoundaryCache
	AreaLocator   *store.AreaLocator
}
