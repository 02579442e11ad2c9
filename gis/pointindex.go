package gis

import (
	"math"
	"slices"

	"github.com/twpayne/go-geom"
)

// IndexedPolygon is one polygon of a PointIndex and the id it answers with.
type IndexedPolygon struct {
	ID      int64
	Polygon *geom.Polygon
}

// PointIndex answers "which polygons contain this point" from memory. Polygons are
// bucketed by a uniform grid over their bounding boxes, so a lookup tests only the few
// polygons whose boxes share the point's cell. It is read-only once built and safe for
// concurrent use.
type PointIndex struct {
	polys        []indexedRings
	minX, minY   float64
	cellW, cellH float64
	cols, rows   int
	cells        [][]int32
}

type indexedRings struct {
	id                     int64
	minX, minY, maxX, maxY float64
	rings                  [][]float64 // flat x,y pairs, each ring closed
}

// gridSize is the number of cells along each side: enough to leave a handful of
// candidates per cell for a few thousand small polygons.
const gridSize = 256

// NewPointIndex builds an index over polys.
func NewPointIndex(polys []IndexedPolygon) *PointIndex {
	ix := &PointIndex{minX: math.Inf(1), minY: math.Inf(1)}
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, p := range polys {
		if p.Polygon == nil || p.Polygon.Empty() {
			continue
		}
		b := p.Polygon.Bounds()
		r := indexedRings{id: p.ID, minX: b.Min(0), minY: b.Min(1), maxX: b.Max(0), maxY: b.Max(1)}
		stride := p.Polygon.Stride()
		for i := 0; i < p.Polygon.NumLinearRings(); i++ {
			flat := p.Polygon.LinearRing(i).FlatCoords()
			ring := make([]float64, 0, len(flat)/stride*2)
			for j := 0; j+1 < len(flat); j += stride {
				ring = append(ring, flat[j], flat[j+1])
			}
			r.rings = append(r.rings, ring)
		}
		ix.polys = append(ix.polys, r)
		ix.minX, ix.minY = math.Min(ix.minX, r.minX), math.Min(ix.minY, r.minY)
		maxX, maxY = math.Max(maxX, r.maxX), math.Max(maxY, r.maxY)
	}
	if len(ix.polys) == 0 {
		return ix
	}
	ix.cols, ix.rows = gridSize, gridSize
	ix.cellW = math.Max((maxX-ix.minX)/gridSize, 1e-12)
	ix.cellH = math.Max((maxY-ix.minY)/gridSize, 1e-12)
	ix.cells = make([][]int32, ix.cols*ix.rows)
	for i, r := range ix.polys {
		c0, r0 := ix.cell(r.minX, r.minY)
		c1, r1 := ix.cell(r.maxX, r.maxY)
		for row := r0; row <= r1; row++ {
			for col := c0; col <= c1; col++ {
				ix.cells[row*ix.cols+col] = append(ix.cells[row*ix.cols+col], int32(i))
			}
		}
	}
	return ix
}

func (ix *PointIndex) cell(x, y float64) (col, row int) {
	col = int((x - ix.minX) / ix.cellW)
	row = int((y - ix.minY) / ix.cellH)
	return min(max(col, 0), ix.cols-1), min(max(row, 0), ix.rows-1)
}

// Lookup returns the ids of the polygons containing (x, y), each once, in ascending order.
func (ix *PointIndex) Lookup(x, y float64) []int64 {
	if len(ix.polys) == 0 || x < ix.minX || y < ix.minY || math.IsNaN(x) || math.IsNaN(y) {
		return nil
	}
	col, row := ix.cell(x, y)
	var ids []int64
	for _, i := range ix.cells[row*ix.cols+col] {
		p := &ix.polys[i]
		if x < p.minX || x > p.maxX || y < p.minY || y > p.maxY {
			continue
		}
		if p.contains(x, y) && !slices.Contains(ids, p.id) {
			ids = append(ids, p.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// contains applies the even-odd rule over all rings, so holes exclude their inside.
func (p *indexedRings) contains(x, y float64) bool {
	inside := false
	for _, ring := range p.rings {
		n := len(ring) / 2
		for i, j := 0, n-1; i < n; j, i = i, i+1 {
			xi, yi := ring[2*i], ring[2*i+1]
			xj, yj := ring[2*j], ring[2*j+1]
			if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
				inside = !inside
			}
		}
	}
	return inside
}
