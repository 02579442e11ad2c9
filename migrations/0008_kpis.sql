-- The audit KPIs: every patient's result per KPI and period, and the sums of those results
-- per place (unit, trust or health board, ICB, NHS England region, diabetes network,
-- country, the nation), audit year and quarter. The rules are in audit/kpi, the
-- aggregation in sync/aggregate, all SQL on these tables in store/kpis.go; docs/kpis.md
-- explains the figures.

-- One row per patient of an active submission. Results are packed so that a national
-- recompute writes 40,000 rows, not 40,000 × 5 periods × 51 KPIs:
--   outcomes  one byte per period (the year, then quarters 1–4) and KPI (in the order of
--             kpi.Definitions): the outcome (0 ineligible, 1 passed, 2 failed) in the low
--             two bits and the care-process status (kpi.CareStatus) in the next three;
--   vals      per period, the figures of the KPIs that carry one (kinds Mean, Median,
--             Sum and Ratio, in Definitions order; a Ratio KPI has its value then its
--             denominator), each a little-endian IEEE 754 double, NaN where the patient
--             has none. (Bytes rather than a double precision[]: a national run writes
--             1.2 million of them, and encoding them as an array took a second.)
-- The rows go with the patient (ON DELETE CASCADE) when a newer submission supersedes it.
CREATE TABLE kpi_patient_results (
    patient_id  bigint PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    unit_id     bigint NOT NULL REFERENCES paediatric_diabetes_units (id),
    audit_year  integer NOT NULL,
    kpi_count   smallint NOT NULL,
    outcomes    bytea NOT NULL CHECK (length(outcomes) = 5 * kpi_count),
    vals        bytea NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kpi_patient_results_unit_idx ON kpi_patient_results (unit_id, audit_year);

-- The sums of one KPI for one place and period. quarter 0 is the whole audit year.
-- For every kind the counts are there (eligible = passed + failed); value is the figure
-- of a Mean (KPI 44), Median (45), Sum (46, 47) or Ratio (32.1) KPI, with the sums it
-- comes from (value_sum over value_count patients; denominator_sum for a Ratio).
CREATE TABLE kpi_aggregates (
    audit_year      integer NOT NULL,
    quarter         smallint NOT NULL CHECK (quarter BETWEEN 0 AND 4),
    level           text NOT NULL CHECK (level IN ('unit', 'trust', 'integrated_care_board', 'nhs_england_region',
                                                   'diabetes_network', 'country', 'national')),
    -- A unit's PZ code; a trust's, board's, ICB's or region's ODS code; a network's PN
    -- code; a country's GSS code; 'national'.
    code            text NOT NULL,
    kpi             text NOT NULL,
    -- The KPI's position in kpi.Definitions, to list results in the specification's order.
    kpi_order       smallint NOT NULL,
    kind            smallint NOT NULL,
    name            text NOT NULL,
    -- The GSS code of the place's boundary (ICB, region, health board, country), for maps.
    area_code       text,
    -- The unit, for unit rows: the access policy decides per unit who sees exact figures.
    unit_id         bigint,
    eligible        integer NOT NULL,
    ineligible      integer NOT NULL,
    passed          integer NOT NULL,
    failed          integer NOT NULL,
    percentage      double precision,
    value           double precision,
    value_sum       double precision NOT NULL DEFAULT 0,
    value_count     integer NOT NULL DEFAULT 0,
    denominator_sum double precision NOT NULL DEFAULT 0,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (audit_year, level, quarter, code, kpi)
);
-- A place asked for by the GSS code of its area (an ICB as E54000056 rather than QUE).
CREATE INDEX kpi_aggregates_area_idx ON kpi_aggregates (audit_year, level, quarter, area_code);

-- What the places above units are recomputed from when one unit changes, one row per
-- unit and audit year, so that a unit's recompute reads 170 rows rather than every
-- unit's 255 aggregate rows. Per period (the year, then quarters 1–4) and KPI, in the
-- order of kpi.Definitions:
--   counts         eligible, ineligible, passed, failed, value_count (5 per KPI);
--   sums           value_sum, denominator_sum (2 per KPI);
--   median_values  for each Median KPI (KPI 45), its patients' values, sorted, one run
--                  after another; median_lengths holds each run's length.
CREATE TABLE kpi_unit_sums (
    audit_year     integer NOT NULL,
    unit_id        bigint NOT NULL REFERENCES paediatric_diabetes_units (id),
    pz_code        text NOT NULL,
    kpi_count      smallint NOT NULL,
    counts         integer[] NOT NULL CHECK (cardinality(counts) = 25 * kpi_count),
    sums           double precision[] NOT NULL CHECK (cardinality(sums) = 10 * kpi_count),
    median_values  double precision[] NOT NULL,
    median_lengths integer[] NOT NULL,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (audit_year, unit_id)
);

-- A recompute after a unit's activation is recorded in job_runs like the scheduled and
-- manual runs, with its own trigger.
ALTER TABLE job_runs DROP CONSTRAINT job_runs_trigger_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_trigger_check CHECK (trigger IN ('schedule', 'manual', 'activation'));
