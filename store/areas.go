package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AreaKind names a boundary layer.
type AreaKind string

// The area kinds, in the order areasAt lists them.
const (
	Country             AreaKind = "country"
	NHSEnglandRegion    AreaKind = "nhs_england_region"
	LocalHealthBoard    AreaKind = "local_health_board"
	IntegratedCareBoard AreaKind = "integrated_care_board"
	LondonBorough       AreaKind = "london_borough"
)

// AreaKinds lists every kind.
var AreaKinds = []AreaKind{Country, NHSEnglandRegion, LocalHealthBoard, IntegratedCareBoard, LondonBorough}

// rank orders kinds broadest first: country, then region or health board, then ICB,
// then borough (the order of areasAt).
func (k AreaKind) rank() int {
	switch k {
	case Country:
		return 1
	case NHSEnglandRegion, LocalHealthBoard:
		return 2
	case IntegratedCareBoard:
		return 3
	default:
		return 4
	}
}

// Valid reports whether k is a known kind.
func (k AreaKind) Valid() bool {
	for _, x := range AreaKinds {
		if x == k {
			return true
		}
	}
	return false
}

// Area is a health geography area without its boundary.
type Area struct {
	ID          int64
	Kind        AreaKind
	Code        string
	Name        string
	WelshName   *string
	AreaSqKm    float64
	Centroid    []byte // GeoJSON Point
	Attribution string
}

// BoundaryLayer describes an imported layer.
type BoundaryLayer struct {
	Kind         AreaKind
	Title        string
	SourceURL    string
	Licence      string
	Attribution  string
	SHA256       string
	FeatureCount int
	VertexCount  int
	ImportedAt   time.Time
}

const areaColumns = `a.id, a.kind, a.code, a.name, a.welsh_name, a.area_sq_km, ST_AsGeoJSON(a.label_point, 6), l.attribution`

func scanArea(row pgx.CollectableRow) (Area, error) {
	var a Area
	var centroid string
	err := row.Scan(&a.ID, &a.Kind, &a.Code, &a.Name, &a.WelshName, &a.AreaSqKm, &centroid, &a.Attribution)
	a.Centroid = []byte(centroid)
	return a, err
}

// The total rides along as a column so that a page costs one statement.
const sqlAreas = `
SELECT ` + areaColumns + `, (SELECT count(*) FROM areas WHERE kind = $1)
FROM areas a JOIN boundary_layers l ON l.kind = a.kind
WHERE a.kind = $1 AND a.code > $2
ORDER BY a.code
LIMIT $3`

// Areas returns up to limit areas of kind ordered by code, starting after the code
// afterCode (empty for the first page), and how many areas the kind has in all.
func (s *Store) Areas(ctx context.Context, kind AreaKind, afterCode string, limit int) ([]Area, int, error) {
	rows, err := s.db.Query(ctx, sqlAreas, kind, afterCode, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list areas: %w", err)
	}
	var total int
	areas, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Area, error) {
		var a Area
		var centroid string
		err := row.Scan(&a.ID, &a.Kind, &a.Code, &a.Name, &a.WelshName, &a.AreaSqKm, &centroid, &a.Attribution, &total)
		a.Centroid = []byte(centroid)
		return a, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list areas: %w", err)
	}
	if len(areas) == 0 && afterCode == "" {
		return areas, 0, nil
	}
	if len(areas) == 0 {
		// A page past the end carries no row to read the total from.
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM areas WHERE kind = $1`, kind).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count areas: %w", err)
		}
	}
	return areas, total, nil
}

const sqlAreaByCode = `
SELECT ` + areaColumns + `
FROM areas a JOIN boundary_layers l ON l.kind = a.kind
WHERE a.kind = $1 AND a.code = $2`

// AreaByCode returns the area of kind with the GSS code, or ErrNotFound.
func (s *Store) AreaByCode(ctx context.Context, kind AreaKind, code string) (Area, error) {
	rows, err := s.db.Query(ctx, sqlAreaByCode, kind, code)
	if err != nil {
		return Area{}, fmt.Errorf("area %s: %w", code, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanArea)
	if errors.Is(err, pgx.ErrNoRows) {
		return Area{}, ErrNotFound
	}
	if err != nil {
		return Area{}, fmt.Errorf("area %s: %w", code, err)
	}
	return a, nil
}

const sqlAreasByCode = `
SELECT ` + areaColumns + `
FROM areas a JOIN boundary_layers l ON l.kind = a.kind
WHERE a.code = ANY($1)`

// AreasByCode returns the areas with the given GSS codes, of any kind, in no particular order.
func (s *Store) AreasByCode(ctx context.Context, codes []string) ([]Area, error) {
	rows, err := s.db.Query(ctx, sqlAreasByCode, codes)
	if err != nil {
		return nil, fmt.Errorf("areas by code: %w", err)
	}
	areas, err := pgx.CollectRows(rows, scanArea)
	if err != nil {
		return nil, fmt.Errorf("areas by code: %w", err)
	}
	return areas, nil
}

// The query point is transformed into the column's SRID so that the GiST index on the
// subdivided parts serves the lookup; ST_Intersects counts a point on a border as inside.
const sqlAreasAt = `
SELECT ` + areaColumns + `
FROM areas a JOIN boundary_layers l ON l.kind = a.kind
WHERE a.id IN (
    SELECT p.area_id FROM area_parts p
    WHERE ST_Intersects(p.geom, ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 27700)))
ORDER BY CASE a.kind
    WHEN 'country' THEN 1
    WHEN 'nhs_england_region' THEN 2
    WHEN 'local_health_board' THEN 2
    WHEN 'integrated_care_board' THEN 3
    ELSE 4 END, a.code`

// AreasAt returns every area containing the WGS 84 point, broadest first.
func (s *Store) AreasAt(ctx context.Context, lat, lon float64) ([]Area, error) {
	rows, err := s.db.Query(ctx, sqlAreasAt, lon, lat)
	if err != nil {
		return nil, fmt.Errorf("areas at point: %w", err)
	}
	areas, err := pgx.CollectRows(rows, scanArea)
	if err != nil {
		return nil, fmt.Errorf("areas at point: %w", err)
	}
	return areas, nil
}

// ShapeKey identifies an area's boundary at one detail level.
type ShapeKey struct {
	AreaID int64
	Level  int
}

const sqlShapes = `
SELECT s.area_id, s.zoom, ST_AsGeoJSON(s.geom, 6)
FROM area_shapes s
JOIN unnest($1::bigint[], $2::smallint[]) AS k(area_id, zoom) ON k.area_id = s.area_id AND k.zoom = s.zoom`

// Shapes returns the GeoJSON geometry of each requested area and level.
func (s *Store) Shapes(ctx context.Context, keys []ShapeKey) (map[ShapeKey][]byte, error) {
	ids := make([]int64, len(keys))
	levels := make([]int16, len(keys))
	for i, k := range keys {
		ids[i], levels[i] = k.AreaID, int16(k.Level)
	}
	rows, err := s.db.Query(ctx, sqlShapes, ids, levels)
	if err != nil {
		return nil, fmt.Errorf("area boundaries: %w", err)
	}
	defer rows.Close()
	out := make(map[ShapeKey][]byte, len(keys))
	for rows.Next() {
		var k ShapeKey
		var level int16
		var g string
		if err := rows.Scan(&k.AreaID, &level, &g); err != nil {
			return nil, fmt.Errorf("area boundaries: %w", err)
		}
		k.Level = int(level)
		out[k] = []byte(g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("area boundaries: %w", err)
	}
	return out, nil
}

// BoundaryFeature is one area's boundary for a FeatureCollection.
type BoundaryFeature struct {
	Code     string
	Name     string
	Geometry []byte
}

const sqlBoundaryFeatures = `
SELECT a.code, a.name, ST_AsGeoJSON(s.geom, 6)
FROM areas a JOIN area_shapes s ON s.area_id = a.id AND s.zoom = $2
WHERE a.kind = $1
ORDER BY a.code`

// BoundaryFeatures returns every area of kind with its boundary at level.
func (s *Store) BoundaryFeatures(ctx context.Context, kind AreaKind, level int) ([]BoundaryFeature, error) {
	rows, err := s.db.Query(ctx, sqlBoundaryFeatures, kind, level)
	if err != nil {
		return nil, fmt.Errorf("boundaries of %s: %w", kind, err)
	}
	fs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BoundaryFeature, error) {
		var f BoundaryFeature
		var g string
		err := row.Scan(&f.Code, &f.Name, &g)
		f.Geometry = []byte(g)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("boundaries of %s: %w", kind, err)
	}
	return fs, nil
}

const sqlBoundaryLayers = `
SELECT kind, title, source_url, licence, attribution, shp_sha256, feature_count, vertex_count, imported_at
FROM boundary_layers ORDER BY kind`

// BoundaryLayers returns the imported layers.
func (s *Store) BoundaryLayers(ctx context.Context) ([]BoundaryLayer, error) {
	rows, err := s.db.Query(ctx, sqlBoundaryLayers)
	if err != nil {
		return nil, fmt.Errorf("boundary layers: %w", err)
	}
	ls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BoundaryLayer, error) {
		var l BoundaryLayer
		err := row.Scan(&l.Kind, &l.Title, &l.SourceURL, &l.Licence, &l.Attribution, &l.SHA256, &l.FeatureCount, &l.VertexCount, &l.ImportedAt)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("boundary layers: %w", err)
	}
	return ls, nil
}

// LayerImportedAt returns when kind was last imported, or ErrNotFound.
func (s *Store) LayerImportedAt(ctx context.Context, kind AreaKind) (time.Time, error) {
	var t time.Time
	err := s.db.QueryRow(ctx, `SELECT imported_at FROM boundary_layers WHERE kind = $1`, kind).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("layer %s: %w", kind, err)
	}
	return t, nil
}
