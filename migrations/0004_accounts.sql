-- Accounts, unit memberships, bearer tokens and the access log. The rules on top of
-- these tables (who may do what) live in the auth package; see docs/security.md.

-- A user signs in with email and password (and a TOTP code when enrolled). Email is
-- unique whatever its case; it is stored as typed.
CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL CHECK (email = btrim(email) AND email LIKE '_%@_%'),
    name            text NOT NULL CHECK (btrim(name) <> ''),
    role            text NOT NULL CHECK (role IN ('coordinator', 'editor', 'reader', 'rcpch_audit_team')),
    active          boolean NOT NULL DEFAULT true,
    -- argon2id in the PHC string format: $argon2id$v=19$m=…,t=…,p=…$salt$hash
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- The TOTP shared secret once enrolment starts; the second factor is required only
    -- once a code has confirmed it (totp_enabled). Never returned through the API.
    totp_secret     bytea,
    totp_enabled    boolean NOT NULL DEFAULT false,
    -- The last TOTP time step accepted, so that a code cannot be used twice.
    totp_last_step  bigint,
    -- Lockout: failed_logins counts the failures since failures_since (a fixed window,
    -- restarted by the first failure after it has passed); locked_until is set when the
    -- count reaches the limit. An attempt is counted before its password is checked, in
    -- the same statement that reads the count, so parallel attempts cannot overtake it.
    failed_logins   integer NOT NULL DEFAULT 0,
    failures_since  timestamptz,
    locked_until    timestamptz,
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT totp_enabled OR totp_secret IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Which units a user belongs to; one membership per user is the primary one.
CREATE TABLE user_units (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    unit_id    bigint NOT NULL REFERENCES paediatric_diabetes_units (id),
    is_primary boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, unit_id)
);
CREATE UNIQUE INDEX user_units_one_primary ON user_units (user_id) WHERE is_primary;
CREATE INDEX user_units_unit_idx ON user_units (unit_id);

-- At most one primary is the index above; at least one (for a user with any unit) is
-- checked at commit, so that a transaction may move the primary from one row to another.
CREATE FUNCTION user_units_check_primary() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    uid bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
BEGIN
    IF EXISTS (SELECT 1 FROM user_units WHERE user_id = uid)
       AND NOT EXISTS (SELECT 1 FROM user_units WHERE user_id = uid AND is_primary) THEN
        RAISE EXCEPTION 'user % has units but no primary unit', uid USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER user_units_primary AFTER INSERT OR UPDATE OR DELETE ON user_units
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION user_units_check_primary();

-- Bearer tokens. Only the SHA-256 of the token text is kept. A user token comes from
-- login; a service token is made by an operator or admin for one unit's system, with
-- read or submit access, and is owned by (and dies with) the user who asked for it.
-- scope 'totp_enrolment' marks the short-lived token of an audit team member who has
-- no second factor yet and may only set one up.
CREATE TABLE tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('user', 'service')),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    unit_id      bigint REFERENCES paediatric_diabetes_units (id),
    access       text CHECK (access IN ('read', 'submit')),
    scope        text NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'totp_enrolment')),
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK ((kind = 'service') = (unit_id IS NOT NULL AND access IS NOT NULL)),
    CHECK (kind = 'user' OR scope = 'full'),
    CHECK (expires_at > created_at)
);
CREATE INDEX tokens_user_idx ON tokens (user_id, id DESC);

-- The access log: who did what, when, from where. Rows are only ever added.
CREATE TABLE access_log (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    ip       inet,
    -- The user the entry is about (the one who logged in, was created, viewed a record).
    user_id  bigint REFERENCES users (id),
    -- The admin who acted on user_id, when someone else did; NULL for the command line.
    admin_id bigint REFERENCES users (id),
    unit_id  bigint REFERENCES paediatric_diabetes_units (id),
    action   text NOT NULL CHECK (action IN ('login', 'login_failed', 'lockout', 'logout',
        'token_created', 'token_revoked', 'user_created', 'user_updated', 'role_changed',
        'units_changed', 'password_changed', 'totp_enabled', 'totp_reset',
        'csv_uploaded', 'patient_viewed')),
    details  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX access_log_user_idx ON access_log (user_id, id DESC);
CREATE INDEX access_log_unit_idx ON access_log (unit_id, id DESC);
CREATE INDEX access_log_action_idx ON access_log (action, id DESC);
CREATE INDEX access_log_at_idx ON access_log (at);

CREATE FUNCTION access_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
