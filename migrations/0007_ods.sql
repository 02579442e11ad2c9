-- Keeping the register current from NHS ODS (issue 7).
--
-- ods_records remembers, per organisation, the ODS LastChangeDate the sync last applied,
-- so that a record ODS reports again without a newer change date is not compared again.
-- ods_sync_state holds the end of the last window that synced completely, from which the
-- next scheduled run starts. ods_review_items are changes the sync does not apply by
-- itself (closures, successions dated after the run's window, deletions from
-- publication): an admin approves or rejects each, and the decision goes to the access log.

CREATE TABLE ods_records (
    organisation_id  bigint PRIMARY KEY REFERENCES organisations (id) ON DELETE CASCADE,
    last_change_date date NOT NULL,
    synced_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per source ('ord' or 'fhir'): the window end the next run starts from.
CREATE TABLE ods_sync_state (
    source      text PRIMARY KEY CHECK (source IN ('ord', 'fhir')),
    synced_to   date NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ods_review_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ods_code        text NOT NULL,
    -- closure: ODS marks the organisation inactive; succession: ODS records a successor
    -- (dated after the run's window, or not otherwise applicable); deletion: ODS withdrew
    -- the record from publication.
    kind            text NOT NULL CHECK (kind IN ('closure', 'succession', 'deletion')),
    successor_code  text,
    effective_on    date,
    ods_change_date date,
    detail          text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    decided_by      bigint REFERENCES users (id),
    decision_note   text,
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (kind <> 'succession' OR successor_code IS NOT NULL)
);
-- The same change reported by two runs is one item.
CREATE UNIQUE INDEX ods_review_items_change_key ON ods_review_items
    (ods_code, kind, COALESCE(successor_code, ''), COALESCE(effective_on, '-infinity'::date));
CREATE INDEX ods_review_items_status_idx ON ods_review_items (status, id);

-- Admins' decisions on review items are access log entries.
ALTER TABLE access_log DROP CONSTRAINT access_log_action_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_action_check CHECK (action IN ('login', 'login_failed', 'lockout', 'logout',
    'token_created', 'token_revoked', 'user_created', 'user_updated', 'role_changed',
    'units_changed', 'password_changed', 'totp_enabled', 'totp_reset',
    'csv_uploaded', 'patient_viewed', 'ods_review_approved', 'ods_review_rejected'));
