package gis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/twpayne/go-geom"
)

// bngSRID is the SRID of British National Grid, which the boundary layers use.
const bngSRID = 27700

// coverageFixture builds a multipolygon in British National Grid from rings of [2]float64 points;
// each element of polys is one polygon (exterior first).
func coverageFixture(polys ...[][][2]float64) *geom.MultiPolygon {
	coords := make([][][]geom.Coord, len(polys))
	for i, rings := range polys {
		coords[i] = make([][]geom.Coord, len(rings))
		for j, ring := range rings {
			for _, p := range ring {
				coords[i][j] = append(coords[i][j], geom.Coord{p[0], p[1]})
			}
		}
	}
	return geom.NewMultiPolygon(geom.XY).MustSetCoords(coords).SetSRID(bngSRID)
}

// coverageRings returns the rings of mp as closed point lists, per polygon.
func coverageRings(mp *geom.MultiPolygon) [][][][2]float64 {
	var out [][][][2]float64
	for _, poly := range mp.Coords() {
		var rings [][][2]float64
		for _, ring := range poly {
			var pts [][2]float64
			for _, c := range ring {
				pts = append(pts, [2]float64{c[0], c[1]})
			}
			rings = append(rings, pts)
		}
		out = append(out, rings)
	}
	return out
}

// shoelace returns the signed area of a closed ring.
func shoelace(ring [][2]float64) float64 {
	var sum float64
	for i := 0; i+1 < len(ring); i++ {
		sum += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
	}
	return sum / 2
}

// coverageArea returns the area of mp: exteriors minus holes, whatever their orientation.
func coverageArea(mp *geom.MultiPolygon) float64 {
	var total float64
	for _, poly := range coverageRings(mp) {
		for i, ring := range poly {
			if i == 0 {
				total += math.Abs(shoelace(ring))
			} else {
				total -= math.Abs(shoelace(ring))
			}
		}
	}
	return total
}

// closeRing returns pts followed by its first point.
func closeRing(pts [][2]float64) [][2]float64 {
	return append(slices.Clone(pts), pts[0])
}

// pathBetween returns the points of the closed ring from one vertex forward to another, both
// included, or false if either is missing.
func pathBetween(ring [][2]float64, from, to [2]float64) ([][2]float64, bool) {
	open := ring[:len(ring)-1]
	start := slices.Index(open, from)
	if start < 0 || !slices.Contains(open, to) {
		return nil, false
	}
	path := [][2]float64{from}
	for i := 1; i <= len(open); i++ {
		p := open[(start+i)%len(open)]
		path = append(path, p)
		if p == to {
			break
		}
	}
	return path, true
}

// checkSharedBorder checks that ring a walks from→to exactly as ring b walks to→from, so the two
// neighbours can have neither a gap nor an overlap along that border.
func checkSharedBorder(t *testing.T, a, b [][2]float64, from, to [2]float64) {
	t.Helper()
	pa, ok := pathBetween(a, from, to)
	if !ok {
		t.Fatalf("first ring lost junction %v or %v", from, to)
	}
	pb, ok := pathBetween(b, to, from)
	if !ok {
		t.Fatalf("second ring lost junction %v or %v", from, to)
	}
	slices.Reverse(pb)
	if !slices.Equal(pa, pb) {
		t.Errorf("shared border %v→%v differs:\n first  %v\n second %v", from, to, pa, pb)
	}
}

// checkSegmentsPaired checks that every segment of the output not on the coverage's outline is used
// exactly once in each direction, i.e. by exactly two rings on opposite sides.
func checkSegmentsPaired(t *testing.T, out []*geom.MultiPolygon, onOutline func(a, b [2]float64) bool) {
	t.Helper()
	count := make(map[[2][2]float64]int)
	for _, mp := range out {
		for _, poly := range coverageRings(mp) {
			for _, ring := range poly {
				for i := 0; i+1 < len(ring); i++ {
					count[[2][2]float64{ring[i], ring[i+1]}]++
				}
			}
		}
	}
	bad := 0
	for seg, n := range count {
		if onOutline(seg[0], seg[1]) {
			continue
		}
		if back := count[[2][2]float64{seg[1], seg[0]}]; n != 1 || back != 1 {
			if bad++; bad <= 5 {
				t.Errorf("segment %v used %d times, reverse %d times", seg, n, back)
			}
		}
	}
}

// numVertices counts the stored points of polys.
func numVertices(polys []*geom.MultiPolygon) int {
	n := 0
	for _, mp := range polys {
		n += mp.NumCoords()
	}
	return n
}

// wigglyBorder returns n+1 points from (x, 0) to (x, height) that wiggle sideways by up to amp.
func wigglyBorder(x, height float64, n int, amp float64) [][2]float64 {
	pts := make([][2]float64, n+1)
	for i := range pts {
		dx := amp * (0.7*math.Sin(float64(i)/3) + 0.3*math.Sin(float64(i)*1.7))
		if i == 0 || i == n {
			dx = 0
		}
		pts[i] = [2]float64{x + dx, height * float64(i) / float64(n)}
	}
	return pts
}

// straight returns the points from a to b every step apart, excluding b: collinear detail that
// simplification should remove.
func straight(a, b [2]float64, n int) [][2]float64 {
	pts := make([][2]float64, n)
	for i := range pts {
		f := float64(i) / float64(n)
		pts[i] = [2]float64{a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1])}
	}
	return pts
}

// zigzagBorder returns n+1 points from (x, 0) to (x, height) alternating exactly amp either side, so
// that Douglas–Peucker meets ties and gives different results depending on the direction it walks.
func zigzagBorder(x, height float64, n int, amp float64) [][2]float64 {
	pts := wigglyBorder(x, height, n, 0)
	for i := 1; i < n; i++ {
		pts[i][0] += amp * float64(1-2*(i%2))
	}
	return pts
}

// twoSquares returns two 1000 m squares side by side whose shared border runs from (1000, 0) to
// (1000, 1000), reversed in the right-hand square, with densified straight outer edges.
func twoSquares(border [][2]float64) (left, right *geom.MultiPolygon) {
	var a [][2]float64
	a = append(a, straight([2]float64{0, 0}, [2]float64{1000, 0}, 10)...)
	a = append(a, border[:len(border)-1]...)
	a = append(a, straight([2]float64{1000, 1000}, [2]float64{0, 1000}, 10)...)
	a = append(a, straight([2]float64{0, 1000}, [2]float64{0, 0}, 10)...)
	var b [][2]float64
	b = append(b, straight([2]float64{1000, 0}, [2]float64{2000, 0}, 10)...)
	b = append(b, straight([2]float64{2000, 0}, [2]float64{2000, 1000}, 10)...)
	b = append(b, straight([2]float64{2000, 1000}, [2]float64{1000, 1000}, 10)...)
	reversed := slices.Clone(border)
	slices.Reverse(reversed)
	b = append(b, reversed[:len(reversed)-1]...)
	return coverageFixture([][][2]float64{closeRing(a)}), coverageFixture([][][2]float64{closeRing(b)})
}

// noisyCircle returns n points around (cx, cy) at radius r with a deterministic ripple, anticlockwise.
func noisyCircle(cx, cy, r float64, n int) [][2]float64 {
	pts := make([][2]float64, n)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / float64(n)
		rr := r * (1 + 0.05*math.Sin(7*a) + 0.02*math.Sin(23*a))
		pts[i] = [2]float64{cx + rr*math.Cos(a), cy + rr*math.Sin(a)}
	}
	return pts
}

// holeAndEnclave returns a 1000 m square with a round hole and the enclave filling that hole,
// walked in the opposite direction from a different start, as real data does.
func holeAndEnclave() (outer, enclave *geom.MultiPolygon) {
	circle := noisyCircle(500, 500, 200, 200)
	hole := slices.Clone(circle)
	slices.Reverse(hole)
	square := [][2]float64{{0, 0}, {1000, 0}, {1000, 1000}, {0, 1000}, {0, 0}}
	outer = coverageFixture([][][2]float64{square, closeRing(hole)})
	rotated := append(slices.Clone(circle[57:]), circle[:57]...)
	enclave = coverageFixture([][][2]float64{closeRing(rotated)})
	return outer, enclave
}

// sameLoop reports whether closed rings a and b hold the same cycle of points, in either direction.
func sameLoop(a, b [][2]float64) bool {
	a, b = a[:len(a)-1], b[:len(b)-1]
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	start := slices.Index(b, a[0])
	if start < 0 {
		return false
	}
	forward, backward := true, true
	for i := range a {
		forward = forward && a[i] == b[(start+i)%len(b)]
		backward = backward && a[i] == b[(start-i+len(b))%len(b)]
	}
	return forward || backward
}

func TestSimplifyCoverageSharedBorder(t *testing.T) {
	tests := []struct {
		name      string
		border    [][2]float64
		tolerance float64
		drops     bool // whether the border must lose points
	}{
		{"wiggle", wigglyBorder(1000, 1000, 100, 40), 1, false},
		{"wiggle", wigglyBorder(1000, 1000, 100, 40), 10, true},
		{"wiggle", wigglyBorder(1000, 1000, 100, 40), 50, true},
		{"wiggle", wigglyBorder(1000, 1000, 100, 40), 200, true},
		{"zigzag", zigzagBorder(1000, 1000, 100, 20), 10, false},
		{"zigzag", zigzagBorder(1000, 1000, 101, 20), 10, false},
		{"zigzag", zigzagBorder(1000, 1000, 100, 20), 30, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d points tolerance %g", tt.name, len(tt.border), tt.tolerance), func(t *testing.T) {
			tolerance, border := tt.tolerance, tt.border
			left, right := twoSquares(border)
			out := SimplifyCoverage([]*geom.MultiPolygon{left, right}, tolerance)
			a, b := coverageRings(out[0]), coverageRings(out[1])
			if len(a) != 1 || len(a[0]) != 1 || len(b) != 1 || len(b[0]) != 1 {
				t.Fatalf("want one single-ring polygon each, got %d and %d polygons", len(a), len(b))
			}
			bottom, top := border[0], border[len(border)-1]
			checkSharedBorder(t, a[0][0], b[0][0], bottom, top)
			path, _ := pathBetween(a[0][0], bottom, top)
			for _, p := range path {
				if !slices.Contains(border, p) {
					t.Errorf("shared border point %v is not on the input border", p)
				}
			}
			if tt.drops && len(path) >= len(border) {
				t.Errorf("shared border kept all %d points", len(path))
			}
			outline := func(p, q [2]float64) bool {
				return p[1] == q[1] && (p[1] == 0 || p[1] == 1000) || p[0] == q[0] && (p[0] == 0 || p[0] == 2000)
			}
			checkSegmentsPaired(t, out, outline)
			if got := coverageArea(out[0]) + coverageArea(out[1]); math.Abs(got-2e6) > 1e-6 {
				t.Errorf("areas add up to %f, want 2000000 (the unchanged outline)", got)
			}
		})
	}
}

func TestSimplifyCoverageEnclave(t *testing.T) {
	for _, tolerance := range []float64{0, 2, 10, 50, 150} {
		t.Run(fmt.Sprintf("tolerance %g", tolerance), func(t *testing.T) {
			outer, enclave := holeAndEnclave()
			out := SimplifyCoverage([]*geom.MultiPolygon{outer, enclave}, tolerance)
			o, e := coverageRings(out[0]), coverageRings(out[1])
			if len(o) != 1 || len(o[0]) != 2 || len(e) != 1 || len(e[0]) != 1 {
				t.Fatalf("want a polygon with one hole and a single-ring enclave, got %v and %v", o, e)
			}
			hole := o[0][1]
			if !sameLoop(hole, e[0][0]) {
				t.Errorf("hole and enclave differ:\n hole    %v\n enclave %v", hole, e[0][0])
			}
			if tolerance > 0 && len(hole) >= 200 {
				t.Errorf("hole kept all of its %d points", len(hole)-1)
			}
			if got := coverageArea(out[0]) + coverageArea(out[1]); math.Abs(got-1e6) > 1e-6 {
				t.Errorf("areas add up to %f, want 1000000", got)
			}
		})
	}
}

// threeWay returns a square split into a top half and two bottom quarters meeting at (500, 500).
// The jitter on the borders is far below the tolerances used, so on the top polygon's bottom edge
// the junction is nearly collinear and only the junction rule keeps it.
func threeWay() []*geom.MultiPolygon {
	jitter := func(from, to [2]float64, n int) [][2]float64 {
		pts := straight(from, to, n)
		for i := 1; i < n; i++ {
			d := 3 * math.Sin(float64(i)*2.3)
			if from[0] == to[0] {
				pts[i][0] += d
			} else {
				pts[i][1] += d
			}
		}
		return pts
	}
	j := [2]float64{500, 500}
	left, right, bottom := [2]float64{0, 500}, [2]float64{1000, 500}, [2]float64{500, 0}
	westBorder := jitter(left, j, 25)    // top / bottom-left, walked left to right
	eastBorder := jitter(j, right, 25)   // top / bottom-right
	southBorder := jitter(bottom, j, 25) // bottom-left / bottom-right, walked upwards

	var top [][2]float64
	top = append(top, right, [2]float64{1000, 1000}, [2]float64{0, 1000})
	top = append(top, westBorder...)
	top = append(top, eastBorder...)
	top = append(top, right)

	var bl [][2]float64
	bl = append(bl, [2]float64{0, 0})
	bl = append(bl, southBorder...)
	rev := slices.Clone(append(westBorder, j))
	slices.Reverse(rev)
	bl = append(bl, rev[:len(rev)-1]...)
	bl = append(bl, left, [2]float64{0, 0})
	bl = slices.Compact(bl)

	var br [][2]float64
	br = append(br, bottom, [2]float64{1000, 0}, right)
	rev = slices.Clone(append(eastBorder, right))
	slices.Reverse(rev)
	br = append(br, rev[1:]...)
	rev = slices.Clone(append(southBorder, j))
	slices.Reverse(rev)
	br = append(br, rev[1:]...)
	br = slices.Compact(br)

	return []*geom.MultiPolygon{
		coverageFixture([][][2]float64{top}),
		coverageFixture([][][2]float64{bl}),
		coverageFixture([][][2]float64{br}),
	}
}

func TestSimplifyCoverageThreeWayJunction(t *testing.T) {
	j := [2]float64{500, 500}
	// Above 350 m the square's corners would be cut, which the fixed outline area does not allow for.
	for _, tolerance := range []float64{1, 10, 100, 300} {
		t.Run(fmt.Sprintf("tolerance %g", tolerance), func(t *testing.T) {
			in := threeWay()
			if got := coverageArea(in[0]) + coverageArea(in[1]) + coverageArea(in[2]); math.Abs(got-1e6) > 1e-6 {
				t.Fatalf("fixture areas add up to %f, want 1000000", got)
			}
			out := SimplifyCoverage(in, tolerance)
			rings := make([][][2]float64, len(out))
			for i, mp := range out {
				r := coverageRings(mp)
				if len(r) != 1 || len(r[0]) != 1 {
					t.Fatalf("feature %d: want one single-ring polygon, got %v", i, r)
				}
				rings[i] = r[0][0]
				if !slices.Contains(rings[i], j) {
					t.Errorf("feature %d lost the junction %v: %v", i, j, rings[i])
				}
			}
			checkSharedBorder(t, rings[0], rings[1], [2]float64{0, 500}, j)
			checkSharedBorder(t, rings[0], rings[2], j, [2]float64{1000, 500})
			checkSharedBorder(t, rings[1], rings[2], [2]float64{500, 0}, j)
			outline := func(p, q [2]float64) bool {
				return p[1] == q[1] && (p[1] == 0 || p[1] == 1000) || p[0] == q[0] && (p[0] == 0 || p[0] == 1000)
			}
			checkSegmentsPaired(t, out, outline)
			if got := coverageArea(out[0]) + coverageArea(out[1]) + coverageArea(out[2]); math.Abs(got-1e6) > 1e-6 {
				t.Errorf("areas add up to %f, want 1000000", got)
			}
		})
	}
}

func TestSimplifyCoverageZeroTolerance(t *testing.T) {
	left, right := twoSquares(wigglyBorder(1000, 1000, 100, 40))
	outer, enclave := holeAndEnclave()
	square := [][2]float64{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}}
	duplicated := [][2]float64{{0, 0}, {0, 0}, {10, 0}, {10, 10}, {10, 10}, {10, 10}, {0, 10}, {0, 0}, {0, 0}}
	tests := []struct {
		name string
		in   []*geom.MultiPolygon
		want []*geom.MultiPolygon
	}{
		{"two squares", []*geom.MultiPolygon{left, right}, []*geom.MultiPolygon{left, right}},
		{"hole and enclave", []*geom.MultiPolygon{outer, enclave}, []*geom.MultiPolygon{outer, enclave}},
		{"three-way junction", threeWay(), threeWay()},
		{
			"consecutive duplicates",
			[]*geom.MultiPolygon{coverageFixture([][][2]float64{duplicated})},
			[]*geom.MultiPolygon{coverageFixture([][][2]float64{square})},
		},
		{
			"two polygons with hole",
			[]*geom.MultiPolygon{coverageFixture(
				[][][2]float64{{{0, 0}, {100, 0}, {100, 100}, {0, 100}, {0, 0}}, {{10, 10}, {10, 20}, {20, 20}, {20, 10}, {10, 10}}},
				[][][2]float64{{{200, 0}, {300, 0}, {300, 100}, {200, 0}}},
			)},
			[]*geom.MultiPolygon{coverageFixture(
				[][][2]float64{{{0, 0}, {100, 0}, {100, 100}, {0, 100}, {0, 0}}, {{10, 10}, {10, 20}, {20, 20}, {20, 10}, {10, 10}}},
				[][][2]float64{{{200, 0}, {300, 0}, {300, 100}, {200, 0}}},
			)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SimplifyCoverage(tt.in, 0)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d features, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].Layout() != geom.XY || got[i].SRID() != tt.want[i].SRID() {
					t.Errorf("feature %d: layout %v SRID %d, want XY and %d", i, got[i].Layout(), got[i].SRID(), tt.want[i].SRID())
				}
				if !reflect.DeepEqual(got[i].FlatCoords(), tt.want[i].FlatCoords()) || !reflect.DeepEqual(got[i].Endss(), tt.want[i].Endss()) {
					t.Errorf("feature %d:\n got  %v %v\n want %v %v", i, got[i].FlatCoords(), got[i].Endss(), tt.want[i].FlatCoords(), tt.want[i].Endss())
				}
			}
		})
	}
}

func TestSimplifyCoverageTinyIsland(t *testing.T) {
	big := [][2]float64{{0, 0}, {1000, 0}, {1000, 1000}, {0, 1000}, {0, 0}}
	tiny := [][2]float64{{5000, 5000}, {5010, 5000}, {5010, 5010}, {5000, 5010}, {5000, 5000}}
	tinyHole := [][2]float64{{500, 500}, {500, 510}, {510, 510}, {510, 500}, {500, 500}}
	tests := []struct {
		name      string
		polys     [][][][2]float64
		tolerance float64
		wantRings []int // rings per output polygon
		wantArea  float64
	}{
		{"island dropped beside big polygon", [][][][2]float64{{big}, {tiny}}, 50, []int{1}, 1e6},
		{"island kept when alone", [][][][2]float64{{tiny}}, 50, []int{1}, 100},
		{"round island kept when alone", [][][][2]float64{{closeRing(noisyCircle(0, 0, 5, 40))}}, 1000, []int{1}, -1},
		{"largest of several islands kept", [][][][2]float64{{tiny}, {closeRing(noisyCircle(0, 0, 20, 40))}}, 1000, []int{1}, -1},
		{"tiny hole dropped", [][][][2]float64{{big, tinyHole}}, 50, []int{1}, 1e6},
		{"island kept below tolerance", [][][][2]float64{{big}, {tiny}}, 2, []int{1, 1}, 1e6 + 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := SimplifyCoverage([]*geom.MultiPolygon{coverageFixture(tt.polys...)}, tt.tolerance)
			got := coverageRings(out[0])
			var gotRings []int
			for _, poly := range got {
				gotRings = append(gotRings, len(poly))
				for _, ring := range poly {
					if len(ring) < 4 || shoelace(ring) == 0 {
						t.Errorf("collapsed ring %v in output", ring)
					}
				}
			}
			if !slices.Equal(gotRings, tt.wantRings) {
				t.Fatalf("got rings per polygon %v, want %v", gotRings, tt.wantRings)
			}
			area := coverageArea(out[0])
			if tt.wantArea >= 0 && math.Abs(area-tt.wantArea) > 1e-6 {
				t.Errorf("area %f, want %f", area, tt.wantArea)
			}
			if area <= 0 {
				t.Errorf("area %f, want positive", area)
			}
		})
	}
}

func TestSimplifyCoverageKeepsInput(t *testing.T) {
	left, right := twoSquares(zigzagBorder(1000, 1000, 100, 20))
	outer, enclave := holeAndEnclave()
	in := append([]*geom.MultiPolygon{left, right, outer, enclave}, threeWay()...)
	grid, _ := gridCoverage(1, 3, 3, 1000, 10, 20)
	in = append(in, grid...)
	for _, tolerance := range []float64{0, 5, 50, 5000} {
		t.Run(fmt.Sprintf("tolerance %g", tolerance), func(t *testing.T) {
			before := make([]*geom.MultiPolygon, len(in))
			for i, mp := range in {
				before[i] = mp.Clone()
			}
			out := SimplifyCoverage(in, tolerance)
			if len(out) != len(in) {
				t.Fatalf("got %d features, want %d", len(out), len(in))
			}
			if !reflect.DeepEqual(before, in) {
				t.Fatal("input modified")
			}
			// Writing to the output must not reach the input through shared slices.
			for _, mp := range out {
				flat := mp.FlatCoords()
				for i := range flat {
					flat[i] = -1
				}
			}
			if !reflect.DeepEqual(before, in) {
				t.Error("output shares memory with the input")
			}
		})
	}
}

func TestSimplifyCoverageNil(t *testing.T) {
	tests := []struct {
		name string
		in   []*geom.MultiPolygon
	}{
		{"no features", nil},
		{"nil feature", []*geom.MultiPolygon{nil}},
		{"empty feature", []*geom.MultiPolygon{geom.NewMultiPolygon(geom.XY)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := SimplifyCoverage(tt.in, 100)
			if len(out) != len(tt.in) {
				t.Fatalf("got %d features, want %d", len(out), len(tt.in))
			}
			for i := range out {
				if (out[i] == nil) != (tt.in[i] == nil) || out[i] != nil && out[i].NumCoords() != 0 {
					t.Errorf("feature %d: got %v for %v", i, out[i], tt.in[i])
				}
			}
		})
	}
}

func TestZoomTolerance(t *testing.T) {
	if got := ZoomTolerance(6); math.Abs(got-710) > 5 {
		t.Errorf("ZoomTolerance(6) = %f, want 710±5", got)
	}
	for zoom := 0; zoom < 24; zoom++ {
		t.Run(fmt.Sprintf("zoom %d", zoom), func(t *testing.T) {
			coarse, fine := ZoomTolerance(zoom), ZoomTolerance(zoom+1)
			if math.Abs(coarse/fine-2) > 1e-12 {
				t.Errorf("ZoomTolerance(%d)/ZoomTolerance(%d) = %f, want 2", zoom, zoom+1, coarse/fine)
			}
		})
	}
}

// gridCoverage returns an nx×ny grid of roughly cell-sized quadrilaterals. Interior nodes are
// jittered, and every interior border has perEdge inner points displaced sideways by a random walk
// with steps up to step; each border is generated once and shared (reversed) by its two cells, as in
// a real coverage. The outline stays the rectangle 0..nx*cell × 0..ny*cell with straight, densified
// edges, so the cells' areas must add up to its area. Cells are anticlockwise from their bottom-left
// node, row by row; nodes[i][j] is the corner shared by the cells at columns i-1, i and rows j-1, j.
func gridCoverage(seed uint64, nx, ny int, cell float64, perEdge int, step float64) (cells []*geom.MultiPolygon, nodes [][][2]float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	nodes = make([][][2]float64, nx+1)
	for i := range nodes {
		nodes[i] = make([][2]float64, ny+1)
		for j := range nodes[i] {
			p := [2]float64{float64(i) * cell, float64(j) * cell}
			if i > 0 && i < nx {
				p[0] += (rng.Float64()*2 - 1) * 0.2 * cell
			}
			if j > 0 && j < ny {
				p[1] += (rng.Float64()*2 - 1) * 0.2 * cell
			}
			nodes[i][j] = p
		}
	}
	// edge returns the points from a to b, with a random-walk bridge sideways unless on the outline.
	edge := func(a, b [2]float64, outline bool) [][2]float64 {
		pts := make([][2]float64, perEdge+2)
		offsets := make([]float64, perEdge+2)
		for k := 1; k < len(offsets); k++ {
			offsets[k] = offsets[k-1] + (rng.Float64()*2-1)*step
		}
		last := offsets[len(offsets)-1]
		dx, dy := b[0]-a[0], b[1]-a[1]
		length := math.Hypot(dx, dy)
		for k := range pts {
			f := float64(k) / float64(perEdge+1)
			off := offsets[k] - f*last
			if outline {
				off = 0
			}
			pts[k] = [2]float64{a[0] + f*dx - off*dy/length, a[1] + f*dy + off*dx/length}
		}
		pts[0], pts[len(pts)-1] = a, b
		return pts
	}
	horizontal := make([][][][2]float64, nx) // horizontal[i][j]: nodes[i][j] → nodes[i+1][j]
	for i := range horizontal {
		horizontal[i] = make([][][2]float64, ny+1)
		for j := range horizontal[i] {
			horizontal[i][j] = edge(nodes[i][j], nodes[i+1][j], j == 0 || j == ny)
		}
	}
	vertical := make([][][][2]float64, nx+1) // vertical[i][j]: nodes[i][j] → nodes[i][j+1]
	for i := range vertical {
		vertical[i] = make([][][2]float64, ny)
		for j := range vertical[i] {
			vertical[i][j] = edge(nodes[i][j], nodes[i][j+1], i == 0 || i == nx)
		}
	}
	backwards := func(pts [][2]float64) [][2]float64 {
		r := slices.Clone(pts)
		slices.Reverse(r)
		return r
	}
	for j := 0; j < ny; j++ {
		for i := 0; i < nx; i++ {
			var ring [][2]float64
			ring = append(ring, horizontal[i][j]...)
			ring = append(ring, vertical[i+1][j][1:]...)
			ring = append(ring, backwards(horizontal[i][j+1])[1:]...)
			ring = append(ring, backwards(vertical[i][j])[1:]...)
			cells = append(cells, coverageFixture([][][2]float64{ring}))
		}
	}
	return cells, nodes
}

func TestSimplifyCoverageGrid(t *testing.T) {
	const n, cell = 10, 1000.0
	in, nodes := gridCoverage(42, n, n, cell, 30, 15)
	// Segments joining two outline points are on the outline: at coarse tolerances the outline's
	// corners are cut off, which is the outline's own simplification, not a gap.
	onOutline := func(p [2]float64) bool { return p[0] == 0 || p[0] == n*cell || p[1] == 0 || p[1] == n*cell }
	outline := func(p, q [2]float64) bool { return onOutline(p) && onOutline(q) }
	// corners lists each corner of the outline with the outline nodes next to it.
	corners := [][3][2]float64{
		{nodes[0][0], nodes[1][0], nodes[0][1]},
		{nodes[n][0], nodes[n-1][0], nodes[n][1]},
		{nodes[0][n], nodes[1][n], nodes[0][n-1]},
		{nodes[n][n], nodes[n-1][n], nodes[n][n-1]},
	}
	var inArea float64
	for _, mp := range in {
		inArea += coverageArea(mp)
	}
	if math.Abs(inArea-n*n*cell*cell) > 1e-6*n*n*cell*cell {
		t.Fatalf("fixture areas add up to %f, want %f", inArea, n*n*cell*cell)
	}
	for _, tolerance := range []float64{1, 10, 30, 100, 1000, 5000} {
		t.Run(fmt.Sprintf("tolerance %g", tolerance), func(t *testing.T) {
			out := SimplifyCoverage(in, tolerance)
			rings := make([][][2]float64, len(out))
			var area float64
			for k, mp := range out {
				r := coverageRings(mp)
				if len(r) != 1 || len(r[0]) != 1 {
					t.Fatalf("cell %d: want one single-ring polygon, got %d polygons", k, len(r))
				}
				rings[k] = r[0][0]
				area += coverageArea(mp)
			}
			for j := 0; j < n; j++ {
				for i := 0; i < n; i++ {
					if i+1 < n {
						checkSharedBorder(t, rings[j*n+i], rings[j*n+i+1], nodes[i+1][j], nodes[i+1][j+1])
					}
					if j+1 < n {
						checkSharedBorder(t, rings[j*n+i], rings[(j+1)*n+i], nodes[i+1][j+1], nodes[i][j+1])
					}
				}
			}
			checkSegmentsPaired(t, out, outline)
			// The outline's straight edges survive; only corners closer to the chord between their
			// neighbouring nodes than the tolerance are cut, each taking a right triangle off.
			want := inArea
			for _, c := range corners {
				var kept bool
				for _, r := range rings {
					kept = kept || slices.Contains(r, c[0])
				}
				if !kept {
					want -= math.Abs(c[1][0]-c[0][0]) * math.Abs(c[2][1]-c[0][1]) / 2
				}
			}
			if rel := math.Abs(area-want) / want; rel > 1e-6 {
				t.Errorf("areas add up to %f, want %f (relative error %g)", area, want, rel)
			}
			if got, was := numVertices(out), numVertices(in); tolerance >= 10 && got >= was/2 {
				t.Errorf("kept %d of %d vertices", got, was)
			}
			t.Logf("kept %d of %d vertices", numVertices(out), numVertices(in))
		})
	}
}
