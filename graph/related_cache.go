package graph

import (
	"context"
	"sync"

	"caregraph/store"
)

// RelatedCache keeps, across requests, where organisations belong (their relations, as
// of a date) and the objects that lists and lookups of organisations lead to: the
// trusts, boards, ICBs and regions (as of a date), the units, the networks and the
// areas. They are few (a few hundred), asked for by nearly every request of the
// register, and change only when the register does (a seed, an ODS sync, a merger, a
// boundary import).
//
// Every committed change to their tables raises the register's version (migration
// 0009). A request reads that version once, before anything it takes from here (with
// its list or lookup, or on its own): when it has moved, the cache drops what it holds.
// A value is kept only under the version read before it was fetched, so data read
// across a change is never kept under the newer version; a request racing a change can
// at worst return what it would have returned a moment earlier. Keys that name nothing
// are not kept.
type RelatedCache struct {
	mu      sync.Mutex
	version int64
	rels    map[store.OrgKey]store.Relations
	orgs    map[store.OrgKey]store.Organisation
	units   map[store.UnitKey]store.Unit
	dnets   map[int64]store.Network
	onets   map[int64]store.Network
	areas   map[string]store.Area
}

// relatedCacheLimit bounds the entries of each kind; past it (lookups on many dates) the
// kind starts afresh.
const relatedCacheLimit = 20000

// NewRelatedCache returns an empty cache.
func NewRelatedCache() *RelatedCache {
	return &RelatedCache{
		rels:  map[store.OrgKey]store.Relations{},
		orgs:  map[store.OrgKey]store.Organisation{},
		units: map[store.UnitKey]store.Unit{},
		dnets: map[int64]store.Network{},
		onets: map[int64]store.Network{},
		areas: map[string]store.Area{},
	}
}

// current reads the register's version and drops what the cache holds when it moved.
func (c *RelatedCache) current(ctx context.Context, st *store.Store) (int64, error) {
	v, err := st.RegisterVersion(ctx)
	if err != nil {
		return 0, err
	}
	c.at(v)
	return v, nil
}

// at notes the register's version v, read by the caller before anything it will ask the
// cache for, and drops what the cache holds when it moved.
func (c *RelatedCache) at(v int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.version {
		c.version = v
		clear(c.rels)
		clear(c.orgs)
		clear(c.units)
		clear(c.dnets)
		clear(c.onets)
		clear(c.areas)
	}
}

// fetchCached returns the values of keys: those c holds under version v, and the others
// from load, which it keeps under v. With no cache it is load.
func fetchCached[K comparable, V any](c *RelatedCache, v int64, held map[K]V, keys []K, load func([]K) (map[K]V, error)) (map[K]V, error) {
	if c == nil {
		return load(keys)
	}
	out := make(map[K]V, len(keys))
	var missing []K
	c.mu.Lock()
	for _, k := range keys {
		if val, ok := held[k]; ok && c.version == v {
			out[k] = val
		} else {
			missing = append(missing, k)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	loaded, err := load(missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	keepIn(c, v, held, loaded)
	c.mu.Unlock()
	for k, val := range loaded {
		out[k] = val
	}
	return out, nil
}

// keepIn stores vals in held when they were read under the cache's version v, emptying
// held first when it would pass the limit. The caller holds c.mu.
func keepIn[K comparable, V any](c *RelatedCache, v int64, held, vals map[K]V) {
	if c.version != v {
		return
	}
	if len(held)+len(vals) > relatedCacheLimit {
		clear(held)
	}
	for k, val := range vals {
		held[k] = val
	}
}

// The maps of each kind; nil (no cache) for a nil cache.

func (c *RelatedCache) heldRelations() map[store.OrgKey]store.Relations {
	if c == nil {
		return nil
	}
	return c.rels
}

// warm reports whether the cache holds relations for the version it was last told of: a
// list is then better served from it than by working every row's relations out again.
func (c *RelatedCache) warm() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rels) > 0
}

func (c *RelatedCache) heldOrgs() map[store.OrgKey]store.Organisation {
	if c == nil {
		return nil
	}
	return c.orgs
}

func (c *RelatedCache) heldUnits() map[store.UnitKey]store.Unit {
	if c == nil {
		return nil
	}
	return c.units
}

func (c *RelatedCache) heldNetworks(kind store.NetworkKind) map[int64]store.Network {
	if c == nil {
		return nil
	}
	if kind == store.OpenUKNetworks {
		return c.onets
	}
	return c.dnets
}

func (c *RelatedCache) heldAreas() map[string]store.Area {
	if c == nil {
		return nil
	}
	return c.areas
}

// keep stores relations read under version v.
func (c *RelatedCache) keep(v int64, rels map[store.OrgKey]store.Relations) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keepIn(c, v, c.rels, rels)
}
