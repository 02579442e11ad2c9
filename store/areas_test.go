package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"caregraph/gis"
	"caregraph/store"
	"caregraph/store/dbtest"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
)

func square(t *testing.T, x, y, size float64) []byte {
	t.Helper()
	mp := geom.NewMultiPolygon(geom.XY).MustSetCoords([][][]geom.Coord{{{{x, y}, {x + size, y}, {x + size, y + size}, {x, y + size}, {x, y}}}})
	b, err := wkb.Marshal(mp, wkb.NDR)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bowtie is a self-intersecting ring: invalid, repaired on import.
func bowtie(t *testing.T, x, y, size float64) []byte {
	t.Helper()
	mp := geom.NewMultiPolygon(geom.XY).MustSetCoords([][][]geom.Coord{{{{x, y}, {x + size, y + size}, {x + size, y}, {x, y + size}, {x, y}}}})
	b, err := wkb.Marshal(mp, wkb.NDR)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func layer(t *testing.T, codes ...string) store.LayerImport {
	li := store.LayerImport{Layer: store.BoundaryLayer{Kind: store.LocalHealthBoard, Title: "test", SourceURL: "https://example.org", Licence: "OGL", Attribution: "test data", SHA256: "x"}}
	for i, c := range codes {
		// Squares 10 km across in mid Wales (British National Grid metres).
		li.Areas = append(li.Areas, store.AreaImport{Code: c, Name: "Area " + c, WKB: square(t, 290000+float64(i)*10000, 260000, 10000)})
		li.Shapes = append(li.Shapes, store.ShapeImport{Code: c, Level: 6, WKB: square(t, 290000+float64(i)*10000, 260000, 10000)}, store.ShapeImport{Code: c, Level: gis.FullDetail, WKB: square(t, 290000+float64(i)*10000, 260000, 10000)})
	}
	return li
}

func TestReplaceLayer(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	st := store.New(db.Pool)

	sum, err := st.ReplaceLayer(ctx, layer(t, "W1", "W2", "W3"))
	if err != nil {
		t.Fatal(err)
	}
	if sum != (store.ImportSummary{Added: 3}) {
		t.Errorf("first import: %+v", sum)
	}
	w2, err := st.AreaByCode(ctx, store.LocalHealthBoard, "W2")
	if err != nil {
		t.Fatal(err)
	}
	if w2.AreaSqKm < 99.99 || w2.AreaSqKm > 100.01 {
		t.Errorf("a 10 km square measures %.3f km²", w2.AreaSqKm)
	}

	// A new edition drops W1, keeps W2 and W3 (same ids), adds W4, and carries one
	// self-intersecting ring that is repaired.
	next := layer(t, "W2", "W3", "W4")
	next.Areas[2].WKB = bowtie(t, 330000, 260000, 10000)
	sum, err = st.ReplaceLayer(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if sum != (store.ImportSummary{Added: 1, Updated: 2, Removed: 1, Repaired: 1}) {
		t.Errorf("second import: %+v", sum)
	}
	again, err := st.AreaByCode(ctx, store.LocalHealthBoard, "W2")
	if err != nil || again.ID != w2.ID {
		t.Errorf("W2 id %d → %d (%v); ids must survive a new edition", w2.ID, again.ID, err)
	}
	if _, err := st.AreaByCode(ctx, store.LocalHealthBoard, "W1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("W1 after removal: %v", err)
	}
	var valid bool
	if err := db.Pool.QueryRow(ctx, "SELECT bool_and(ST_IsValid(geom)) FROM areas").Scan(&valid); err != nil || !valid {
		t.Errorf("stored geometry valid = %v (%v)", valid, err)
	}
	shapes, err := st.Shapes(ctx, []store.ShapeKey{{AreaID: w2.ID, Level: 6}, {AreaID: w2.ID, Level: gis.FullDetail}, {AreaID: w2.ID, Level: 7}})
	if err != nil {
		t.Fatal(err)
	}
	if len(shapes) != 2 || !strings.Contains(string(shapes[store.ShapeKey{AreaID: w2.ID, Level: 6}]), "MultiPolygon") {
		t.Errorf("shapes: %d found (levels 6 and full expected)", len(shapes))
	}

	// Broken geometry fails the whole import and leaves the stored layer as it was.
	broken := layer(t, "W2", "W5")
	broken.Areas[1].WKB = []byte{1, 2, 3}
	if _, err := st.ReplaceLayer(ctx, broken); err == nil {
		t.Fatal("an import with broken geometry succeeded")
	}
	areas, total, err := st.Areas(ctx, store.LocalHealthBoard, "", 10)
	if err != nil || total != 3 || areas[0].Code != "W2" || areas[2].Code != "W4" {
		t.Errorf("after a failed import: %d areas %v (%v), want W2 W3 W4", total, areas, err)
	}

	// A code held by another layer is a conflict.
	other := layer(t, "W3")
	other.Layer.Kind = store.Country
	if _, err := st.ReplaceLayer(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("code clash across layers: %v, want ErrConflict", err)
	}
}

func TestAreasAtUsesSpatialIndex(t *testing.T) {
	ctx := context.Background()
	db := dbtest.NewWithBoundaries(t)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// With 93 rows the planner may rightly scan; forbidding that shows whether the
	// predicate can use the index at all (it could not if the column were transformed).
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "RESET enable_seqscan")
	rows, err := conn.Query(ctx, "EXPLAIN SELECT area_id FROM area_parts WHERE ST_Intersects(geom, ST_Transform(ST_SetSRID(ST_MakePoint(0.14, 52.17), 4326), 27700))")
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan.WriteString(line + "\n")
	}
	if !strings.Contains(plan.String(), "area_parts_geom_idx") {
		t.Errorf("point lookup does not use the GiST index:\n%s", plan.String())
	}
}
