package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// BoundaryDocument is a rendered FeatureCollection of one layer at one detail level,
// with its gzip encoding and ETag, ready to send as it is.
type BoundaryDocument struct {
	JSON       []byte
	Gzip       []byte
	ETag       string
	ImportedAt time.Time
}

// BoundaryCache renders each layer's FeatureCollection once per detail level and keeps
// it in memory. An entry is rechecked against the layer's import time at most every
// Recheck, so a re-import by another process (or replica) shows within that delay.
type BoundaryCache struct {
	store   *Store
	recheck time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[boundaryKey]*boundaryEntry
	group   singleflight.Group
}

type boundaryKey struct {
	kind  AreaKind
	level int
}

type boundaryEntry struct {
	doc       *BoundaryDocument
	checkedAt time.Time
}

// NewBoundaryCache returns a cache over s that revalidates entries every recheck.
func NewBoundaryCache(s *Store, recheck time.Duration) *BoundaryCache {
	return &BoundaryCache{store: s, recheck: recheck, now: time.Now, entries: map[boundaryKey]*boundaryEntry{}}
}

// Get returns the FeatureCollection of kind at level, rendering it if needed. It returns
// ErrNotFound when the layer has not been imported.
func (c *BoundaryCache) Get(ctx context.Context, kind AreaKind, level int) (*BoundaryDocument, error) {
	key := boundaryKey{kind, level}
	c.mu.Lock()
	e := c.entries[key]
	c.mu.Unlock()
	if e != nil && c.now().Sub(e.checkedAt) < c.recheck {
		return e.doc, nil
	}
	v, err, _ := c.group.Do(fmt.Sprint(kind, "/", level), func() (any, error) {
		importedAt, err := c.store.LayerImportedAt(ctx, kind)
		if err != nil {
			return nil, err
		}
		if e != nil && e.doc.ImportedAt.Equal(importedAt) {
			c.put(key, e.doc)
			return e.doc, nil
		}
		doc, err := c.render(ctx, kind, level, importedAt)
		if err != nil {
			return nil, err
		}
		c.put(key, doc)
		return doc, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*BoundaryDocument), nil
}

func (c *BoundaryCache) put(key boundaryKey, doc *BoundaryDocument) {
	c.mu.Lock()
	c.entries[key] = &boundaryEntry{doc: doc, checkedAt: c.now()}
	c.mu.Unlock()
}

func (c *BoundaryCache) render(ctx context.Context, kind AreaKind, level int, importedAt time.Time) (*BoundaryDocument, error) {
	features, err := c.store.BoundaryFeatures(ctx, kind, level)
	if err != nil {
		return nil, err
	}
	layers, err := c.store.BoundaryLayers(ctx)
	if err != nil {
		return nil, err
	}
	var attribution string
	for _, l := range layers {
		if l.Kind == kind {
			attribution = l.Attribution
		}
	}
	raw, err := RenderFeatureCollection(features, attribution)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	return &BoundaryDocument{
		JSON:       raw,
		Gzip:       gz.Bytes(),
		ETag:       `"` + hex.EncodeToString(sum[:16]) + `"`,
		ImportedAt: importedAt,
	}, nil
}

// RenderFeatureCollection writes features as a compact RFC 7946 FeatureCollection with
// the attribution as a foreign member. Geometry is copied as PostGIS rendered it.
func RenderFeatureCollection(features []BoundaryFeature, attribution string) ([]byte, error) {
	if attribution == "" {
		return nil, errors.New("render boundaries: layer has no attribution")
	}
	size := 128
	for _, f := range features {
		size += len(f.Geometry) + len(f.Name) + 64
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteString(`{"type":"FeatureCollection","attribution":`)
	writeJSONString(buf, attribution)
	buf.WriteString(`,"features":[`)
	for i, f := range features {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"type":"Feature","id":`)
		writeJSONString(buf, f.Code)
		buf.WriteString(`,"properties":{"code":`)
		writeJSONString(buf, f.Code)
		buf.WriteString(`,"name":`)
		writeJSONString(buf, f.Name)
		buf.WriteString(`},"geometry":`)
		buf.Write(f.Geometry)
		buf.WriteByte('}')
	}
	buf.WriteString(`]}`)
	return buf.Bytes(), nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}
