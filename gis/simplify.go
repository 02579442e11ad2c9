package gis

import (
	"math"
	"slices"

	"github.com/twpayne/go-geom"
)

const (
	// equatorPixelMetres is the ground size of one 256-pixel-tile pixel at zoom 0 on the equator.
	equatorPixelMetres = 156543.03392
	// ukLatitudeDegrees is the latitude at which web-mercator pixels are measured for England:
	// roughly the middle of the country, so the error is small at both ends.
	ukLatitudeDegrees = 54.5
	// fallbackHalvings bounds the search for a tolerance that keeps a feature's last polygon;
	// after that many halvings the tolerance is negligible, so the ring is kept unsimplified.
	fallbackHalvings = 64
)

// ZoomTolerance returns the simplification tolerance in metres for a web-map zoom level at UK
// latitudes: half a screen pixel at that zoom (pixel size at the equator 156543.03392 m / 2^zoom,
// scaled by cos(54.5°)). Detail below half a pixel cannot be seen, so removing it is free.
func ZoomTolerance(zoom int) float64 {
	pixel := equatorPixelMetres / math.Exp2(float64(zoom)) * math.Cos(ukLatitudeDegrees*math.Pi/180)
	return pixel / 2
}

// SimplifyCoverage returns simplified copies of polys (same order and length), simplifying every
// border shared by several rings once, so that neighbours keep identical shared borders.
// tolerance is in the units of the coordinates (metres for EPSG:27700). The input is not modified.
// A ring that collapses (fewer than 4 points, or zero area) is dropped; a polygon whose exterior
// collapses is dropped; if every polygon of a feature would be dropped, that feature keeps its
// largest polygon's exterior simplified with the smallest tolerance that keeps it (or unsimplified).
//
// "The smallest tolerance that keeps it" is searched by halving: the first of tolerance/2,
// tolerance/4, … at which the exterior survives is used, so the feature stays as coarse as possible.
// Output geometries have layout XY (extra dimensions are dropped) and the SRID of their input;
// a nil input gives a nil output. tolerance <= 0 only removes consecutive duplicate points.
func SimplifyCoverage(polys []*geom.MultiPolygon, tolerance float64) []*geom.MultiPolygon {
	return buildCoverage(polys).simplify(tolerance)
}

// point is a coordinate pair. Shared vertices are matched by exact equality, as neighbouring
// boundaries in a coverage repeat each other's vertices bit for bit.
type point struct{ x, y float64 }

// comparePoints orders points by x, then y, so arcs and loops get a canonical direction and start.
func comparePoints(a, b point) int {
	switch {
	case a.x < b.x:
		return -1
	case a.x > b.x:
		return 1
	case a.y < b.y:
		return -1
	case a.y > b.y:
		return 1
	}
	return 0
}

// ringRef locates one input ring inside a coverage.
type ringRef struct {
	// start and end delimit the ring's distinct points (not closed) in coverage.ringPts.
	start, end int32
	// arcStart and arcEnd delimit the ring's arcs in coverage.ringArcs.
	arcStart, arcEnd int32
}

// polyRef delimits a polygon's rings (exterior first) in coverage.rings.
type polyRef struct{ ringStart, ringEnd int32 }

// featureRef delimits a feature's polygons in coverage.polys.
type featureRef struct {
	polyStart, polyEnd int32
	srid               int
	missing            bool
}

// arcRef is one use of an arc by a ring; rev means the ring walks it against its canonical direction.
type arcRef struct {
	arc int32
	rev bool
}

// arc delimits an arc's points, in canonical direction and including both endpoints, in
// coverage.arcPts. A loop is a whole junction-less ring, stored closed (first point repeated).
type arc struct {
	start, end int32
	loop       bool
}

// arcKey identifies an arc cheaply: inner points of an arc have at most two neighbours, so its first
// two points determine the rest. The full sequence is still compared on a hit, to be safe on
// degenerate input.
type arcKey struct {
	first, second, last, n int32
	loop                   bool
}

// segSet is the set of rings using one undirected segment. Most segments are used by one or two
// rings, so those are stored inline; the rare larger sets keep their third and later rings in an
// overflow slice, which keeps segSet free of pointers for the garbage collector.
type segSet struct {
	r0, r1 int32
	n      int32
	// more is the index in the overflow slices of rings beyond r1, if n > 2.
	more int32
}

// add records ring r. Rings are added in increasing order, so only the last element can be r.
func (s *segSet) add(r int32, overflow [][]int32) [][]int32 {
	switch {
	case s.n == 1 && s.r0 == r, s.n == 2 && s.r1 == r:
		return overflow
	case s.n > 2 && overflow[s.more][len(overflow[s.more])-1] == r:
		return overflow
	case s.n == 1:
		s.r1 = r
	case s.n == 2:
		s.more = int32(len(overflow))
		overflow = append(overflow, []int32{r})
	default:
		overflow[s.more] = append(overflow[s.more], r)
	}
	s.n++
	return overflow
}

// equal reports whether s and t hold the same rings; both are sorted, so element-wise comparison works.
func (s *segSet) equal(t *segSet, overflow [][]int32) bool {
	switch {
	case s.n != t.n || s.r0 != t.r0 || s.n > 1 && s.r1 != t.r1:
		return false
	case s.n > 2:
		return slices.Equal(overflow[s.more], overflow[t.more])
	}
	return true
}

// pointTable assigns ids to distinct points. It is an open-addressing hash table of ids into the
// caller's point slice: sized once for the whole input, it needs no rehashing, and at 4 bytes a slot
// it stays far more cache-friendly than a map keyed by coordinates.
type pointTable struct {
	slots []int32 // point id plus one; zero marks an empty slot
	shift uint
}

// newPointTable returns a table for up to n distinct points, at most half full.
func newPointTable(n int) *pointTable {
	bits := uint(4)
	for 1<<bits < 2*n {
		bits++
	}
	return &pointTable{slots: make([]int32, 1<<bits), shift: 64 - bits}
}

// intern returns the id of p in pts, appending p to pts if it is new.
func (t *pointTable) intern(pts []point, p point) ([]point, int32) {
	if p.x == 0 {
		p.x = 0 // -0 equals 0, so it must hash like it
	}
	if p.y == 0 {
		p.y = 0
	}
	h := (math.Float64bits(p.x)*0x9e3779b97f4a7c15 ^ math.Float64bits(p.y)*0xc2b2ae3d27d4eb4f) >> t.shift
	mask := uint64(len(t.slots) - 1)
	for ; ; h = (h + 1) & mask {
		id := t.slots[h] - 1
		if id < 0 {
			id = int32(len(pts))
			t.slots[h] = id + 1
			return append(pts, p), id
		}
		if pts[id] == p {
			return pts, id
		}
	}
}

// coverage is the arc decomposition of a set of multipolygons. It does not depend on the
// tolerance, so it is built once per call and only the arcs are simplified.
type coverage struct {
	pts      []point
	ringPts  []int32
	rings    []ringRef
	polys    []polyRef
	features []featureRef
	arcPts   []int32
	arcs     []arc
	ringArcs []arcRef
}

// buildCoverage reads the rings of polys and splits them into arcs at their junctions.
func buildCoverage(polys []*geom.MultiPolygon) *coverage {
	total := 0
	for _, mp := range polys {
		if mp != nil && mp.Stride() >= 2 {
			total += len(mp.FlatCoords()) / mp.Stride()
		}
	}
	c := &coverage{
		pts:      make([]point, 0, total),
		ringPts:  make([]int32, 0, total),
		features: make([]featureRef, len(polys)),
	}
	ids := newPointTable(total)
	for f, mp := range polys {
		fr := &c.features[f]
		fr.polyStart = int32(len(c.polys))
		if mp == nil {
			fr.missing = true
			fr.polyEnd = fr.polyStart
			continue
		}
		fr.srid = mp.SRID()
		flat, stride := mp.FlatCoords(), mp.Stride()
		offset := 0
		for _, ends := range mp.Endss() {
			pr := polyRef{ringStart: int32(len(c.rings))}
			for _, end := range ends {
				start := len(c.ringPts)
				for i := offset; i+1 < end && stride >= 2; i += stride {
					var id int32
					c.pts, id = ids.intern(c.pts, point{flat[i], flat[i+1]})
					if len(c.ringPts) > start && c.ringPts[len(c.ringPts)-1] == id {
						continue
					}
					c.ringPts = append(c.ringPts, id)
				}
				offset = end
				// The closing point (or an unclosed ring's wrap-around) is implied from here on.
				for len(c.ringPts)-start > 1 && c.ringPts[len(c.ringPts)-1] == c.ringPts[start] {
					c.ringPts = c.ringPts[:len(c.ringPts)-1]
				}
				if len(c.ringPts)-start < 3 {
					c.ringPts = c.ringPts[:start]
				}
				c.rings = append(c.rings, ringRef{start: int32(start), end: int32(len(c.ringPts))})
			}
			pr.ringEnd = int32(len(c.rings))
			c.polys = append(c.polys, pr)
		}
		fr.polyEnd = int32(len(c.polys))
	}
	c.buildArcs()
	return c
}

// buildArcs finds the junctions of every ring and records each ring as a sequence of arcs, storing
// every distinct arc once.
func (c *coverage) buildArcs() {
	// Segments are found through per-point adjacency lists rather than a map: points have only a
	// few neighbours, and array lookups are several times faster than hashing on large layers.
	// Segment s is listed under its smaller endpoint: segHead[a] is its first segment (plus one, so
	// that zero means none), segNext chains the rest, segOther holds the larger endpoint.
	segHead := make([]int32, len(c.pts))
	segNext := make([]int32, 0, len(c.ringPts)/2+1)
	segOther := make([]int32, 0, len(c.ringPts)/2+1)
	ringSeg := make([]int32, len(c.ringPts))
	sets := make([]segSet, 0, len(c.ringPts)/2+1)
	var overflow [][]int32
	degree := make([]int32, len(c.pts))
	for r, rr := range c.rings {
		n := rr.end - rr.start
		for i := int32(0); i < n; i++ {
			a, b := c.ringPts[rr.start+i], c.ringPts[rr.start+(i+1)%n]
			if a > b {
				a, b = b, a
			}
			s := segHead[a] - 1
			for s >= 0 && segOther[s] != b {
				s = segNext[s] - 1
			}
			if s < 0 {
				s = int32(len(sets))
				sets = append(sets, segSet{r0: int32(r), n: 1})
				segOther = append(segOther, b)
				segNext = append(segNext, segHead[a])
				segHead[a] = s + 1
				degree[a]++
				degree[b]++
			} else {
				overflow = sets[s].add(int32(r), overflow)
			}
			ringSeg[rr.start+i] = s
		}
	}

	c.arcPts = make([]int32, 0, len(c.ringPts)/2+1)
	arcIdx := make(map[arcKey]int32)
	var junctions, seq []int32
	for r := range c.rings {
		rr := &c.rings[r]
		rr.arcStart = int32(len(c.ringArcs))
		n := rr.end - rr.start
		pts := c.ringPts[rr.start:rr.end]
		segs := ringSeg[rr.start:rr.end]
		junctions = junctions[:0]
		for i := int32(0); i < n; i++ {
			before, after := segs[(i+n-1)%n], segs[i]
			if degree[pts[i]] > 2 || !sets[before].equal(&sets[after], overflow) {
				junctions = append(junctions, i)
			}
		}
		switch {
		case n == 0:
		case len(junctions) == 0:
			var rev bool
			seq, rev = c.canonicalLoop(pts, seq[:0])
			c.ringArcs = append(c.ringArcs, arcRef{arc: c.internArc(arcIdx, seq, true), rev: rev})
		default:
			for k, j := range junctions {
				next := junctions[0] + n
				if k+1 < len(junctions) {
					next = junctions[k+1]
				}
				seq = seq[:0]
				for i := j; i <= next; i++ {
					seq = append(seq, pts[i%n])
				}
				rev := c.reverseIsSmaller(seq)
				if rev {
					slices.Reverse(seq)
				}
				c.ringArcs = append(c.ringArcs, arcRef{arc: c.internArc(arcIdx, seq, false), rev: rev})
			}
		}
		rr.arcEnd = int32(len(c.ringArcs))
	}
}

// internArc returns the index of the arc with canonical point sequence seq, storing it if new.
func (c *coverage) internArc(index map[arcKey]int32, seq []int32, loop bool) int32 {
	key := arcKey{first: seq[0], second: seq[1], last: seq[len(seq)-1], n: int32(len(seq)), loop: loop}
	if a, ok := index[key]; ok {
		stored := c.arcs[a]
		if slices.Equal(c.arcPts[stored.start:stored.end], seq) {
			return a
		}
	} else {
		index[key] = int32(len(c.arcs))
	}
	start := int32(len(c.arcPts))
	c.arcPts = append(c.arcPts, seq...)
	c.arcs = append(c.arcs, arc{start: start, end: int32(len(c.arcPts)), loop: loop})
	return int32(len(c.arcs) - 1)
}

// canonicalLoop writes the closed ring pts starting at its smallest point, in the direction whose
// second point is smaller, so that the same loop walked from any start or in either direction (an
// enclave and the hole around it) yields the same sequence. It also reports whether the ring walks
// that sequence backwards.
func (c *coverage) canonicalLoop(pts []int32, dst []int32) ([]int32, bool) {
	n := len(pts)
	m := 0
	for i := 1; i < n; i++ {
		if comparePoints(c.pts[pts[i]], c.pts[pts[m]]) < 0 {
			m = i
		}
	}
	for i := 0; i <= n; i++ {
		dst = append(dst, pts[(m+i)%n])
	}
	rev := c.reverseIsSmaller(dst)
	if rev {
		slices.Reverse(dst)
	}
	return dst, rev
}

// reverseIsSmaller reports whether seq read backwards is lexicographically smaller than forwards.
func (c *coverage) reverseIsSmaller(seq []int32) bool {
	for i, j := 0, len(seq)-1; i < len(seq); i, j = i+1, j-1 {
		if seq[i] == seq[j] {
			continue
		}
		return comparePoints(c.pts[seq[j]], c.pts[seq[i]]) < 0
	}
	return false
}

// simplify simplifies every distinct arc once and reassembles the features from the results.
func (c *coverage) simplify(tolerance float64) []*geom.MultiPolygon {
	s := newSimplifier(c.pts, tolerance)
	simplified := make([]int32, 0, len(c.arcPts))
	bounds := make([]int32, len(c.arcs)+1)
	for i, a := range c.arcs {
		simplified = s.arc(a, c.arcPts[a.start:a.end], simplified)
		bounds[i+1] = int32(len(simplified))
	}
	arcPoints := func(a int32) []int32 { return simplified[bounds[a]:bounds[a+1]] }

	out := make([]*geom.MultiPolygon, len(c.features))
	var ring []int32
	for f, fr := range c.features {
		if fr.missing {
			continue
		}
		var flat []float64
		var endss [][]int
		for _, pr := range c.polys[fr.polyStart:fr.polyEnd] {
			var ends []int
			for r := pr.ringStart; r < pr.ringEnd; r++ {
				ring = c.assemble(c.rings[r], arcPoints, ring[:0])
				if c.collapsed(ring) {
					if r == pr.ringStart {
						break // holes mean nothing without their exterior
					}
					continue
				}
				flat = c.appendRing(flat, ring, c.rings[r])
				ends = append(ends, len(flat))
			}
			if len(ends) > 0 {
				endss = append(endss, ends)
			}
		}
		if len(endss) == 0 {
			flat, endss = c.fallback(fr, tolerance)
		}
		out[f] = geom.NewMultiPolygonFlat(geom.XY, flat, endss).SetSRID(fr.srid)
	}
	return out
}

// fallback keeps a feature visible whose polygons all collapsed (e.g. a small island at a coarse
// zoom): it returns the feature's largest exterior, simplified at the largest of tolerance/2,
// tolerance/4, … that keeps it, or unsimplified. The ring's arcs are simplified on their own here, so
// it may no longer match its neighbours exactly; at that size the mismatch is below the tolerance.
func (c *coverage) fallback(fr featureRef, tolerance float64) ([]float64, [][]int) {
	best, bestArea := int32(-1), -1.0
	for _, pr := range c.polys[fr.polyStart:fr.polyEnd] {
		if pr.ringStart == pr.ringEnd {
			continue
		}
		rr := c.rings[pr.ringStart]
		if rr.start == rr.end {
			continue
		}
		if a := math.Abs(c.area(c.ringPts[rr.start:rr.end])); a > bestArea {
			best, bestArea = pr.ringStart, a
		}
	}
	if best < 0 {
		return nil, nil
	}
	rr := c.rings[best]
	var buf, ring []int32
	t := tolerance / 2
	for i := 0; ; i++ {
		if i >= fallbackHalvings || !(t > 0) {
			t = 0
		}
		s := newSimplifier(c.pts, t)
		arcPoints := func(a int32) []int32 {
			ar := c.arcs[a]
			buf = s.arc(ar, c.arcPts[ar.start:ar.end], buf[:0])
			return buf
		}
		ring = c.assemble(rr, arcPoints, ring[:0])
		if t == 0 || !c.collapsed(ring) {
			break
		}
		t /= 2
	}
	flat := c.appendRing(nil, ring, rr)
	return flat, [][]int{{len(flat)}}
}

// assemble appends ring rr, built from its simplified arcs, to dst as distinct consecutive points
// without the closing point.
func (c *coverage) assemble(rr ringRef, arcPoints func(int32) []int32, dst []int32) []int32 {
	start := len(dst)
	push := func(id int32) {
		if len(dst) == start || dst[len(dst)-1] != id {
			dst = append(dst, id)
		}
	}
	// Each arc's last point is the next arc's first (the ring's first for the last arc), so it is skipped.
	for _, ref := range c.ringArcs[rr.arcStart:rr.arcEnd] {
		seq := arcPoints(ref.arc)
		if ref.rev {
			for i := len(seq) - 1; i > 0; i-- {
				push(seq[i])
			}
		} else {
			for _, id := range seq[:len(seq)-1] {
				push(id)
			}
		}
	}
	for len(dst)-start > 1 && dst[len(dst)-1] == dst[start] {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// collapsed reports whether an assembled ring no longer encloses anything.
func (c *coverage) collapsed(ring []int32) bool {
	return len(ring) < 3 || c.area(ring) == 0
}

// appendRing appends ring, closed, to flat. It starts at rr's original first point when that survived,
// so that unsimplified rings come back exactly as they went in.
func (c *coverage) appendRing(flat []float64, ring []int32, rr ringRef) []float64 {
	first := 0
	if rr.start < rr.end {
		if i := slices.Index(ring, c.ringPts[rr.start]); i >= 0 {
			first = i
		}
	}
	flat = slices.Grow(flat, 2*(len(ring)+1))
	for i := 0; i <= len(ring); i++ {
		p := c.pts[ring[(first+i)%len(ring)]]
		flat = append(flat, p.x, p.y)
	}
	return flat
}

// area returns the signed shoelace area of the open ring ids, computed relative to its first point
// to keep precision with large national-grid coordinates.
func (c *coverage) area(ids []int32) float64 {
	if len(ids) < 3 {
		return 0
	}
	o := c.pts[ids[0]]
	var sum float64
	for i := 1; i+1 < len(ids); i++ {
		p, q := c.pts[ids[i]], c.pts[ids[i+1]]
		sum += (p.x-o.x)*(q.y-o.y) - (q.x-o.x)*(p.y-o.y)
	}
	return sum / 2
}

// simplifier runs Douglas–Peucker on point-id sequences, reusing its buffers between arcs.
type simplifier struct {
	pts   []point
	tol2  float64
	keep  []bool
	stack [][2]int32
}

// newSimplifier returns a simplifier for tolerance; tolerance <= 0 keeps every point, as even
// exactly collinear points are part of the input the caller asked to keep.
func newSimplifier(pts []point, tolerance float64) *simplifier {
	s := &simplifier{pts: pts}
	if tolerance > 0 {
		s.tol2 = tolerance * tolerance
	}
	return s
}

// arc appends the simplification of the canonical point sequence ids of a to dst.
func (s *simplifier) arc(a arc, ids []int32, dst []int32) []int32 {
	if a.loop {
		return s.loop(ids, dst)
	}
	return s.douglasPeucker(ids, dst)
}

// loop simplifies a closed sequence (ids[0] == ids[len(ids)-1]). Douglas–Peucker on it directly
// would measure everything against a zero-length chord; splitting at the point farthest from the
// start gives two proper chords and keeps three distinct points whenever the loop is wider than the
// tolerance.
func (s *simplifier) loop(ids []int32, dst []int32) []int32 {
	if s.tol2 == 0 || len(ids) < 4 {
		return append(dst, ids...)
	}
	p0 := s.pts[ids[0]]
	far, farD := 1, -1.0
	for i := 1; i < len(ids)-1; i++ {
		p := s.pts[ids[i]]
		if d := (p.x-p0.x)*(p.x-p0.x) + (p.y-p0.y)*(p.y-p0.y); d > farD {
			far, farD = i, d
		}
	}
	dst = s.douglasPeucker(ids[:far+1], dst)
	n := len(dst)
	dst = s.douglasPeucker(ids[far:], dst)
	return slices.Delete(dst, n, n+1) // the far point ends one half and starts the other
}

// douglasPeucker appends the points of ids that Douglas–Peucker keeps to dst, always keeping both
// endpoints. It uses an explicit stack, as arcs can have tens of thousands of points.
func (s *simplifier) douglasPeucker(ids []int32, dst []int32) []int32 {
	n := len(ids)
	if n <= 2 || s.tol2 == 0 {
		return append(dst, ids...)
	}
	if cap(s.keep) < n {
		s.keep = make([]bool, n)
	}
	keep := s.keep[:n]
	clear(keep)
	keep[0], keep[n-1] = true, true
	stack := append(s.stack[:0], [2]int32{0, int32(n - 1)})
	for len(stack) > 0 {
		lo, hi := stack[len(stack)-1][0], stack[len(stack)-1][1]
		stack = stack[:len(stack)-1]
		if hi-lo < 2 {
			continue
		}
		if i := s.farthest(ids, lo, hi); i >= 0 {
			keep[i] = true
			stack = append(stack, [2]int32{lo, i}, [2]int32{i, hi})
		}
	}
	s.stack = stack
	for i, k := range keep {
		if k {
			dst = append(dst, ids[i])
		}
	}
	return dst
}

// farthest returns the index strictly between lo and hi of the point farthest from the segment
// ids[lo]–ids[hi], or -1 if none is farther than the tolerance. Distances are to the segment, not
// the infinite line, so arcs that start and end at the same junction are handled too.
func (s *simplifier) farthest(ids []int32, lo, hi int32) int32 {
	a, b := s.pts[ids[lo]], s.pts[ids[hi]]
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	best, bestD := int32(-1), s.tol2
	for i := lo + 1; i < hi; i++ {
		p := s.pts[ids[i]]
		px, py := p.x-a.x, p.y-a.y
		var d float64
		switch t := px*dx + py*dy; {
		case t <= 0 || l2 == 0:
			d = px*px + py*py
		case t >= l2:
			qx, qy := p.x-b.x, p.y-b.y
			d = qx*qx + qy*qy
		default:
			cr := px*dy - py*dx
			d = cr * cr / l2
		}
		if d > bestD {
			best, bestD = i, d
		}
	}
	return best
}
