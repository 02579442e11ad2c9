-- Dropdown datasets (NHS Data Dictionary code lists, RCPCH organisation lists, lists
-- that units make), their audit log, and the record of every scheduled or manual job run.
-- All SQL on these tables is in store/datasets.go and store/jobs.go.

-- A dataset is a named, versioned list of options. version rises only when the options
-- change (a sync that finds the same list touches only the timestamps). unit_id is the
-- unit that owns a user list and may change it; is_global makes a dataset visible to
-- everyone (every synced list, and user lists once published). A custom version of a
-- global dataset names it as parent_id. deleted_at soft-deletes: the row and its audit
-- log stay, the dataset disappears from the API.
CREATE TABLE datasets (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key                  text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_-]{0,99}$'),
    name                 text NOT NULL CHECK (btrim(name) <> ''),
    description          text NOT NULL DEFAULT '',
    category             text NOT NULL CHECK (category IN ('nhs_dd', 'rcpch', 'external_api', 'user_created')),
    source_type          text NOT NULL CHECK (source_type IN ('scrape', 'api', 'imported', 'manual')),
    reference_url        text,
    api_endpoint         text,
    tags                 text[] NOT NULL DEFAULT '{}',
    version              integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    option_count         integer NOT NULL DEFAULT 0,
    last_synced_at       timestamptz,
    last_scraped_at      timestamptz,
    -- The publication date the NHS Data Dictionary page states, where it states one.
    nhs_dd_published_on  date,
    -- How often a sync refreshes the dataset; NULL for lists edited by hand.
    sync_frequency_hours integer CHECK (sync_frequency_hours > 0),
    active               boolean NOT NULL DEFAULT true,
    is_global            boolean NOT NULL DEFAULT false,
    unit_id              bigint REFERENCES paediatric_diabetes_units (id),
    parent_id            bigint REFERENCES datasets (id),
    published_at         timestamptz,
    created_by           bigint REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz,
    -- A list that is not global must belong to a unit, or nobody could ever see it.
    CHECK (is_global OR unit_id IS NOT NULL),
    CHECK (parent_id <> id),
    CHECK (category = 'user_created' OR (unit_id IS NULL AND parent_id IS NULL))
);
CREATE INDEX datasets_tags_idx ON datasets USING gin (tags);
CREATE INDEX datasets_category_idx ON datasets (category, key) WHERE deleted_at IS NULL;
CREATE INDEX datasets_unit_idx ON datasets (unit_id) WHERE unit_id IS NOT NULL;
CREATE INDEX datasets_parent_idx ON datasets (parent_id) WHERE parent_id IS NOT NULL;

-- Options are rows rather than a jsonb array on the dataset: typeahead over a long list
-- (500 hospitals, or a large user list) filters, ranks and limits in SQL without
-- unpacking a document on every keystroke; (dataset_id, code) is unique by constraint
-- rather than by hope; and the options of every dataset on a page are read in one
-- statement for the dataloader. A sync replaces a dataset's rows in one transaction, so
-- readers see the old list or the new one, never a mix. search_text folds case and
-- punctuation with normalise_name (0003), so that "addenbrookes" finds
-- "ADDENBROOKE'S HOSPITAL".
CREATE TABLE dataset_options (
    dataset_id  bigint NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    code        text NOT NULL CHECK (code <> ''),
    label       text NOT NULL,
    retired     boolean NOT NULL DEFAULT false,
    search_text text GENERATED ALWAYS AS (normalise_name(code || ' ' || label)) STORED,
    PRIMARY KEY (dataset_id, position),
    UNIQUE (dataset_id, code)
);

-- Every sync, scrape and edit, with the option counts before and after. user_id is the
-- person who acted through the API; actor names who acted in words (a user, the
-- scheduler, the command line). Rows are only ever added.
CREATE TABLE dataset_audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id   bigint NOT NULL REFERENCES datasets (id),
    action       text NOT NULL CHECK (action IN ('sync', 'scrape', 'edit', 'create', 'publish', 'delete')),
    before_count integer NOT NULL,
    after_count  integer NOT NULL,
    version      integer NOT NULL,
    user_id      bigint REFERENCES users (id),
    actor        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX dataset_audit_log_dataset_idx ON dataset_audit_log (dataset_id, id DESC);

CREATE FUNCTION dataset_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the dataset audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER dataset_audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataset_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION dataset_audit_log_append_only();

-- One row per run of a job, scheduled or started by hand. scheduled_for is the schedule
-- tick a scheduled run claimed: the unique index lets exactly one replica claim each tick
-- however many run the scheduler (see sync/schedule). A run still 'running' whose
-- process died is marked 'abandoned' by the next run of the same job.
CREATE TABLE job_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job           text NOT NULL CHECK (job <> ''),
    trigger       text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    scheduled_for timestamptz,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    outcome       text NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'abandoned')),
    counts        jsonb NOT NULL DEFAULT '{}',
    error         text,
    host          text NOT NULL DEFAULT '',
    CHECK ((trigger = 'schedule') = (scheduled_for IS NOT NULL)),
    CHECK ((outcome = 'running') = (finished_at IS NULL))
);
CREATE UNIQUE INDEX job_runs_tick_key ON job_runs (job, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX job_runs_job_idx ON job_runs (job, started_at DESC);
CREATE INDEX job_runs_started_idx ON job_runs (started_at DESC);
