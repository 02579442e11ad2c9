package shapefiles_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"caregraph/gis"
	"caregraph/shapefiles"
	"caregraph/store"
	"caregraph/store/dbtest"

	"github.com/jonas-p/go-shp"
)

func manifest(t testing.TB) shapefiles.Manifest {
	t.Helper()
	m, err := shapefiles.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManifestDescribesFiveLayers(t *testing.T) {
	m := manifest(t)
	if len(m.Layers) != 5 {
		t.Fatalf("%d layers, want 5", len(m.Layers))
	}
	for _, l := range m.Layers {
		if l.Attribution == "" || l.Licence == "" || l.SourceURL == "" || l.SHA256.SHP == "" || l.Fields.Code == "" || l.SRID != 27700 {
			t.Errorf("layer %s is incomplete: %+v", l.Name, l)
		}
	}
	if _, err := m.Select([]string{"nowhere"}); err == nil || !strings.Contains(err.Error(), "countries") {
		t.Errorf("unknown layer: %v, want an error listing the layers", err)
	}
	got, err := m.Select([]string{"integrated_care_board", "Countries"})
	if err != nil || len(got) != 2 || got[0].Name != "integrated-care-boards" {
		t.Errorf("select by kind and name: %v %v", got, err)
	}
}

func TestImportAllLayers(t *testing.T) {
	if _, err := os.Stat(filepath.Join(dbtest.DataDir(), "shapefiles")); err != nil {
		t.Skip("no reference data")
	}
	ctx := context.Background()
	db := dbtest.New(t)
	st := store.New(db.Pool)
	var progress bytes.Buffer
	results, err := shapefiles.ImportAll(ctx, st, manifest(t).Layers, dbtest.DataDir(), &progress)
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.AreaKind]int{store.Country: 4, store.NHSEnglandRegion: 7, store.IntegratedCareBoard: 42, store.LocalHealthBoard: 7, store.LondonBorough: 33}
	for _, r := range results {
		if r.Features != want[r.Layer.Kind] || r.Summary.Added != want[r.Layer.Kind] {
			t.Errorf("%s: %d features, %+v; want %d added", r.Layer.Name, r.Features, r.Summary, want[r.Layer.Kind])
		}
	}
	if !strings.Contains(progress.String(), "imported 5 layers: 93 areas") {
		t.Errorf("no summary in progress output:\n%s", progress.String())
	}

	// A second import of the same edition updates in place: same ids, nothing added or removed.
	before, _, err := st.Areas(ctx, store.IntegratedCareBoard, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	r, err := shapefiles.Import(ctx, st, manifest(t).Layers[2], dbtest.DataDir(), &progress)
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary.Added != 0 || r.Summary.Removed != 0 || r.Summary.Updated != 42 {
		t.Errorf("re-import: %+v", r.Summary)
	}
	after, _, _ := st.Areas(ctx, store.IntegratedCareBoard, "", 100)
	for i := range before {
		if before[i].ID != after[i].ID {
			t.Fatalf("%s changed id on re-import", before[i].Code)
		}
	}
	// Every area has every detail level.
	var shapes int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM area_shapes").Scan(&shapes); err != nil {
		t.Fatal(err)
	}
	if wantShapes := 93 * len(gis.Levels()); shapes != wantShapes {
		t.Errorf("%d stored shapes, want %d", shapes, wantShapes)
	}
	var invalid int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM areas WHERE NOT ST_IsValid(geom)").Scan(&invalid); err != nil || invalid != 0 {
		t.Errorf("%d invalid stored geometries (%v)", invalid, err)
	}
}

// copyLayer copies a real layer's files into a temp folder laid out as a data dir, minus
// the extensions in skip, and returns the folder.
func copyLayer(t *testing.T, l shapefiles.Layer, skip ...string) string {
	t.Helper()
	src := l.Path(dbtest.DataDir())
	if _, err := os.Stat(src + ".shp"); err != nil {
		t.Skip("no reference data")
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, l.Stem)
	for _, ext := range []string{".shp", ".shx", ".dbf", ".prj", ".cpg"} {
		if contains(skip, ext) {
			continue
		}
		b, err := os.ReadFile(src + ext)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+ext, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestBadInputChangesNothing imports broken copies of a layer over a good import: each
// fails with an error naming the file and the problem, and the stored layer is untouched.
func TestBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := dbtest.NewWithBoundaries(t)
	st := store.New(db.Pool)
	lhb := manifest(t).Layers[3]
	if lhb.Kind != store.LocalHealthBoard {
		t.Fatalf("manifest order changed: %s", lhb.Name)
	}
	before, err := st.LayerImportedAt(ctx, store.LocalHealthBoard)
	if err != nil {
		t.Fatal(err)
	}

	truncated := copyLayer(t, lhb)
	shpPath := filepath.Join(truncated, lhb.Stem+".shp")
	b, _ := os.ReadFile(shpPath)
	os.WriteFile(shpPath, b[:len(b)/2], 0o644)

	wrongProj := copyLayer(t, lhb)
	os.WriteFile(filepath.Join(wrongProj, lhb.Stem+".prj"), []byte(`PROJCS["NAD_1983_StatePlane_Texas",GEOGCS["GCS_North_American_1983"]]`), 0o644)

	noSums := lhb
	noSums.SHA256.SHP, noSums.SHA256.DBF = "", ""

	cases := []struct {
		name    string
		layer   shapefiles.Layer
		dir     string
		file    string
		problem string
	}{
		{"missing dbf", lhb, copyLayer(t, lhb, ".dbf"), ".dbf", "missing"},
		{"missing shx", noSums, copyLayer(t, lhb, ".shx"), ".shx", "missing"},
		{"missing prj", noSums, copyLayer(t, lhb, ".prj"), ".prj", "missing"},
		{"truncated shp, sums checked", lhb, truncated, ".shp", "sha256"},
		{"truncated shp", noSums, truncated, ".shp", "truncated"},
		{"unknown projection", noSums, wrongProj, ".prj", "projection"},
		{"missing field", func() shapefiles.Layer { l := noSums; l.Fields.Code = "NOPE22CD"; return l }(), copyLayer(t, lhb), ".dbf", "no field NOPE22CD"},
		{"empty folder", lhb, t.TempDir(), ".shp", "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := shapefiles.Import(ctx, st, c.layer, c.dir, &bytes.Buffer{})
			var se *gis.ShapefileError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *gis.ShapefileError", err)
			}
			if !strings.HasSuffix(se.File, c.file) || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("err = %v, want it to name the %s file and say %q", err, c.file, c.problem)
			}
		})
	}
	after, err := st.LayerImportedAt(ctx, store.LocalHealthBoard)
	if err != nil || !after.Equal(before) {
		t.Errorf("the stored layer changed: imported_at %v → %v (%v)", before, after, err)
	}
	areas, total, err := st.Areas(ctx, store.LocalHealthBoard, "", 100)
	if err != nil || total != 7 || len(areas) != 7 {
		t.Errorf("after failed imports: %d areas (%v), want 7", total, err)
	}
}

// TestDuplicateCodeRejected writes a two-square layer whose squares share a code.
func TestDuplicateCodeRejected(t *testing.T) {
	ctx := context.Background()
	db := dbtest.NewWithBoundaries(t)
	st := store.New(db.Pool)
	dir := t.TempDir()
	stem := filepath.Join(dir, "dup")
	w, err := shp.Create(stem+".shp", shp.POLYGON)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.SetFields([]shp.Field{shp.StringField("LHB22CD", 9), shp.StringField("LHB22NM", 40)})
	for i, x := range []float64{300000, 310000} {
		sq := shp.NewPolyLine([][]shp.Point{{{X: x, Y: 200000}, {X: x, Y: 210000}, {X: x + 10000, Y: 210000}, {X: x + 10000, Y: 200000}, {X: x, Y: 200000}}})
		w.Write(&shp.Polygon{Box: sq.Box, NumParts: sq.NumParts, NumPoints: sq.NumPoints, Parts: sq.Parts, Points: sq.Points})
		w.WriteAttribute(i, 0, "W11000099")
		w.WriteAttribute(i, 1, "Square")
	}
	w.Close()
	// go-shp v0.1.1 names the table "<stem>dbf", without the dot.
	if err := os.Rename(stem+"dbf", stem+".dbf"); err != nil {
		t.Fatal(err)
	}
	prj, _ := os.ReadFile(manifest(t).Layers[3].Path(dbtest.DataDir()) + ".prj")
	if len(prj) == 0 {
		t.Skip("no reference data")
	}
	os.WriteFile(stem+".prj", prj, 0o644)

	l := manifest(t).Layers[3]
	l.Stem, l.Folder = "dup", ""
	l.SHA256.SHP, l.SHA256.DBF = "", ""
	l.Fields.WelshName = ""
	_, err = shapefiles.Import(ctx, st, l, dir, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "duplicate code W11000099 in records 1 and 2") || !strings.Contains(err.Error(), "dup.dbf") {
		t.Fatalf("err = %v, want a duplicate-code error naming dup.dbf", err)
	}
	if _, total, _ := st.Areas(ctx, store.LocalHealthBoard, "", 100); total != 7 {
		t.Errorf("%d health boards after the failed import, want the 7 from before", total)
	}
}

func BenchmarkImportAllLayers(b *testing.B) {
	if _, err := os.Stat(filepath.Join(dbtest.DataDir(), "shapefiles")); err != nil {
		b.Skip("no reference data")
	}
	ctx := context.Background()
	db := dbtest.New(b)
	st := store.New(db.Pool)
	layers := manifest(b).Layers
	for b.Loop() {
		if _, err := shapefiles.ImportAll(ctx, st, layers, dbtest.DataDir(), &bytes.Buffer{}); err != nil {
			b.Fatal(err)
		}
	}
}
