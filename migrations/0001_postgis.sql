-- PostGIS for boundaries and points; pg_trgm for ranked text search.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
