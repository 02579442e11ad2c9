-- Organisations and their hierarchy, with history.
--
-- Every fact that can change is a row with a half-open validity [valid_from, valid_to)
-- kept as a daterange; the current fact is the row whose range is open above. A lower
-- bound of NULL (unbounded) means "since before our records begin", which is what the
-- seeded reference lists say. Exclusion constraints keep the intervals of one relation
-- from overlapping, so "as of a date" always has at most one answer where one is meant.
-- All writes go through store/organisations_write.go.

-- btree_gist lets an exclusion constraint combine equality on ids with range overlap.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- pg_trgm declares its similarity operators as cheap as equality, so on a table of a few
-- hundred names the planner prefers testing every row (each test builds and compares two
-- trigram sets) to the trigram index. Declaring their true cost lets the GIN index serve
-- the search. Where the extension belongs to another role this is skipped: the search still
-- works, only slower.
DO $$
BEGIN
    ALTER FUNCTION similarity_op(text, text) COST 100;
    ALTER FUNCTION word_similarity_op(text, text) COST 100;
    ALTER FUNCTION word_similarity_commutator_op(text, text) COST 100;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm operator costs left as they are: %', SQLERRM;
END
$$;

-- normalise_name folds case and punctuation for text search: apostrophes vanish
-- ("Addenbrooke's" → "addenbrookes") and every other run of non-alphanumerics becomes
-- one space. The same function normalises the query.
CREATE FUNCTION normalise_name(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(regexp_replace(lower(s), '[''’`]', '', 'g'), '[^[:alnum:]]+', ' ', 'g'))
$$;

-- Organisations of ODS kinds, keyed by ODS code. Only what never changes lives here:
-- the code, the kind, and (for ICBs, regions and health boards) the GSS code of the area
-- the organisation covers (areas.code; not a foreign key because boundaries are
-- re-imported independently of the lists).
CREATE TABLE organisations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ods_code   text NOT NULL UNIQUE CHECK (ods_code <> '' AND ods_code = upper(btrim(ods_code))),
    kind       text NOT NULL CHECK (kind IN ('site', 'nhs_trust', 'local_health_board', 'integrated_care_board', 'nhs_england_region', 'other')),
    gss_code   text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organisations_kind_idx ON organisations (kind, ods_code);

-- Versioned attributes: one row per period in which name, address and point held.
-- The geo_* columns are the GSS codes of the areas that contain point, computed by the
-- store (set-based, ST_Intersects in EPSG:27700) when the point is written or the
-- boundaries change; placed_at is NULL until that has happened.
CREATE TABLE organisation_versions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation_id   bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    valid             daterange NOT NULL CHECK (NOT isempty(valid)),
    name              text NOT NULL,
    search_name       text GENERATED ALWAYS AS (normalise_name(name)) STORED,
    address_line1     text,
    address_line2     text,
    address_line3     text,
    town              text,
    county            text,
    postcode          text,
    phone             text,
    email             text,
    website           text,
    organisation_type text,
    sub_type          text,
    sector            text,
    -- As published: a lookup-table answer, compared with the geographic one.
    local_authority   text,
    -- The country the list declares (GSS code), the fallback where there is no point.
    country_code      text,
    point             geometry(Point, 4326),
    placed_at         timestamptz,
    geo_country       text,
    geo_region        text,
    geo_icb           text,
    geo_lhb           text,
    geo_borough       text,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (organisation_id WITH =, valid WITH &&)
);
CREATE INDEX organisation_versions_from_idx ON organisation_versions (organisation_id, lower(valid) DESC NULLS LAST);
CREATE INDEX organisation_versions_search_idx ON organisation_versions USING gin (search_name gin_trgm_ops);
-- Distances are measured on the spheroid (geography): correct in metres across Great
-- Britain, Northern Ireland and Jersey alike. This index serves ST_DWithin and KNN (<->).
CREATE INDEX organisation_versions_point_idx ON organisation_versions USING gist ((point::geography));
CREATE INDEX organisation_versions_geo_icb_idx ON organisation_versions (geo_icb);

-- Versioned links between organisations:
--   parent                site → NHS trust or local health board (one at a time)
--   integrated_care_board NHS trust → ICB (a trust may span several)
--   nhs_england_region    NHS trust or ICB → region
CREATE TABLE organisation_links (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id    bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    relation    text NOT NULL CHECK (relation IN ('parent', 'integrated_care_board', 'nhs_england_region')),
    parent_id   bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    valid       daterange NOT NULL CHECK (NOT isempty(valid)),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CHECK (child_id <> parent_id),
    EXCLUDE USING gist (child_id WITH =, relation WITH =, parent_id WITH =, valid WITH &&),
    EXCLUDE USING gist (child_id WITH =, relation WITH =, valid WITH &&) WHERE (relation = 'parent')
);
CREATE INDEX organisation_links_parent_idx ON organisation_links (parent_id, relation);
CREATE INDEX organisation_links_child_idx ON organisation_links (child_id, relation);

-- Successions: predecessor → successor on a date. A closure may name no successor; a
-- split names several (one row each).
CREATE TABLE organisation_successions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    predecessor_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    successor_id   bigint REFERENCES organisations (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('merger', 'acquisition', 'rename', 'closure', 'split', 'code_change')),
    effective_on   date NOT NULL,
    note           text,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (successor_id IS NOT NULL OR kind = 'closure'),
    CHECK (predecessor_id <> successor_id),
    UNIQUE (predecessor_id, successor_id)
);
CREATE INDEX organisation_successions_successor_idx ON organisation_successions (successor_id);

-- Paediatric diabetes networks (PN01–PN12).
CREATE TABLE paediatric_diabetes_networks (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL
);

-- Paediatric diabetes units by PZ code. name overrides the lead organisation's name
-- where set; every column but pz_code may be left out on insert.
CREATE TABLE paediatric_diabetes_units (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pz_code    text NOT NULL UNIQUE,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The organisation that leads a unit (a site, trust or health board), one at a time.
CREATE TABLE unit_leads (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id         bigint NOT NULL REFERENCES paediatric_diabetes_units (id) ON DELETE CASCADE,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    valid           daterange NOT NULL CHECK (NOT isempty(valid)),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (unit_id WITH =, valid WITH &&)
);
CREATE INDEX unit_leads_organisation_idx ON unit_leads (organisation_id);

-- The sites a unit cares through; a site belongs to one unit at a time.
CREATE TABLE unit_sites (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id         bigint NOT NULL REFERENCES paediatric_diabetes_units (id) ON DELETE CASCADE,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    valid           daterange NOT NULL CHECK (NOT isempty(valid)),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (organisation_id WITH =, valid WITH &&)
);
CREATE INDEX unit_sites_unit_idx ON unit_sites (unit_id);

-- The network a unit belongs to, one at a time.
CREATE TABLE unit_networks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id     bigint NOT NULL REFERENCES paediatric_diabetes_units (id) ON DELETE CASCADE,
    network_id  bigint NOT NULL REFERENCES paediatric_diabetes_networks (id) ON DELETE CASCADE,
    valid       daterange NOT NULL CHECK (NOT isempty(valid)),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (unit_id WITH =, valid WITH &&)
);
CREATE INDEX unit_networks_network_idx ON unit_networks (network_id);

-- OPEN UK paediatric epilepsy networks, and the trusts and health boards in each (a trust
-- on a border may be in two).
CREATE TABLE open_uk_networks (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code    text NOT NULL UNIQUE,
    name    text NOT NULL,
    country text
);

CREATE TABLE open_uk_network_members (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    network_id      bigint NOT NULL REFERENCES open_uk_networks (id) ON DELETE CASCADE,
    valid           daterange NOT NULL CHECK (NOT isempty(valid)),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (organisation_id WITH =, network_id WITH =, valid WITH &&)
);
CREATE INDEX open_uk_network_members_network_idx ON open_uk_network_members (network_id);
CREATE INDEX open_uk_network_members_organisation_idx ON open_uk_network_members (organisation_id);
