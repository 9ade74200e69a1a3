-- tests/harness/heroku_connect.sql - a stand-in for Heroku Connect's
-- Postgres side, for the tests (Heroku Connect itself cannot run here).
--
--   psql -v ON_ERROR_STOP=1 -d DB -f tests/harness/heroku_connect.sql
--
-- Load it after the salesforce tables exist (schemas/all.sql).  It installs
-- two row triggers on every table of schema salesforce except the trigger
-- log; a table created later is added with
--   SELECT salesforce.hc_install('salesforce.order__c');
-- (idempotent: installing twice replaces the triggers).  The other half of
-- the stand-in, the process that plays Connect's sync and Salesforce-side
-- edits, is tests/harness/hc_simulator.py.
--
-- What it mirrors of Heroku Connect's documented behaviour:
-- * Connect tells its own sessions from everybody else's by the session
--   setting xmlbinary: Connect runs with xmlbinary = 'hex', every other
--   session has the default 'base64'.  Its triggers act only on "ordinary"
--   sessions, so Connect's own writes (sfid write-back, changes pulled from
--   Salesforce) are never queued for Salesforce again.
-- * BEFORE INSERT OR UPDATE: an ordinary session's row gets
--   _hc_lastop = 'PENDING' and _hc_err = NULL (queued for Salesforce, old
--   error cleared); a Connect session's row gets _hc_lastop = 'SYNCED'.
-- * AFTER INSERT OR UPDATE OR DELETE, ordinary sessions only: one row in
--   salesforce._trigger_log per row change, state 'NEW', with txid
--   (txid_current()), table_name, record_id (the row's id), sfid, action
--   (INSERT / UPDATE / DELETE).  An INSERT records every column, an UPDATE
--   only the columns whose value changed (plus the whole old row in
--   "old"), a DELETE just the delete (old row in "old").
-- * TRUNCATE is not captured (Connect's triggers are row triggers on
--   INSERT, UPDATE and DELETE only).
-- * The triggers are ordinary triggers (ENABLE ORIGIN, the default): a
--   session with session_replication_role = replica bypasses them, as it
--   bypasses Connect's, so a writer that sets it would hide its writes from
--   Salesforce.  The tests check walbridge does not.
--
-- What it simplifies:
-- * "values" and "old" are JSON text (row_to_json / jsonb), not hstore
--   text: no extension needed, and as easy to read in a test.  Real Connect
--   leaves out of an UPDATE's values the columns it does not sync; here all
--   changed columns are recorded, including _hc_lastop when it changes
--   (SYNCED -> PENDING).  An UPDATE that changes no column is still logged
--   (with values = {}), so that a test sees every row version a writer
--   makes: that is stricter than Connect needs to be.
-- * One trigger function pair for all tables (Connect generates a pair per
--   mapped table, hc_<table>_status and hc_<table>_logger), and no
--   per-mapping read-only / read-write distinction: every table is
--   read-write.
-- * No _trigger_log_archive: processed rows stay in _trigger_log with
--   state 'SUCCESS' (the simulator never fails a write, so no 'FAILED',
--   'IGNORE' or 'READONLY' states, and sf_result / sf_message stay NULL).
-- * The txid is txid_current() (Connect uses the same), record_id is the
--   row's integer id.
CREATE SCHEMA IF NOT EXISTS salesforce;

-- True in Heroku Connect's own sessions.
CREATE OR REPLACE FUNCTION salesforce.hc_is_connect_session() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT current_setting('xmlbinary') = 'hex' $$;

CREATE OR REPLACE FUNCTION salesforce.hc_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF salesforce.hc_is_connect_session() THEN
        NEW._hc_lastop := 'SYNCED';
    ELSE
        NEW._hc_lastop := 'PENDING';
        NEW._hc_err := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION salesforce.hc_logger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n jsonb;
    o jsonb;
    vals jsonb;
BEGIN
    IF salesforce.hc_is_connect_session() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        n := to_jsonb(NEW);
        vals := n;
    ELSIF TG_OP = 'UPDATE' THEN
        n := to_jsonb(NEW);
        o := to_jsonb(OLD);
        SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) INTO vals
        FROM jsonb_each(n) e
        WHERE o -> e.key IS DISTINCT FROM e.value;
    ELSE
        o := to_jsonb(OLD);
    END IF;
    INSERT INTO salesforce._trigger_log
        (txid, table_name, record_id, sfid, action, state, "values", old)
    VALUES (txid_current(), TG_TABLE_NAME, (coalesce(n, o) ->> 'id')::integer,
            coalesce(n, o) ->> 'sfid', TG_OP, 'NEW', vals::text, o::text);
    RETURN NULL;
END $$;

-- Install (or re-install) the stand-in's triggers on one salesforce table.
CREATE OR REPLACE FUNCTION salesforce.hc_install(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rel record;
    missing text;
BEGIN
    SELECT c.relname, n.nspname INTO rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = tbl;
    IF rel.nspname <> 'salesforce' OR rel.relname LIKE '\_trigger\_log%' THEN
        RAISE EXCEPTION 'hc_install: % is not a Heroku Connect data table', tbl;
    END IF;
    SELECT string_agg(want, ', ') INTO missing
    FROM unnest(ARRAY['id', 'sfid', '_hc_lastop', '_hc_err']) want
    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = tbl AND a.attname = want
                        AND a.attnum > 0 AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'hc_install: % lacks the Heroku Connect column(s) %', tbl, missing;
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'hc_' || rel.relname || '_status', tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'hc_' || rel.relname || '_logger', tbl);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s
                    FOR EACH ROW EXECUTE FUNCTION salesforce.hc_status()',
                   'hc_' || rel.relname || '_status', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s
                    FOR EACH ROW EXECUTE FUNCTION salesforce.hc_logger()',
                   'hc_' || rel.relname || '_logger', tbl);
END $$;

-- Every table of schema salesforce that exists now.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'salesforce' AND c.relkind IN ('r', 'p')
               AND NOT c.relispartition
               AND c.relname NOT LIKE '\_trigger\_log%'
             ORDER BY c.relname
    LOOP
        PERFORM salesforce.hc_install(t);
    END LOOP;
END $$;
