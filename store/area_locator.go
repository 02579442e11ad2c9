package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"caregraph/gis"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
)

// AreaLocator answers point lookups from memory: the subdivided area parts, transformed
// to WGS 84 once, in a gis.PointIndex, beside the 93 area rows. A lookup runs no SQL. The
// snapshot is reloaded in the background when a layer's import time changes (checked at
// most every recheck), so a re-import by any process shows within that delay.
type AreaLocator struct {
	store   *Store
	recheck time.Duration
	logErr  func(error)

	mu         sync.RWMutex
	snap       *locatorSnapshot
	loadMu     sync.Mutex
	refreshing atomic.Bool
}

type locatorSnapshot struct {
	version   string
	checkedAt time.Time
	index     *gis.PointIndex
	areas     map[int64]Area
}

// NewAreaLocator returns a locator over s. logErr receives failures of background
// reloads (the previous snapshot keeps serving).
func NewAreaLocator(s *Store, recheck time.Duration, logErr func(error)) *AreaLocator {
	if logErr == nil {
		logErr = func(error) {}
	}
	return &AreaLocator{store: s, recheck: recheck, logErr: logErr}
}

// AreasAt returns every area containing the WGS 84 point, broadest first, as
// Store.AreasAt does in SQL.
func (l *AreaLocator) AreasAt(ctx context.Context, lat, lon float64) ([]Area, error) {
	snap, err := l.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	ids := snap.index.Lookup(lon, lat)
	out := make([]Area, 0, len(ids))
	for _, id := range ids {
		if a, ok := snap.areas[id]; ok {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Area) int {
		if d := a.Kind.rank() - b.Kind.rank(); d != 0 {
			return d
		}
		if a.Code < b.Code {
			return -1
		}
		return 1
	})
	return out, nil
}

func (l *AreaLocator) snapshot(ctx context.Context) (*locatorSnapshot, error) {
	l.mu.RLock()
	snap := l.snap
	l.mu.RUnlock()
	if snap == nil {
		return l.load(ctx)
	}
	if time.Since(snap.checkedAt) > l.recheck && l.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer l.refreshing.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := l.load(ctx); err != nil {
				l.logErr(fmt.Errorf("reload area locator: %w", err))
			}
		}()
	}
	return snap, nil
}

const sqlLayersVersion = `SELECT COALESCE(string_agg(kind || '@' || imported_at::text, ',' ORDER BY kind), '') FROM boundary_layers`

// A straight edge in British National Grid is a curve in longitude and latitude: the
// parts are densified to 1 km segments first, so that straight lines between the
// transformed points stay within millimetres of the true edge (ST_Subdivide's cuts run
// for tens of kilometres).
const sqlPartsWGS84 = `SELECT area_id, ST_AsBinary(ST_Transform(ST_Segmentize(geom, 1000), 4326)) FROM area_parts`

const sqlAllAreas = `
SELECT ` + areaColumns + `
FROM areas a JOIN boundary_layers l ON l.kind = a.kind`

// load reads the snapshot again unless the layers are unchanged since the current one.
func (l *AreaLocator) load(ctx context.Context) (*locatorSnapshot, error) {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	var version string
	if err := l.store.db.QueryRow(ctx, sqlLayersVersion).Scan(&version); err != nil {
		return nil, fmt.Errorf("area locator: %w", err)
	}
	l.mu.RLock()
	cur := l.snap
	l.mu.RUnlock()
	if cur != nil && cur.version == version {
		fresh := *cur
		fresh.checkedAt = time.Now()
		l.mu.Lock()
		l.snap = &fresh
		l.mu.Unlock()
		return &fresh, nil
	}
	rows, err := l.store.db.Query(ctx, sqlAllAreas)
	if err != nil {
		return nil, fmt.Errorf("area locator: %w", err)
	}
	all, err := pgx.CollectRows(rows, scanArea)
	if err != nil {
		return nil, fmt.Errorf("area locator: %w", err)
	}
	rows, err = l.store.db.Query(ctx, sqlPartsWGS84)
	if err != nil {
		return nil, fmt.Errorf("area locator: %w", err)
	}
	var parts []gis.IndexedPolygon
	for rows.Next() {
		var id int64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			rows.Close()
			return nil, fmt.Errorf("area locator: %w", err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("area locator: part of area %d: %w", id, err)
		}
		if p, ok := g.(*geom.Polygon); ok {
			parts = append(parts, gis.IndexedPolygon{ID: id, Polygon: p})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("area locator: %w", err)
	}
	snap := &locatorSnapshot{version: version, checkedAt: time.Now(), index: gis.NewPointIndex(parts), areas: make(map[int64]Area, len(all))}
	for _, a := range all {
		snap.areas[a.ID] = a
	}
	l.mu.Lock()
	l.snap = snap
	l.mu.Unlock()
	return snap, nil
}
