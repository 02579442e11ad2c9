package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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
const sqlRepair = `ST_Multi(ST_CollectionExtract(CASE WHEN ST_IsValid(g) THEN g ELSE ST_MakeValid(g) END, 3))`

const sqlUpsertLayer = `
INSERT INTO boundary_layers (kind, title, source_url, licence, attribution, shp_sha256, feature_count, vertex_count, imported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp())
ON CONFLICT (kind) DO UPDATE SET title = EXCLUDED.title, source_url = EXCLUDED.source_url,
    licence = EXCLUDED.licence, attribution = EXCLUDED.attribution, shp_sha256 = EXCLUDED.shp_sha256,
    feature_count = EXCLUDED.feature_count, vertex_count = EXCLUDED.vertex_count, imported_at = EXCLUDED.imported_at`

const sqlOtherKindCodes = `SELECT code || ' (' || kind || ')' FROM areas WHERE code = ANY($1) AND kind <> $2 ORDER BY code`

const sqlUpsertAreas = `
WITH src AS (
    SELECT code, name, welsh_name, NOT ST_IsValid(g) AS invalid, ` + sqlRepair + ` AS geom
    FROM (SELECT code, name, welsh_name, ST_GeomFromWKB(wkb, 27700) AS g FROM import_areas) AS raw
), placed AS (
    SELECT code, name, welsh_name, invalid, geom,
        CASE WHEN ST_Intersects(geom, ST_Centroid(geom)) THEN ST_Centroid(geom) ELSE ST_PointOnSurface(geom) END AS label
    FROM src
), up AS (
    INSERT INTO areas AS a (kind, code, name, welsh_name, geom, area_sq_km, label_point, updated_at)
    SELECT $1, code, name, welsh_name, geom, ST_Area(geom) / 1e6, ST_Transform(label, 4326), now()
    FROM placed
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, welsh_name = EXCLUDED.welsh_name,
        geom = EXCLUDED.geom, area_sq_km = EXCLUDED.area_sq_km, label_point = EXCLUDED.label_point,
        updated_at = now()
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), (SELECT count(*) FILTER (WHERE invalid) FROM placed)
FROM up`

const sqlRemoveAreas = `DELETE FROM areas WHERE kind = $1 AND NOT (code = ANY($2))`

const sqlReplaceParts = `
WITH gone AS (
    DELETE FROM area_parts WHERE area_id IN (SELECT id FROM areas WHERE kind = $1)
)
INSERT INTO area_parts (area_id, geom)
SELECT a.id, (ST_Dump(ST_Subdivide(a.geom, 128))).geom
FROM areas a WHERE a.kind = $1`

const sqlDeleteShapes = `DELETE FROM area_shapes WHERE area_id IN (SELECT id FROM areas WHERE kind = $1)`

// Simplified shapes are repaired in British National Grid, cleared of slivers, then
// turned to EPSG:4326 with exteriors counter-clockwise as RFC 7946 asks.
const sqlInsertShapes = `
INSERT INTO area_shapes (area_id, zoom, geom)
SELECT a.id, s.zoom, ST_ForcePolygonCCW(ST_Transform(drop_slivers(` + sqlRepair + `, s.min_area), 4326))
FROM (SELECT code, zoom, min_area, ST_GeomFromWKB(wkb, 27700) AS g FROM import_shapes) AS s
JOIN areas a ON a.code = s.code AND a.kind = $1`

// ReplaceLayer replaces the stored layer with li in one transaction: areas are matched
// by code (so their ids, and anything that refers to them, survive a new edition),
// missing ones removed, geometry repaired, and the output shapes rebuilt. On any error
// nothing changes.
func (s *Store) ReplaceLayer(ctx context.Context, li LayerImport) (ImportSummary, error) {
	var sum ImportSummary
	kind := li.Layer.Kind
	codes := make([]string, len(li.Areas))
	for i, a := range li.Areas {
		codes[i] = a.Code
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
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
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE import_areas (code text, name text, welsh_name text, wkb bytea) ON COMMIT DROP;
			CREATE TEMP TABLE import_shapes (code text, zoom smallint, min_area double precision, wkb bytea) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_areas"}, []string{"code", "name", "welsh_name", "wkb"},
			pgx.CopyFromSlice(len(li.Areas), func(i int) ([]any, error) {
				a := li.Areas[i]
				return []any{a.Code, a.Name, a.WelshName, a.WKB}, nil
			})); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_shapes"}, []string{"code", "zoom", "min_area", "wkb"},
			pgx.CopyFromSlice(len(li.Shapes), func(i int) ([]any, error) {
				sh := li.Shapes[i]
				return []any{sh.Code, int16(sh.Level), sh.MinArea, sh.WKB}, nil
			})); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, sqlUpsertAreas, kind).Scan(&sum.Added, &sum.Updated, &sum.Repaired); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sqlRemoveAreas, kind, codes)
		if err != nil {
			return err
		}
		sum.Removed = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, sqlReplaceParts, kind); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlDeleteShapes, kind); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlInsertShapes, kind)
		return err
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
