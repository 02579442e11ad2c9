package store

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// LayerImport is a whole boundary layer ready to replace the stored one.
type LayerImport struct {
	Layer BoundaryLayer
	Areas []AreaImport
	// Shapes are the output boundaries per detail level, in EPSG:27700.
	Shapes []ShapeImport
}

// AreaImport is one area with its geometry as WKB in EPSG:27700.
type AreaImport struct {
	Code      string
	Name      string
	WelshName *string
	WKB       []byte
}

// ShapeImport is one area's simplified geometry as WKB in EPSG:27700.
type ShapeImport struct {
	Code  string
	Level int
	WKB   []byte
	// MinArea (m²): polygons and holes smaller than this after repair are dropped.
	MinArea float64
}

// ImportSummary counts what ReplaceLayer changed.
type ImportSummary struct {
	Added, Updated, Removed, Repaired int
}

// Repaired geometry is kept to its polygons: MakeValid can add stray lines and points.
// The "structure" method rebuilds polygons from their rings, which suits boundaries and
// runs several times faster than the default on large multipolygons.
const sqlRepair = `ST_Multi(ST_CollectionExtract(CASE WHEN ST_IsValid(g) THEN g ELSE ST_MakeValid(g, 'method=structure') END, 3))`

// sqlPrepareAreas repairs each area and derives what is stored beside it: its area, a
// label point inside it (the centroid when inside, else a point on the surface) and the
// pieces of at most 128 vertices that point lookups test.
const sqlPrepareAreas = `
SELECT i, NOT ST_IsValid(g), ST_AsBinary(r), ST_Area(r) / 1e6,
    ST_AsBinary(ST_Transform(CASE WHEN ST_Intersects(r, ST_Centroid(r)) THEN ST_Centroid(r) ELSE ST_PointOnSurface(r) END, 4326)),
    ARRAY(SELECT ST_AsBinary(d) FROM ST_Subdivide(r, 128) AS d)
FROM (
    SELECT i, g, ` + sqlRepair + ` AS r
    FROM (SELECT i, ST_GeomFromWKB(w, 27700) AS g FROM unnest($1::bytea[]) WITH ORDINALITY AS u(w, i)) AS raw
) AS repaired`

// sqlPrepareShapes repairs simplified shapes in British National Grid, clears slivers,
// and turns them to EPSG:4326 with exteriors counter-clockwise as RFC 7946 asks.
const sqlPrepareShapes = `
SELECT i, ST_AsBinary(ST_ForcePolygonCCW(ST_Transform(drop_slivers(` + sqlRepair + `, m), 4326)))
FROM (SELECT i, m, ST_GeomFromWKB(w, 27700) AS g
      FROM unnest($1::bytea[], $2::float8[]) WITH ORDINALITY AS u(w, m, i)) AS raw`

type preparedArea struct {
	repaired bool
	wkb      []byte
	sqKm     float64
	label    []byte
	parts    [][]byte
}

// prepare runs the geometry work of an import (repair, areas, subdivision, output
// shapes) as plain SELECTs spread over several connections, before the transaction that
// writes, so the writing transaction is short and the work uses every core.
func (s *Store) prepare(ctx context.Context, li LayerImport) ([]preparedArea, [][]byte, error) {
	workers := runtime.GOMAXPROCS(0)
	if _, inTx := s.db.(pgx.Tx); inTx {
		workers = 1 // a transaction is one connection
	}
	areas := make([]preparedArea, len(li.Areas))
	shapes := make([][]byte, len(li.Shapes))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, chunk := range chunks(len(li.Areas), func(i int) int { return len(li.Areas[i].WKB) }, 2*workers) {
		g.Go(func() error {
			wkbs := make([][]byte, len(chunk))
			for j, i := range chunk {
				wkbs[j] = li.Areas[i].WKB
			}
			rows, err := s.db.Query(ctx, sqlPrepareAreas, wkbs)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var ord int64
				var p preparedArea
				if err := rows.Scan(&ord, &p.repaired, &p.wkb, &p.sqKm, &p.label, &p.parts); err != nil {
					return err
				}
				areas[chunk[ord-1]] = p
			}
			return rows.Err()
		})
	}
	for _, chunk := range chunks(len(li.Shapes), func(i int) int { return len(li.Shapes[i].WKB) }, 4*workers) {
		g.Go(func() error {
			wkbs := make([][]byte, len(chunk))
			minAreas := make([]float64, len(chunk))
			for j, i := range chunk {
				wkbs[j], minAreas[j] = li.Shapes[i].WKB, li.Shapes[i].MinArea
			}
			rows, err := s.db.Query(ctx, sqlPrepareShapes, wkbs, minAreas)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var ord int64
				var b []byte
				if err := rows.Scan(&ord, &b); err != nil {
					return err
				}
				shapes[chunk[ord-1]] = b
			}
			return rows.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return areas, shapes, nil
}

// chunks splits indexes 0..n-1 into at most k groups of similar total size, largest
// items dealt first, so that parallel workers finish together.
func chunks(n int, size func(int) int, k int) [][]int {
	if n == 0 {
		return nil
	}
	k = max(1, min(k, n))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return size(order[a]) > size(order[b]) })
	out := make([][]int, k)
	load := make([]int, k)
	for _, i := range order {
		least := 0
		for c := 1; c < k; c++ {
			if load[c] < load[least] {
				least = c
			}
		}
		out[least] = append(out[least], i)
		load[least] += size(i)
	}
	return out
}

const sqlUpsertLayer = `
INSERT INTO boundary_layers (kind, title, source_url, licence, attribution, shp_sha256, feature_count, vertex_count, imported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp())
ON CONFLICT (kind) DO UPDATE SET title = EXCLUDED.title, source_url = EXCLUDED.source_url,
    licence = EXCLUDED.licence, attribution = EXCLUDED.attribution, shp_sha256 = EXCLUDED.shp_sha256,
    feature_count = EXCLUDED.feature_count, vertex_count = EXCLUDED.vertex_count, imported_at = EXCLUDED.imported_at`

const sqlOtherKindCodes = `SELECT code || ' (' || kind || ')' FROM areas WHERE code = ANY($1) AND kind <> $2 ORDER BY code`

const sqlCreateImportTables = `
CREATE TEMP TABLE import_areas (code text, name text, welsh_name text, wkb bytea, area_sq_km double precision, label bytea) ON COMMIT DROP;
CREATE TEMP TABLE import_parts (code text, wkb bytea) ON COMMIT DROP;
CREATE TEMP TABLE import_shapes (code text, zoom smallint, wkb bytea) ON COMMIT DROP`

const sqlUpsertAreas = `
WITH up AS (
    INSERT INTO areas AS a (kind, code, name, welsh_name, geom, area_sq_km, label_point, updated_at)
    SELECT $1, code, name, welsh_name, ST_GeomFromWKB(wkb, 27700), area_sq_km, ST_GeomFromWKB(label, 4326), now()
    FROM import_areas
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, welsh_name = EXCLUDED.welsh_name,
        geom = EXCLUDED.geom, area_sq_km = EXCLUDED.area_sq_km, label_point = EXCLUDED.label_point,
        updated_at = now()
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up`

const sqlRemoveAreas = `DELETE FROM areas WHERE kind = $1 AND NOT (code = ANY($2))`

const sqlDeleteParts = `DELETE FROM area_parts WHERE area_id IN (SELECT id FROM areas WHERE kind = $1)`

const sqlInsertParts = `
INSERT INTO area_parts (area_id, geom)
SELECT a.id, ST_GeomFromWKB(p.wkb, 27700)
FROM import_parts p JOIN areas a ON a.code = p.code AND a.kind = $1`

const sqlDeleteShapes = `DELETE FROM area_shapes WHERE area_id IN (SELECT id FROM areas WHERE kind = $1)`

const sqlInsertShapes = `
INSERT INTO area_shapes (area_id, zoom, geom)
SELECT a.id, s.zoom, ST_Multi(ST_GeomFromWKB(s.wkb, 4326))
FROM import_shapes s JOIN areas a ON a.code = s.code AND a.kind = $1`

// ReplaceLayer replaces the stored layer with li in one transaction: areas are matched
// by code (so their ids, and anything that refers to them, survive a new edition),
// missing ones removed, geometry repaired, and the lookup pieces and output shapes
// rebuilt. On any error nothing changes.
func (s *Store) ReplaceLayer(ctx context.Context, li LayerImport) (ImportSummary, error) {
	var sum ImportSummary
	kind := li.Layer.Kind
	prepared, shapes, err := s.prepare(ctx, li)
	if err != nil {
		return sum, fmt.Errorf("replace layer %s: prepare geometry: %w", kind, err)
	}
	codes := make([]string, len(li.Areas))
	for i, a := range li.Areas {
		codes[i] = a.Code
		if prepared[i].repaired {
			sum.Repaired++
		}
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		l := li.Layer
		if _, err := tx.Exec(ctx, sqlUpsertLayer, kind, l.Title, l.SourceURL, l.Licence, l.Attribution, l.SHA256, len(li.Areas), l.VertexCount); err != nil {
			return err
		}
		clash, err := collectStrings(ctx, tx, sqlOtherKindCodes, codes, kind)
		if err != nil {
			return err
		}
		if len(clash) > 0 {
			return fmt.Errorf("%w: codes already used by another layer: %s", ErrConflict, strings.Join(clash, ", "))
		}
		if _, err := tx.Exec(ctx, sqlCreateImportTables); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_areas"}, []string{"code", "name", "welsh_name", "wkb", "area_sq_km", "label"},
			pgx.CopyFromSlice(len(li.Areas), func(i int) ([]any, error) {
				a, p := li.Areas[i], prepared[i]
				return []any{a.Code, a.Name, a.WelshName, p.wkb, p.sqKm, p.label}, nil
			})); err != nil {
			return err
		}
		var parts [][]any
		for i, p := range prepared {
			for _, part := range p.parts {
				parts = append(parts, []any{li.Areas[i].Code, part})
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_parts"}, []string{"code", "wkb"}, pgx.CopyFromRows(parts)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_shapes"}, []string{"code", "zoom", "wkb"},
			pgx.CopyFromSlice(len(li.Shapes), func(i int) ([]any, error) {
				return []any{li.Shapes[i].Code, int16(li.Shapes[i].Level), shapes[i]}, nil
			})); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, sqlUpsertAreas, kind).Scan(&sum.Added, &sum.Updated); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sqlRemoveAreas, kind, codes)
		if err != nil {
			return err
		}
		sum.Removed = int(tag.RowsAffected())
		for _, q := range []string{sqlDeleteParts, sqlInsertParts, sqlDeleteShapes, sqlInsertShapes} {
			if _, err := tx.Exec(ctx, q, kind); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ImportSummary{}, fmt.Errorf("replace layer %s: %w", kind, err)
	}
	return sum, nil
}

func collectStrings(ctx context.Context, db DB, sql string, args ...any) ([]string, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
