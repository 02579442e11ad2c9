package gis

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadShapefile feeds arbitrary .shp and .dbf bytes to ReadShapefile, which must return
// a layer or a *ShapefileError and never panic. The .prj is fixed, and the .shx is built to
// agree with the fuzzed .shp wherever its records can be walked, so that inputs get past
// the index check and reach the decoding (a fixed .shx would reject almost every input).
func FuzzReadShapefile(f *testing.F) {
	seed := shpTwoSquares(f, f.TempDir(), "Gŵyr", "")
	seedSHP, err := os.ReadFile(seed + ".shp")
	if err != nil {
		f.Fatal(err)
	}
	seedDBF, err := os.ReadFile(seed + ".dbf")
	if err != nil {
		f.Fatal(err)
	}
	seedSHX, err := os.ReadFile(seed + ".shx")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seedSHP, seedDBF)
	f.Add(seedSHP[:len(seedSHP)-40], seedDBF)                                        // cut in the middle of record 2
	f.Add(seedSHP[:150], seedDBF[:len(seedDBF)/2])                                   // both cut short
	f.Add(seedSHP, append(seedDBF[:len(seedDBF):len(seedDBF)], seedDBF[161:219]...)) // trailing record beyond the count

	// One directory per worker process, overwritten by each input: the fuzz function runs
	// sequentially within a worker, and creating and removing a directory per input
	// (t.TempDir) costs ten times the read itself on this kind of file system.
	stem := filepath.Join(f.TempDir(), "fuzz")
	f.Fuzz(func(t *testing.T, shpData, dbfData []byte) {
		shx := seedSHX
		if len(shpData) >= 100 {
			shx = shpIndexFor(shpData)
		}
		for ext, data := range map[string][]byte{".shp": shpData, ".shx": shx, ".dbf": dbfData, ".prj": []byte(shpTestPRJ)} {
			if err := os.WriteFile(stem+ext, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sf, err := ReadShapefile(stem)
		if err != nil {
			var se *ShapefileError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is a %T, not a *ShapefileError", err, err)
			}
			return
		}
		for i, feat := range sf.Features {
			if feat.Geometry == nil || feat.Geometry.NumPolygons() == 0 || feat.Geometry.SRID() != sf.SRID {
				t.Fatalf("feature %d: geometry %v", i, feat.Geometry)
			}
			if len(feat.Attributes) != len(sf.Fields) {
				t.Fatalf("feature %d: %d attributes for %d fields", i, len(feat.Attributes), len(sf.Fields))
			}
		}
	})
}
