-- Health geography: one row per imported boundary layer, one per area.

CREATE TABLE boundary_layers (
    kind          text PRIMARY KEY CHECK (kind IN ('country', 'nhs_england_region', 'integrated_care_board', 'local_health_board', 'london_borough')),
    title         text NOT NULL,
    source_url    text NOT NULL,
    licence       text NOT NULL,
    attribution   text NOT NULL,
    shp_sha256    text NOT NULL,
    feature_count integer NOT NULL,
    vertex_count  integer NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now()
);

-- geom is kept as published, in British National Grid (EPSG:27700), so that areas and
-- distances are true and point lookups use the GiST index after transforming the point.
CREATE TABLE areas (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL REFERENCES boundary_layers (kind),
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    welsh_name  text,
    geom        geometry(MultiPolygon, 27700) NOT NULL,
    area_sq_km  double precision NOT NULL,
    label_point geometry(Point, 4326) NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX areas_geom_idx ON areas USING gist (geom);
CREATE INDEX areas_kind_code_idx ON areas (kind, code);

-- Point lookups test small pieces of each area (at most 128 vertices, cut by
-- ST_Subdivide) instead of whole boundaries: England alone has thousands of vertices,
-- and reading and testing it for every lookup would dominate the cost.
CREATE TABLE area_parts (
    area_id bigint NOT NULL REFERENCES areas (id) ON DELETE CASCADE,
    geom    geometry(Polygon, 27700) NOT NULL
);
CREATE INDEX area_parts_geom_idx ON area_parts USING gist (geom);
CREATE INDEX area_parts_area_idx ON area_parts (area_id);

-- Output geometry in EPSG:4326, simplified per web-map zoom level as a coverage (shared
-- borders simplified once); zoom 99 is full detail.
CREATE TABLE area_shapes (
    area_id bigint NOT NULL REFERENCES areas (id) ON DELETE CASCADE,
    zoom    smallint NOT NULL,
    geom    geometry(MultiPolygon, 4326) NOT NULL,
    PRIMARY KEY (area_id, zoom)
);

-- drop_slivers removes polygons and holes smaller than min_area (in the geometry's units
-- squared): repairing a simplified boundary can leave slivers of no area that would break
-- a map's winding rules. When nothing would be left, the geometry is kept as it is.
CREATE FUNCTION drop_slivers(g geometry, min_area double precision) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(
        (SELECT ST_Multi(ST_Collect(ST_MakePolygon(ST_ExteriorRing(d.geom), ARRAY(
                    SELECT ST_ExteriorRing(r.geom)
                    FROM ST_DumpRings(d.geom) AS r
                    WHERE r.path[1] > 0 AND ST_Area(r.geom) >= min_area
                    ORDER BY r.path[1]))
                ORDER BY d.path))
         FROM ST_Dump(g) AS d
         WHERE ST_Area(d.geom) >= min_area),
        g)
$$;
