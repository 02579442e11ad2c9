package gis

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	shp "github.com/jonas-p/go-shp"
	"github.com/twpayne/go-geom"
)

// shpTestPRJ is the .prj the ONS publishes with its British National Grid boundaries.
const shpTestPRJ = `PROJCS["British_National_Grid",GEOGCS["GCS_OSGB_1936",DATUM["D_OSGB_1936",SPHEROID["Airy_1830",6377563.396,299.3249646]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",400000.0],PARAMETER["False_Northing",-100000.0],PARAMETER["Central_Meridian",-2.0],PARAMETER["Scale_Factor",0.9996012717],PARAMETER["Latitude_Of_Origin",49.0],UNIT["Meter",1.0]]`

// shpTestRecord is one record of a generated fixture.
type shpTestRecord struct {
	rings [][]shp.Point
	attrs []string
}

// shpTestFields are the fixture's DBF fields.
var shpTestFields = []shp.Field{
	shp.StringField("CODE", 9),
	shp.StringField("NAME", 20),
	shp.StringField("NAMEW", 20),
	shp.NumberField("POP", 8),
}

// shpSquare returns a clockwise square: an outer ring in a shapefile.
func shpSquare(x, y, size float64) []shp.Point {
	return []shp.Point{{X: x, Y: y}, {X: x, Y: y + size}, {X: x + size, Y: y + size}, {X: x + size, Y: y}, {X: x, Y: y}}
}

// shpReverse returns r reversed, turning an outer ring into a hole and back.
func shpReverse(r []shp.Point) []shp.Point {
	out := make([]shp.Point, len(r))
	for i, p := range r {
		out[len(r)-1-i] = p
	}
	return out
}

// shpWriteLayer writes stem.shp/.shx/.dbf with go-shp's writer and stem.prj by hand.
func shpWriteLayer(t testing.TB, stem string, shapeType shp.ShapeType, fields []shp.Field, records []shpTestRecord) {
	t.Helper()
	w, err := shp.Create(stem+".shp", shapeType)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetFields(fields); err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		var s shp.Shape
		switch shapeType {
		case shp.POLYGON:
			s = (*shp.Polygon)(shp.NewPolyLine(r.rings))
		case shp.POLYLINE:
			s = shp.NewPolyLine(r.rings)
		case shp.POINT:
			s = &r.rings[0][0]
		default:
			t.Fatalf("shpWriteLayer: shape type %d not supported", shapeType)
		}
		row := w.Write(s)
		for j, v := range r.attrs {
			if err := w.WriteAttribute(int(row), j, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Close()
	// go-shp v0.1.1 names the table stem+"dbf", without the dot.
	if _, err := os.Stat(stem + "dbf"); err == nil {
		if err := os.Rename(stem+"dbf", stem+".dbf"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(stem+".prj", []byte(shpTestPRJ), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shpTwoSquares writes the standard fixture in dir: a square with a square hole, Welsh
// name welsh (raw bytes), and a plain square. cpg, when not empty, is written as stem.cpg.
func shpTwoSquares(t testing.TB, dir, welsh, cpg string) string {
	t.Helper()
	stem := filepath.Join(dir, "squares")
	shpWriteLayer(t, stem, shp.POLYGON, shpTestFields, []shpTestRecord{
		{rings: [][]shp.Point{shpSquare(0, 0, 10), shpReverse(shpSquare(2, 2, 2))}, attrs: []string{"W00000001", " Gower ", welsh, "1234"}},
		{rings: [][]shp.Point{shpSquare(20, 0, 10)}, attrs: []string{"E00000002", "Ashby", "", "56"}},
	})
	if cpg != "" {
		if err := os.WriteFile(stem+".cpg", []byte(cpg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return stem
}

// shpSplitRecords returns the header and the record contents of a well-formed .shp.
func shpSplitRecords(t testing.TB, data []byte) ([]byte, [][]byte) {
	t.Helper()
	var contents [][]byte
	for pos := 100; pos < len(data); {
		n := 2 * int(binary.BigEndian.Uint32(data[pos+4:]))
		contents = append(contents, data[pos+8:pos+8+n])
		pos += 8 + n
	}
	return data[:100], contents
}

// shpJoinRecords builds a .shp from a header and record contents, with its .shx.
func shpJoinRecords(header []byte, contents [][]byte) (shpData, shxData []byte) {
	shpData = append([]byte(nil), header[:100]...)
	for i, c := range contents {
		shpData = binary.BigEndian.AppendUint32(shpData, uint32(i+1))
		shpData = binary.BigEndian.AppendUint32(shpData, uint32(len(c)/2))
		shpData = append(shpData, c...)
	}
	binary.BigEndian.PutUint32(shpData[24:], uint32(len(shpData)/2))
	return shpData, shpIndexFor(shpData)
}

// shpIndexFor builds a .shx for data, indexing records for as long as they fit, so that
// a damaged .shp can be paired with an index that agrees with it.
func shpIndexFor(data []byte) []byte {
	shx := make([]byte, 100)
	copy(shx, data)
	for pos := int64(100); pos+8 <= int64(len(data)); {
		words := int64(int32(binary.BigEndian.Uint32(data[pos+4:])))
		if words < 0 || pos+8+2*words > int64(len(data)) {
			break
		}
		shx = binary.BigEndian.AppendUint32(shx, uint32(pos/2))
		shx = binary.BigEndian.AppendUint32(shx, uint32(words))
		pos += 8 + 2*words
	}
	binary.BigEndian.PutUint32(shx[24:], uint32(len(shx)/2))
	return shx
}

// shpEditRecords rewrites stem.shp and stem.shx with edit applied to the record contents.
func shpEditRecords(t testing.TB, stem string, edit func([][]byte) [][]byte) {
	t.Helper()
	data, err := os.ReadFile(stem + ".shp")
	if err != nil {
		t.Fatal(err)
	}
	header, contents := shpSplitRecords(t, data)
	shpData, shxData := shpJoinRecords(header, edit(contents))
	shpWriteFile(t, stem+".shp", shpData)
	shpWriteFile(t, stem+".shx", shxData)
}

// shpEditFile rewrites path with edit applied to its bytes.
func shpEditFile(t testing.TB, path string, edit func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	shpWriteFile(t, path, edit(data))
}

func shpWriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shpRingCoords returns a polygon's rings as shp points, for comparing with the input.
func shpRingCoords(p *geom.Polygon) [][]shp.Point {
	var rings [][]shp.Point
	for i := 0; i < p.NumLinearRings(); i++ {
		var r []shp.Point
		for _, c := range p.LinearRing(i).Coords() {
			r = append(r, shp.Point{X: c.X(), Y: c.Y()})
		}
		rings = append(rings, r)
	}
	return rings
}

func shpEqualRings(a, b []shp.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadShapefile(t *testing.T) {
	tests := []struct {
		name      string
		welsh     string // raw bytes written to NAMEW
		cpg       string // .cpg content, "" for none
		wantWelsh string
		shpSuffix bool // call with stem+".shp"
	}{
		{name: "UTF-8 declared by .cpg", welsh: "Gŵyr", cpg: "UTF-8", wantWelsh: "Gŵyr"},
		{name: ".cpg says utf8 in lower case", welsh: "Gŵyr", cpg: "utf8\r\n", wantWelsh: "Gŵyr"},
		{name: "no .cpg, valid UTF-8", welsh: "Gŵyr", wantWelsh: "Gŵyr"},
		{name: "no .cpg, Windows-1252", welsh: "Ynys M\xf4n", wantWelsh: "Ynys Môn"},
		{name: ".cpg says 1252", welsh: "Ynys M\xf4n", cpg: "1252", wantWelsh: "Ynys Môn"},
		{name: "UTF-8 .cpg with a broken sequence", welsh: "G\xc5", cpg: "UTF-8", wantWelsh: "G\uFFFD"},
		{name: "path given with .shp", welsh: "Gŵyr", cpg: "UTF-8", wantWelsh: "Gŵyr", shpSuffix: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stem := shpTwoSquares(t, t.TempDir(), tc.welsh, tc.cpg)
			arg := stem
			if tc.shpSuffix {
				arg += ".shp"
			}
			sf, err := ReadShapefile(arg)
			if err != nil {
				t.Fatal(err)
			}
			if sf.Path != stem+".shp" || sf.SRID != 27700 {
				t.Errorf("Path, SRID = %q, %d; want %q, 27700", sf.Path, sf.SRID, stem+".shp")
			}
			if got, want := strings.Join(sf.Fields, ","), "CODE,NAME,NAMEW,POP"; got != want {
				t.Errorf("Fields = %s, want %s", got, want)
			}
			if len(sf.Features) != 2 {
				t.Fatalf("%d features, want 2", len(sf.Features))
			}
			wantAttrs := []map[string]string{
				{"CODE": "W00000001", "NAME": "Gower", "NAMEW": tc.wantWelsh, "POP": "1234"},
				{"CODE": "E00000002", "NAME": "Ashby", "NAMEW": "", "POP": "56"},
			}
			wantRings := [][][]shp.Point{
				{shpSquare(0, 0, 10), shpReverse(shpSquare(2, 2, 2))},
				{shpSquare(20, 0, 10)},
			}
			wantVertices := []int{10, 5}
			for i, f := range sf.Features {
				for k, v := range wantAttrs[i] {
					if f.Attributes[k] != v {
						t.Errorf("feature %d: %s = %q, want %q", i, k, f.Attributes[k], v)
					}
				}
				if len(f.Attributes) != len(wantAttrs[i]) {
					t.Errorf("feature %d: %d attributes, want %d", i, len(f.Attributes), len(wantAttrs[i]))
				}
				if f.Vertices != wantVertices[i] {
					t.Errorf("feature %d: %d vertices, want %d", i, f.Vertices, wantVertices[i])
				}
				g := f.Geometry
				if g.SRID() != 27700 || g.Layout() != geom.XY || g.NumPolygons() != 1 {
					t.Fatalf("feature %d: SRID %d, layout %v, %d polygons; want 27700, XY, 1", i, g.SRID(), g.Layout(), g.NumPolygons())
				}
				rings := shpRingCoords(g.Polygon(0))
				if len(rings) != len(wantRings[i]) {
					t.Fatalf("feature %d: %d rings, want %d", i, len(rings), len(wantRings[i]))
				}
				for j := range rings {
					if !shpEqualRings(rings[j], wantRings[i][j]) {
						t.Errorf("feature %d ring %d = %v, want %v", i, j, rings[j], wantRings[i][j])
					}
				}
			}
			// go-geom's Area is signed, and shapefile outer rings are clockwise (negative).
			if a := sf.Features[0].Geometry.Area(); a != -96 {
				t.Errorf("feature 0 area %v, want -96 (100 less a hole of 4, clockwise)", a)
			}
		})
	}
}

func TestReadShapefileRings(t *testing.T) {
	outer := shpSquare(0, 0, 10)
	other := shpSquare(20, 0, 10)
	hole := shpReverse(shpSquare(2, 2, 2))
	otherHole := shpReverse(shpSquare(22, 2, 2))
	// touching has a vertex on outer's corner: only its other vertices say where it is.
	touching := []shp.Point{{X: 0, Y: 0}, {X: 5, Y: 2}, {X: 2, Y: 5}, {X: 0, Y: 0}}
	unclosed := outer[:4]
	closed := append(append([]shp.Point(nil), unclosed...), unclosed[0])

	tests := []struct {
		name     string
		rings    [][]shp.Point
		want     [][][]shp.Point // polygons, each outer ring then holes, as built
		vertices int
	}{
		{name: "outer with hole", rings: [][]shp.Point{outer, hole}, want: [][][]shp.Point{{outer, hole}}, vertices: 10},
		{
			name:  "holes after both outers go to the outer containing them",
			rings: [][]shp.Point{outer, other, otherHole, hole},
			want:  [][][]shp.Point{{outer, hole}, {other, otherHole}}, vertices: 20,
		},
		{
			name: "hole in an island in a hole goes to the island",
			rings: [][]shp.Point{
				shpSquare(0, 0, 100), shpReverse(shpSquare(10, 10, 80)), shpSquare(20, 20, 60), shpReverse(shpSquare(30, 30, 10)),
			},
			want: [][][]shp.Point{
				{shpSquare(0, 0, 100), shpReverse(shpSquare(10, 10, 80))},
				{shpSquare(20, 20, 60), shpReverse(shpSquare(30, 30, 10))},
			},
			vertices: 20,
		},
		{
			name:  "hole touching its outer ring at a vertex",
			rings: [][]shp.Point{outer, other, touching},
			want:  [][][]shp.Point{{outer, touching}, {other}}, vertices: 14,
		},
		{
			name:  "hole outside every outer ring falls back to the one before it",
			rings: [][]shp.Point{outer, shpReverse(shpSquare(50, 50, 2)), other},
			want:  [][][]shp.Point{{outer, shpReverse(shpSquare(50, 50, 2))}, {other}}, vertices: 15,
		},
		{name: "unclosed ring is closed", rings: [][]shp.Point{unclosed}, want: [][][]shp.Point{{closed}}, vertices: 4},
		{
			name:  "ring of two points is dropped",
			rings: [][]shp.Point{outer, {{X: 1, Y: 1}, {X: 2, Y: 2}}},
			want:  [][][]shp.Point{{outer}}, vertices: 7,
		},
		{
			name:  "ring without area is dropped",
			rings: [][]shp.Point{outer, {{X: 1, Y: 1}, {X: 2, Y: 2}, {X: 3, Y: 3}, {X: 1, Y: 1}}},
			want:  [][][]shp.Point{{outer}}, vertices: 9,
		},
		{
			name:  "only counter-clockwise rings: each is an outer ring",
			rings: [][]shp.Point{shpReverse(outer), shpReverse(other)},
			want:  [][][]shp.Point{{shpReverse(outer)}, {shpReverse(other)}}, vertices: 10,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stem := filepath.Join(t.TempDir(), "rings")
			shpWriteLayer(t, stem, shp.POLYGON, []shp.Field{shp.StringField("ID", 4)},
				[]shpTestRecord{{rings: tc.rings, attrs: []string{"1"}}})
			sf, err := ReadShapefile(stem)
			if err != nil {
				t.Fatal(err)
			}
			f := sf.Features[0]
			if f.Vertices != tc.vertices {
				t.Errorf("%d vertices, want %d", f.Vertices, tc.vertices)
			}
			if f.Geometry.NumPolygons() != len(tc.want) {
				t.Fatalf("%d polygons, want %d", f.Geometry.NumPolygons(), len(tc.want))
			}
			for i, want := range tc.want {
				got := shpRingCoords(f.Geometry.Polygon(i))
				if len(got) != len(want) {
					t.Fatalf("polygon %d has %d rings, want %d", i, len(got), len(want))
				}
				for j := range want {
					if !shpEqualRings(got[j], want[j]) {
						t.Errorf("polygon %d ring %d = %v, want %v", i, j, got[j], want[j])
					}
				}
			}
		})
	}
}

func TestReadShapefileDropsZAndM(t *testing.T) {
	outer := shpSquare(0, 0, 10)
	z := make([]float64, len(outer))
	tests := []struct {
		name  string
		typ   shp.ShapeType
		shape shp.Shape
	}{
		{
			name: "PolygonZ", typ: shp.POLYGONZ,
			shape: &shp.PolygonZ{Box: shp.BBoxFromPoints(outer), NumParts: 1, NumPoints: 5, Parts: []int32{0}, Points: outer, ZArray: z, MArray: z},
		},
		{
			name: "PolygonM", typ: shp.POLYGONM,
			shape: &shp.PolygonM{Box: shp.BBoxFromPoints(outer), NumParts: 1, NumPoints: 5, Parts: []int32{0}, Points: outer, MArray: z},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stem := filepath.Join(t.TempDir(), "zm")
			w, err := shp.Create(stem+".shp", tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.SetFields([]shp.Field{shp.StringField("ID", 4)}); err != nil {
				t.Fatal(err)
			}
			w.Write(tc.shape)
			w.Write(tc.shape) // a second record, so that the first is not read up to the end of the file
			w.Close()
			if err := os.Rename(stem+"dbf", stem+".dbf"); err != nil {
				t.Fatal(err)
			}
			shpWriteFile(t, stem+".prj", []byte(shpTestPRJ))
			sf, err := ReadShapefile(stem)
			if err != nil {
				t.Fatal(err)
			}
			if len(sf.Features) != 2 {
				t.Fatalf("%d features, want 2", len(sf.Features))
			}
			for _, f := range sf.Features {
				if f.Geometry.Layout() != geom.XY || f.Vertices != 5 || math.Abs(f.Geometry.Area()) != 100 {
					t.Errorf("layout %v, %d vertices, area %v; want XY, 5, 100", f.Geometry.Layout(), f.Vertices, f.Geometry.Area())
				}
			}
		})
	}
}

func TestReadShapefileErrors(t *testing.T) {
	garbage := []byte(strings.Repeat("\xde\xad\xbe\xef garbage ", 40))
	putBE := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	putLE := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	}
	tests := []struct {
		name     string
		mutate   func(t *testing.T, stem string)
		ext      string // of the file the error must name
		problem  string // substring of the problem
		notExist bool   // the error must unwrap to fs.ErrNotExist
	}{
		{name: "missing .shp", mutate: func(t *testing.T, stem string) { os.Remove(stem + ".shp") }, ext: ".shp", problem: "missing (a shapefile needs .shp, .shx, .dbf and .prj)", notExist: true},
		{name: "missing .shx", mutate: func(t *testing.T, stem string) { os.Remove(stem + ".shx") }, ext: ".shx", problem: "missing", notExist: true},
		{name: "missing .dbf", mutate: func(t *testing.T, stem string) { os.Remove(stem + ".dbf") }, ext: ".dbf", problem: "missing", notExist: true},
		{name: "missing .prj", mutate: func(t *testing.T, stem string) { os.Remove(stem + ".prj") }, ext: ".prj", problem: "missing", notExist: true},
		{
			name: ".shp is a directory",
			mutate: func(t *testing.T, stem string) {
				os.Remove(stem + ".shp")
				if err := os.Mkdir(stem+".shp", 0o755); err != nil {
					t.Fatal(err)
				}
			},
			ext: ".shp", problem: "read: is a directory",
		},
		{
			name: "truncated .shp, cut in the middle of a record",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".shp", func(b []byte) []byte { return b[:len(b)-40] })
			},
			ext: ".shp", problem: "truncated: the header says",
		},
		{
			name: "truncated .shp whose header length was updated",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".shp", func(b []byte) []byte {
					b = b[:len(b)-40]
					binary.BigEndian.PutUint32(b[24:], uint32(len(b)/2))
					return b
				})
			},
			ext: ".shp", problem: "truncated: record 2 at byte",
		},
		{
			name:   "empty .shp",
			mutate: func(t *testing.T, stem string) { shpWriteFile(t, stem+".shp", nil) },
			ext:    ".shp", problem: "truncated: 0 bytes",
		},
		{
			name: "point shapefile",
			mutate: func(t *testing.T, stem string) {
				shpWriteLayer(t, stem, shp.POINT, []shp.Field{shp.StringField("ID", 4)},
					[]shpTestRecord{{rings: [][]shp.Point{{{X: 1, Y: 2}}}, attrs: []string{"a"}}})
			},
			ext: ".shp", problem: "unexpected shape type 1 (want 5, Polygon)",
		},
		{
			name: "polyline shapefile",
			mutate: func(t *testing.T, stem string) {
				shpWriteLayer(t, stem, shp.POLYLINE, []shp.Field{shp.StringField("ID", 4)},
					[]shpTestRecord{{rings: [][]shp.Point{shpSquare(0, 0, 1)}, attrs: []string{"a"}}})
			},
			ext: ".shp", problem: "unexpected shape type 3 (want 5, Polygon)",
		},
		{
			name: "unknown projection",
			mutate: func(t *testing.T, stem string) {
				shpWriteFile(t, stem+".prj", []byte(`GEOGCS["GCS_ETRS_1989",DATUM["D_ETRS_1989",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]`))
			},
			ext: ".prj", problem: `unknown projection: GEOGCS["GCS_ETRS_1989",DATUM["D_ETRS_1989",SPHEROID["GRS_1980",6378137.0,298.257`,
		},
		{
			name: "extra .dbf record",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".dbf", func(b []byte) []byte {
					recLen := int(binary.LittleEndian.Uint16(b[10:]))
					binary.LittleEndian.PutUint32(b[4:], binary.LittleEndian.Uint32(b[4:])+1)
					return append(b, []byte(" "+strings.Repeat("x", recLen-1))...)
				})
			},
			ext: ".dbf", problem: "read 2 shapes but the .dbf has 3 records",
		},
		{
			name: "last shape dropped",
			mutate: func(t *testing.T, stem string) {
				shpEditRecords(t, stem, func(c [][]byte) [][]byte { return c[:1] })
			},
			ext: ".dbf", problem: "read 1 shapes but the .dbf has 2 records",
		},
		{name: "garbage .shp", mutate: func(t *testing.T, stem string) { shpWriteFile(t, stem+".shp", garbage) }, ext: ".shp", problem: "file code"},
		{name: "garbage .shx", mutate: func(t *testing.T, stem string) { shpWriteFile(t, stem+".shx", garbage) }, ext: ".shx", problem: "file code"},
		{name: "garbage .dbf", mutate: func(t *testing.T, stem string) { shpWriteFile(t, stem+".dbf", garbage) }, ext: ".dbf", problem: "truncated"},
		{name: "garbage .prj", mutate: func(t *testing.T, stem string) { shpWriteFile(t, stem+".prj", garbage) }, ext: ".prj", problem: "unknown projection"},
		{
			name:   "wrong .shp version",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putLE(28, 999)) },
			ext:    ".shp", problem: "version 999, want 1000",
		},
		{
			name:   ".shp header length shorter than the file",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putBE(24, 60)) },
			ext:    ".shp", problem: "the header says 120 bytes but the file has",
		},
		{
			name:   "record content length beyond the file",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putBE(104, math.MaxInt32)) },
			ext:    ".shp", problem: "truncated: record 1 at byte 100",
		},
		{
			name:   "negative record content length",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putBE(104, 0xFFFFFFFF)) },
			ext:    ".shp", problem: "record 1 at byte 100 has content length -1 words",
		},
		{
			name:   "part count beyond the record",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putLE(108+36, math.MaxInt32)) },
			ext:    ".shp", problem: "record 1 at byte 100: 2147483647 parts and 10 points need",
		},
		{
			name:   "negative point count",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putLE(108+40, 0x80000000)) },
			ext:    ".shp", problem: "2 parts and -2147483648 points",
		},
		{
			name:   "part index out of range",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putLE(108+48, 11)) },
			ext:    ".shp", problem: "part 2 starts at point 11",
		},
		{
			name:   "record shape type differs from the header",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shp", putLE(108, 3)) },
			ext:    ".shp", problem: "record 1 at byte 100: shape type 3, but the file header says 5",
		},
		{
			name: "null shape",
			mutate: func(t *testing.T, stem string) {
				shpEditRecords(t, stem, func(c [][]byte) [][]byte { return [][]byte{c[0], {0, 0, 0, 0}} })
			},
			ext: ".shp", problem: "record 2 at byte 320: null shape",
		},
		{
			name: "record without usable rings",
			mutate: func(t *testing.T, stem string) {
				shpWriteLayer(t, stem, shp.POLYGON, []shp.Field{shp.StringField("ID", 4)}, []shpTestRecord{
					{rings: [][]shp.Point{shpSquare(0, 0, 1)}, attrs: []string{"a"}},
					{rings: [][]shp.Point{{{X: 0, Y: 0}, {X: 1, Y: 1}, {X: 0, Y: 0}}}, attrs: []string{"b"}},
				})
			},
			ext: ".shp", problem: "record 2: no usable rings",
		},
		{
			name: "non-finite coordinate",
			mutate: func(t *testing.T, stem string) {
				ring := shpSquare(0, 0, 1)
				ring[2].X = math.NaN()
				shpWriteLayer(t, stem, shp.POLYGON, []shp.Field{shp.StringField("ID", 4)},
					[]shpTestRecord{{rings: [][]shp.Point{ring}, attrs: []string{"a"}}})
			},
			ext: ".shp", problem: "record 1: point 3 of part 1 is not a finite coordinate",
		},
		{
			name: ".shx of another layer",
			mutate: func(t *testing.T, stem string) {
				data, _ := os.ReadFile(stem + ".shp")
				header, contents := shpSplitRecords(t, data)
				_, shx := shpJoinRecords(header, contents[:1])
				shpWriteFile(t, stem+".shx", shx)
			},
			ext: ".shx", problem: "indexes 1 records but the .shp has 2",
		},
		{
			name:   ".shx entry pointing elsewhere",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".shx", putBE(108, 60)) },
			ext:    ".shx", problem: "entry 2 points to byte 120",
		},
		{
			name: "truncated .shx",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".shx", func(b []byte) []byte { return b[:len(b)-4] })
			},
			ext: ".shx", problem: "truncated: the header says",
		},
		{
			name: ".dbf record length disagrees with its fields",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".dbf", func(b []byte) []byte { b[10]++; return b })
			},
			ext: ".dbf", problem: "the header says records are 59 bytes but the fields add up to 58",
		},
		{
			name:   ".dbf with fewer records than its header says",
			mutate: func(t *testing.T, stem string) { shpEditFile(t, stem+".dbf", putLE(4, 1000)) },
			ext:    ".dbf", problem: "truncated: the header says 1000 records of 58 bytes",
		},
		{
			name: ".dbf without the end-of-fields marker",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".dbf", func(b []byte) []byte { b[32+4*32] = ' '; return b })
			},
			ext: ".dbf", problem: "field descriptor 5 runs past the 161-byte header",
		},
		{
			name: ".dbf record with a bad deletion flag",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".dbf", func(b []byte) []byte { b[32+4*32+1+58] = 'X'; return b })
			},
			ext: ".dbf", problem: "record 2 starts with byte 0x58",
		},
		{
			name: ".dbf with two fields of one name",
			mutate: func(t *testing.T, stem string) {
				shpEditFile(t, stem+".dbf", func(b []byte) []byte { copy(b[32+32:], "CODE\x00"); return b })
			},
			ext: ".dbf", problem: `fields 1 and 2 are both named "CODE"`,
		},
		{
			name:   "unsupported code page",
			mutate: func(t *testing.T, stem string) { shpWriteFile(t, stem+".cpg", []byte("UTF-16LE")) },
			ext:    ".cpg", problem: `unsupported code page "UTF-16LE"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stem := shpTwoSquares(t, t.TempDir(), "Gŵyr", "")
			tc.mutate(t, stem)
			sf, err := ReadShapefile(stem)
			if err == nil {
				t.Fatalf("no error; read %d features", len(sf.Features))
			}
			var se *ShapefileError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is a %T, not a *ShapefileError", err, err)
			}
			if se.File != stem+tc.ext {
				t.Errorf("error names %s, want %s (%v)", se.File, stem+tc.ext, err)
			}
			if !strings.Contains(se.Problem, tc.problem) {
				t.Errorf("problem %q does not contain %q", se.Problem, tc.problem)
			}
			if err.Error() != se.File+": "+se.Problem {
				t.Errorf("Error() = %q, want file: problem", err.Error())
			}
			if errors.Is(err, fs.ErrNotExist) != tc.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", !tc.notExist, tc.notExist)
			}
		})
	}
}

func TestReadShapefileDBFVariants(t *testing.T) {
	tests := []struct {
		name   string
		edit   func([]byte) []byte
		record int // feature to check
		field  string
		want   string
	}{
		{
			// go-shp's sequential reader would misread the rows after such padding, so the
			// reader strips it.
			name: "header padded after the field descriptors",
			edit: func(b []byte) []byte {
				hl := int(binary.LittleEndian.Uint16(b[8:]))
				out := append([]byte(nil), b[:hl]...)
				out = append(out, make([]byte, 263)...) // as Visual FoxPro's backlink area
				binary.LittleEndian.PutUint16(out[8:], uint16(hl+263))
				return append(out, b[hl:]...)
			},
			record: 1, field: "NAME", want: "Ashby",
		},
		{
			name:   "junk after the NUL ending a field name",
			edit:   func(b []byte) []byte { copy(b[32+32:], "NAME\x00zz"); return b },
			record: 0, field: "NAME", want: "Gower",
		},
		{
			name:   "record marked deleted is still read",
			edit:   func(b []byte) []byte { b[161] = '*'; return b },
			record: 0, field: "CODE", want: "W00000001",
		},
		{
			name:   "end-of-file marker after the records",
			edit:   func(b []byte) []byte { return append(b, 0x1A) },
			record: 1, field: "POP", want: "56",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stem := shpTwoSquares(t, t.TempDir(), "Gŵyr", "UTF-8")
			shpEditFile(t, stem+".dbf", tc.edit)
			sf, err := ReadShapefile(stem)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(sf.Fields, ","); got != "CODE,NAME,NAMEW,POP" {
				t.Errorf("Fields = %s", got)
			}
			if got := sf.Features[tc.record].Attributes[tc.field]; got != tc.want {
				t.Errorf("%s = %q, want %q", tc.field, got, tc.want)
			}
		})
	}
}

func TestSRIDFromPRJ(t *testing.T) {
	const gdalBNG = `PROJCS["OSGB 1936 / British National Grid",GEOGCS["OSGB 1936",DATUM["OSGB_1936",SPHEROID["Airy 1830",6377563.396,299.3249646,AUTHORITY["EPSG","7001"]],TOWGS84[446.448,-125.157,542.06,0.15,0.247,0.842,-20.489],AUTHORITY["EPSG","6277"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4277"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",49],PARAMETER["central_meridian",-2],PARAMETER["scale_factor",0.9996012717],PARAMETER["false_easting",400000],PARAMETER["false_northing",-100000],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","27700"]]`
	custom := func(name string, falseEasting string, unit string) string {
		return `PROJCS["` + name + `",GEOGCS["GCS_OSGB_1936",DATUM["D_OSGB_1936",SPHEROID["Airy_1830",6377563.396,299.3249646]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",` + falseEasting + `],PARAMETER["False_Northing",-100000.0],PARAMETER["Central_Meridian",-2.0],PARAMETER["Scale_Factor",0.999601272],PARAMETER["Latitude_Of_Origin",49.0],` + unit + `]`
	}
	const wgs84 = `GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]`
	const webMercator = `PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mercator_Auxiliary_Sphere"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",0.0],PARAMETER["Standard_Parallel_1",0.0],PARAMETER["Auxiliary_Sphere_Type",0.0],UNIT["Meter",1.0]]`
	const utm30 = `PROJCS["WGS 84 / UTM zone 30N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",-3],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","32630"]]`
	const wkt2 = `PROJCRS["OSGB36 / British National Grid",
    BASEGEOGCRS["OSGB36",
        DATUM["Ordnance Survey of Great Britain 1936",
            ELLIPSOID["Airy 1830",6377563.396,299.3249646,LENGTHUNIT["metre",1]]],
        PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],
        ID["EPSG",4277]],
    CONVERSION["British National Grid",
        METHOD["Transverse Mercator",ID["EPSG",9807]],
        PARAMETER["Latitude of natural origin",49,ANGLEUNIT["degree",0.0174532925199433],ID["EPSG",8801]],
        PARAMETER["False easting",400000,LENGTHUNIT["metre",1],ID["EPSG",8806]]],
    CS[Cartesian,2],
        AXIS["(E)",east,ORDER[1],LENGTHUNIT["metre",1]],
        AXIS["(N)",north,ORDER[2],LENGTHUNIT["metre",1]],
    ID["EPSG",27700]]`
	long := `LOCAL_CS["` + strings.Repeat("a", 200) + `"]`

	tests := []struct {
		name    string
		prj     string
		want    int
		wantErr string
	}{
		{name: "ESRI British_National_Grid", prj: shpTestPRJ, want: 27700},
		{name: "with byte-order mark and newline", prj: "\uFEFF" + shpTestPRJ + "\r\n", want: 27700},
		{name: "GDAL WKT1 with EPSG authority", prj: gdalBNG, want: 27700},
		{name: "OSGB_1936_British_National_Grid", prj: custom("OSGB_1936_British_National_Grid", "400000", `UNIT["Meter",1]`), want: 27700},
		{name: "OSGB36 / British National Grid", prj: custom("OSGB36 / British National Grid", "400000", `UNIT["Meter",1]`), want: 27700},
		{name: "unnamed Transverse Mercator on OSGB 1936", prj: custom("Custom", "400000.0", `UNIT["Meter",1.0]`), want: 27700},
		{name: "parentheses instead of brackets", prj: strings.NewReplacer("[", "(", "]", ")").Replace(shpTestPRJ), want: 27700},
		{name: "WKT2 with ID", prj: wkt2, want: 27700},
		{name: "authority alone decides", prj: `PROJCS["Some grid",GEOGCS["x",DATUM["y",SPHEROID["z",1,1]]],AUTHORITY["EPSG","27700"]]`, want: 27700},
		{name: "WGS 84 geographic", prj: wgs84, want: 4326},
		{name: "WGS 84 with authority", prj: `GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]`, want: 4326},
		{name: "ESRI Web Mercator", prj: webMercator, want: 3857},
		{name: "WGS 84 / Pseudo-Mercator", prj: strings.Replace(webMercator, "WGS_1984_Web_Mercator_Auxiliary_Sphere", "WGS 84 / Pseudo-Mercator", 1), want: 3857},
		{name: "other Transverse Mercator on OSGB 1936", prj: custom("Custom", "500000", `UNIT["Meter",1]`), wantErr: `unknown projection: PROJCS["Custom",`},
		{name: "BNG in feet", prj: custom("Custom", "400000", `UNIT["Foot",0.3048]`), wantErr: "unknown projection"},
		{name: "UTM zone 30N", prj: utm30, wantErr: `unknown projection: PROJCS["WGS 84 / UTM zone 30N"`},
		{name: "BNG name but another EPSG code", prj: strings.Replace(shpTestPRJ, `UNIT["Meter",1.0]]`, `UNIT["Meter",1.0],AUTHORITY["EPSG","32630"]]`, 1), wantErr: "unknown projection"},
		{name: "PROJCS claiming EPSG:4326", prj: `PROJCS["x",AUTHORITY["EPSG","4326"]]`, wantErr: "unknown projection"},
		{name: "GEOGCS of another datum", prj: strings.NewReplacer("WGS_1984", "ETRS_1989").Replace(wgs84), wantErr: "unknown projection"},
		{name: "empty", prj: "", wantErr: "unknown projection: "},
		{name: "not WKT", prj: "British_National_Grid", wantErr: "unknown projection: British_National_Grid"},
		{name: "unbalanced", prj: `PROJCS["British_National_Grid"`, wantErr: "unknown projection"},
		{name: "mismatched brackets", prj: `PROJCS["British_National_Grid")`, wantErr: "unknown projection"},
		{name: "unterminated string", prj: `PROJCS["British_National_Grid]`, wantErr: "unknown projection"},
		{name: "trailing text", prj: shpTestPRJ + " x", wantErr: "unknown projection"},
		{name: "nested too deeply", prj: strings.Repeat("A[", 10000) + "1" + strings.Repeat("]", 10000), wantErr: "unknown projection"},
		{name: "long text is cut at 80 characters", prj: long, wantErr: "unknown projection: " + long[:80]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sridFromPRJ(tc.prj)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got %d, want error %q", got, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Errorf("error %q, want prefix %q", err, tc.wantErr)
				}
				if len(err.Error()) > len("unknown projection: ")+80 {
					t.Errorf("error of %d bytes quotes more than 80 characters", len(err.Error()))
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// shpDataDir returns the shared reference data directory, or skips the test.
func shpDataDir(t *testing.T) string {
	dir := os.Getenv("CAREGRAPH_DATA_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data") // from /work/main/gis to /work/shared/data
	}
	if _, err := os.Stat(filepath.Join(dir, "shapefiles")); err != nil {
		t.Skipf("reference data not found at %s (set CAREGRAPH_DATA_DIR): %v", dir, err)
	}
	return dir
}

func TestReadShapefileRealData(t *testing.T) {
	dir := shpDataDir(t)
	tests := []struct {
		name     string
		stem     string
		features int
		fields   []string
		vertices int // as published; the count read must be within 1%
		known    map[string]map[string]string
	}{
		{
			name: "countries", stem: "Countries_December_2022_UK_BUC/CTRY_DEC_2022_UK_BUC",
			features: 4, fields: []string{"CTRY22CD", "CTRY22NM", "CTRY22NMW"}, vertices: 13612,
			known: map[string]map[string]string{
				"E92000001": {"CTRY22NM": "England"},
				"W92000004": {"CTRY22NM": "Wales", "CTRY22NMW": "Cymru"},
			},
		},
		{
			name: "NHS England regions", stem: "NHS_England_Regions_July_2022_EN_BUC_2022/NHSER_JUL_2022_EN_BUC",
			features: 7, fields: []string{"NHSER22CD", "NHSER22NM"}, vertices: 4568,
		},
		{
			name: "integrated care boards", stem: "Integrated_Care_Boards_April_2023_EN_BSC/ICB_APR_2023_EN_BSC",
			features: 42, fields: []string{"ICB23CD", "ICB23NM"}, vertices: 23809,
		},
		{
			name: "local health boards", stem: "Local_Health_Boards_April_2022_WA_BUC_2022/LHB_APR_2022_WA_BUC",
			features: 7, fields: []string{"LHB22CD", "LHB22NM", "LHB22NMW"}, vertices: 1039,
		},
		{
			name: "London boroughs", stem: "London_Boroughs/London_Borough_Excluding_MHW",
			features: 33, fields: []string{"GSS_CODE", "NAME"}, vertices: 48548,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sf, err := ReadShapefile(filepath.Join(dir, "shapefiles", filepath.FromSlash(tc.stem)))
			if err != nil {
				t.Fatal(err)
			}
			if len(sf.Features) != tc.features || sf.SRID != 27700 {
				t.Errorf("%d features in EPSG:%d, want %d in EPSG:27700", len(sf.Features), sf.SRID, tc.features)
			}
			for _, name := range tc.fields {
				if !slices.Contains(sf.Fields, name) {
					t.Errorf("no field %s in %v", name, sf.Fields)
				}
			}
			vertices, polygons, holes := 0, 0, 0
			for _, f := range sf.Features {
				vertices += f.Vertices
				polygons += f.Geometry.NumPolygons()
				for i := 0; i < f.Geometry.NumPolygons(); i++ {
					holes += f.Geometry.Polygon(i).NumLinearRings() - 1
				}
				if f.Geometry.SRID() != 27700 || f.Geometry.NumPolygons() == 0 {
					t.Errorf("feature %s: SRID %d, %d polygons", f.Attributes[tc.fields[0]], f.Geometry.SRID(), f.Geometry.NumPolygons())
				}
				if want, ok := tc.known[f.Attributes[tc.fields[0]]]; ok {
					for k, v := range want {
						if f.Attributes[k] != v {
							t.Errorf("%s: %s = %q, want %q", f.Attributes[tc.fields[0]], k, f.Attributes[k], v)
						}
					}
				}
			}
			if math.Abs(float64(vertices-tc.vertices)) > 0.01*float64(tc.vertices) {
				t.Errorf("%d vertices, want %d ± 1%%", vertices, tc.vertices)
			}
			t.Logf("%s: %d features, %d polygons, %d holes, %d vertices (published %d)", tc.stem, len(sf.Features), polygons, holes, vertices, tc.vertices)
		})
	}
}

func TestDecodeWithGoShpRecovers(t *testing.T) {
	// Unvalidated input that makes go-shp panic must come back as an error: a negative
	// part count makes it call make with a negative length.
	stem := shpTwoSquares(t, t.TempDir(), "Gŵyr", "")
	shpData, err := os.ReadFile(stem + ".shp")
	if err != nil {
		t.Fatal(err)
	}
	dbfData, err := os.ReadFile(stem + ".dbf")
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(shpData[108+36:], 0xFFFFFFFF)
	_, _, err = decodeWithGoShp(stem+".shp", shpData, dbfData, len(shpTestFields))
	var se *ShapefileError
	if !errors.As(err, &se) || se.File != stem+".shp" || !strings.Contains(se.Problem, "go-shp failed on this file") {
		t.Fatalf("got %v, want a *ShapefileError about go-shp failing", err)
	}
}
