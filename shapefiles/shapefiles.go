// Package shapefiles describes the boundary layers caregraph imports (manifest.json) and
// imports them into PostGIS: read with gis, simplified per zoom level as a coverage, and
// stored through the store in one transaction per layer.
package shapefiles

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"caregraph/gis"
	"caregraph/store"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
)

// storedSRID is the projection areas are kept in.
const storedSRID = 27700

//go:embed manifest.json
var manifestJSON []byte

// Manifest lists the boundary layers.
type Manifest struct {
	Layers []Layer `json:"layers"`
}

// Layer is one boundary layer: where its files are, what it is and how to read it.
type Layer struct {
	Name        string         `json:"name"`
	Kind        store.AreaKind `json:"kind"`
	Title       string         `json:"title"`
	Publisher   string         `json:"publisher"`
	Edition     string         `json:"edition"`
	Folder      string         `json:"folder"`
	Stem        string         `json:"stem"`
	SourceURL   string         `json:"sourceUrl"`
	Licence     string         `json:"licence"`
	Attribution string         `json:"attribution"`
	SRID        int            `json:"srid"`
	Fields      struct {
		Code      string `json:"code"`
		Name      string `json:"name"`
		WelshName string `json:"welshName"`
	} `json:"fields"`
	SHA256 struct {
		SHP string `json:"shp"`
		DBF string `json:"dbf"`
	} `json:"sha256"`
	Features int `json:"features"`
}

// LoadManifest returns the embedded manifest.
func LoadManifest() (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return m, fmt.Errorf("shapefiles/manifest.json: %w", err)
	}
	for _, l := range m.Layers {
		if !l.Kind.Valid() {
			return m, fmt.Errorf("shapefiles/manifest.json: layer %s has unknown kind %q", l.Name, l.Kind)
		}
	}
	return m, nil
}

// Select returns the layers named (by name or kind), or all when names is empty.
func (m Manifest) Select(names []string) ([]Layer, error) {
	if len(names) == 0 {
		return m.Layers, nil
	}
	var out []Layer
	for _, n := range names {
		found := false
		for _, l := range m.Layers {
			if strings.EqualFold(n, l.Name) || strings.EqualFold(n, string(l.Kind)) {
				out = append(out, l)
				found = true
				break
			}
		}
		if !found {
			known := make([]string, len(m.Layers))
			for i, l := range m.Layers {
				known[i] = l.Name
			}
			return nil, fmt.Errorf("unknown layer %q (layers: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// Path finds the layer's files under dir: dir/shapefiles/<folder>/<stem>, dir/<folder>/<stem>
// or dir/<stem>. It returns the first whose .shp exists, else the first candidate.
func (l Layer) Path(dir string) string {
	candidates := []string{
		filepath.Join(dir, "shapefiles", l.Folder, l.Stem),
		filepath.Join(dir, l.Folder, l.Stem),
		filepath.Join(dir, l.Stem),
	}
	for _, c := range candidates {
		if _, err := os.Stat(c + ".shp"); err == nil {
			return c
		}
	}
	return candidates[0]
}

// Result reports one layer's import.
type Result struct {
	Layer    Layer
	Features int
	Vertices int
	Summary  store.ImportSummary
	Duration time.Duration
}

// Import reads the layer's files under dir and replaces the stored layer with them.
// Nothing is written unless the whole layer reads cleanly. Progress goes to progress.
func Import(ctx context.Context, st *store.Store, l Layer, dir string, progress io.Writer) (Result, error) {
	start := time.Now()
	stem := l.Path(dir)
	if err := checkSums(stem, l); err != nil {
		return Result{}, err
	}
	sf, err := gis.ReadShapefile(stem)
	if err != nil {
		return Result{}, err
	}
	// Areas are stored as published in British National Grid; another projection would
	// need reprojecting first, which no current layer needs.
	if sf.SRID != storedSRID || (l.SRID != 0 && l.SRID != storedSRID) {
		return Result{}, &gis.ShapefileError{File: stem + ".prj", Problem: fmt.Sprintf("projection is EPSG:%d; boundary layers must be in EPSG:%d (British National Grid)", sf.SRID, storedSRID)}
	}
	li, vertices, err := buildImport(sf, l)
	if err != nil {
		return Result{}, err
	}
	fmt.Fprintf(progress, "%s: read %d areas (%d vertices) from %s\n", l.Name, len(li.Areas), vertices, stem+".shp")
	sum, err := st.ReplaceLayer(ctx, li)
	if err != nil {
		return Result{}, err
	}
	r := Result{Layer: l, Features: len(li.Areas), Vertices: vertices, Summary: sum, Duration: time.Since(start)}
	fmt.Fprintf(progress, "%s: stored %d areas (%d added, %d updated, %d removed, %d repaired) in %s\n",
		l.Name, r.Features, sum.Added, sum.Updated, sum.Removed, sum.Repaired, r.Duration.Round(time.Millisecond))
	return r, nil
}

func buildImport(sf *gis.Shapefile, l Layer) (store.LayerImport, int, error) {
	for _, f := range []string{l.Fields.Code, l.Fields.Name, l.Fields.WelshName} {
		if f != "" && !hasField(sf.Fields, f) {
			return store.LayerImport{}, 0, &gis.ShapefileError{
				File:    strings.TrimSuffix(sf.Path, ".shp") + ".dbf",
				Problem: fmt.Sprintf("no field %s (fields: %s)", f, strings.Join(sf.Fields, ", ")),
			}
		}
	}
	dbf := strings.TrimSuffix(sf.Path, ".shp") + ".dbf"
	li := store.LayerImport{Layer: store.BoundaryLayer{
		Kind: l.Kind, Title: l.Title, SourceURL: l.SourceURL, Licence: l.Licence,
		Attribution: l.Attribution, SHA256: l.SHA256.SHP,
	}}
	seen := map[string]int{}
	geoms := make([]*geom.MultiPolygon, len(sf.Features))
	vertices := 0
	for i, f := range sf.Features {
		code := f.Attributes[l.Fields.Code]
		if code == "" {
			return li, 0, &gis.ShapefileError{File: dbf, Problem: fmt.Sprintf("record %d has an empty %s", i+1, l.Fields.Code)}
		}
		if prev, dup := seen[code]; dup {
			return li, 0, &gis.ShapefileError{File: dbf, Problem: fmt.Sprintf("duplicate code %s in records %d and %d", code, prev, i+1)}
		}
		seen[code] = i + 1
		name := f.Attributes[l.Fields.Name]
		if name == "" {
			return li, 0, &gis.ShapefileError{File: dbf, Problem: fmt.Sprintf("record %d (%s) has an empty %s", i+1, code, l.Fields.Name)}
		}
		var welsh *string
		if w := f.Attributes[l.Fields.WelshName]; l.Fields.WelshName != "" && w != "" {
			welsh = &w
		}
		b, err := wkb.Marshal(f.Geometry, wkb.NDR)
		if err != nil {
			return li, 0, &gis.ShapefileError{File: sf.Path, Problem: fmt.Sprintf("record %d (%s): %v", i+1, code, err)}
		}
		li.Areas = append(li.Areas, store.AreaImport{Code: code, Name: name, WelshName: welsh, WKB: b})
		geoms[i] = f.Geometry
		vertices += f.Vertices
	}
	li.Layer.VertexCount = vertices
	shapes, err := simplifyLevels(geoms, li.Areas)
	if err != nil {
		return li, 0, err
	}
	li.Shapes = shapes
	return li, vertices, nil
}

// simplifyLevels simplifies the coverage once per zoom level, the levels spread over the
// machine's cores.
func simplifyLevels(geoms []*geom.MultiPolygon, areas []store.AreaImport) ([]store.ShapeImport, error) {
	levels := gis.Levels()
	perLevel := make([][]store.ShapeImport, len(levels))
	errs := make([]error, len(levels))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, level := range levels {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tol := gis.Tolerance(level)
			simplified := gis.SimplifyCoverage(geoms, tol)
			out := make([]store.ShapeImport, 0, len(simplified))
			for j, g := range simplified {
				b, err := wkb.Marshal(g, wkb.NDR)
				if err != nil {
					errs[i] = fmt.Errorf("simplify %s at zoom %d: %w", areas[j].Code, level, err)
					return
				}
				// Slivers under a hundredth of the tolerance squared are repair artefacts.
				out = append(out, store.ShapeImport{Code: areas[j].Code, Level: level, WKB: b, MinArea: tol * tol / 100})
			}
			perLevel[i] = out
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var all []store.ShapeImport
	for _, s := range perLevel {
		all = append(all, s...)
	}
	return all, nil
}

func hasField(fields []string, f string) bool {
	for _, x := range fields {
		if x == f {
			return true
		}
	}
	return false
}

// checkSums compares the .shp and .dbf with the manifest's sums, so that an edition that
// changed under the same file name is noticed rather than imported as the old one.
func checkSums(stem string, l Layer) error {
	for _, c := range []struct{ ext, want string }{{".shp", l.SHA256.SHP}, {".dbf", l.SHA256.DBF}} {
		if c.want == "" {
			continue
		}
		f, err := os.Open(stem + c.ext)
		if errors.Is(err, os.ErrNotExist) {
			return &gis.ShapefileError{File: stem + c.ext, Problem: "missing (a shapefile needs .shp, .shx, .dbf and .prj)"}
		}
		if err != nil {
			return &gis.ShapefileError{File: stem + c.ext, Problem: err.Error()}
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return &gis.ShapefileError{File: stem + c.ext, Problem: err.Error()}
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != c.want {
			return &gis.ShapefileError{File: stem + c.ext, Problem: fmt.Sprintf("sha256 %s does not match the manifest's %s: a different edition? Update shapefiles/manifest.json (see docs/geography.md)", got, c.want)}
		}
	}
	return nil
}

// ImportAll imports layers one after the other and prints a summary. It stops at the
// first failure; layers imported before it stay imported (each is its own transaction).
func ImportAll(ctx context.Context, st *store.Store, layers []Layer, dir string, progress io.Writer) ([]Result, error) {
	start := time.Now()
	var results []Result
	for _, l := range layers {
		r, err := Import(ctx, st, l, dir, progress)
		if err != nil {
			return results, fmt.Errorf("import layer %s: %w", l.Name, err)
		}
		results = append(results, r)
	}
	areas, vertices := 0, 0
	for _, r := range results {
		areas += r.Features
		vertices += r.Vertices
	}
	fmt.Fprintf(progress, "imported %d layers: %d areas, %d vertices in %s\n", len(results), areas, vertices, time.Since(start).Round(time.Millisecond))
	return results, nil
}
