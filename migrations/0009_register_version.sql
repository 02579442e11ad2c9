-- A version number of the organisation register's reference data, so that a server can
-- keep the organisations, where they belong, the units, networks and areas it has read
-- and know when they may have changed: every committed change to the tables below
-- raises it. The graph layer's
-- related-object cache (graph/related_cache.go) reads it once per request and drops
-- what it holds when it has moved.
--
-- The counter is raised by deferred constraint triggers, which run at commit: the row
-- lock on the counter is taken last and held only while the transaction commits, so two
-- writers cannot deadlock on it (each has taken all its other locks before), and the new
-- number becomes visible together with the change it counts.
CREATE TABLE register_version (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL
);
INSERT INTO register_version (version) VALUES (1);

-- Once per transaction however many rows it changed: a transaction-local setting notes
-- that the counter has been raised.
CREATE FUNCTION raise_register_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('caregraph.register_raised', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('caregraph.register_raised', 'on', true);
    UPDATE register_version SET version = version + 1 WHERE id;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['organisations', 'organisation_versions', 'organisation_links', 'unit_sites',
        'paediatric_diabetes_units', 'unit_leads', 'unit_networks', 'paediatric_diabetes_networks',
        'open_uk_networks', 'open_uk_network_members', 'areas', 'boundary_layers']
    LOOP
        EXECUTE format('CREATE CONSTRAINT TRIGGER raise_register_version AFTER INSERT OR UPDATE OR DELETE ON %I
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION raise_register_version()', t);
    END LOOP;
END
$$;
