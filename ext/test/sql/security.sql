-- What runs as whom.  Chunk management runs as the extension's owner; a
-- table's own code (triggers, constraints, casts) must never run with more
-- rights than its owner's, and internal functions are not for PUBLIC.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

CREATE ROLE tally_mallory;
GRANT CREATE ON SCHEMA public TO tally_mallory;
SET SESSION AUTHORIZATION tally_mallory;

-- a trigger on the hypertable records who runs it; moving a row out of the
-- default partition is not a new insert or delete: no trigger fires for it
CREATE TABLE m (ts timestamptz NOT NULL, v integer CHECK (v >= 0));
SELECT table_name FROM create_hypertable('m', 'ts', chunk_time_interval => interval '1 day');
CREATE TABLE m_log (event text, who name);
CREATE FUNCTION m_watch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO m_log VALUES (TG_OP, current_user);
    RETURN coalesce(NEW, OLD);
END $$;
CREATE TRIGGER m_watch BEFORE INSERT OR DELETE ON m FOR EACH ROW EXECUTE FUNCTION m_watch();
INSERT INTO m VALUES ('2030-01-01', 1);
SELECT * FROM m_log;
SELECT count(*) AS rows_in_chunks FROM m
 WHERE tableoid <> (SELECT default_partition FROM _tally_catalog.hypertable WHERE relid = 'm'::regclass);

-- CHECK constraints of moved rows are evaluated as the owner
CREATE FUNCTION whoami_is_owner(integer) RETURNS boolean LANGUAGE sql
    AS $$ SELECT current_user = 'tally_mallory' $$;
CREATE TABLE w (ts timestamptz NOT NULL, v integer CHECK (whoami_is_owner(v)));
SELECT table_name FROM create_hypertable('w', 'ts', chunk_time_interval => interval '1 day');
INSERT INTO w VALUES ('2031-01-01', 1);
SELECT count(*) AS moved_as_owner FROM w
 WHERE tableoid <> (SELECT default_partition FROM _tally_catalog.hypertable WHERE relid = 'w'::regclass);
-- and so is a table being converted with migrate_data
CREATE TABLE c (ts timestamptz NOT NULL, v integer CHECK (whoami_is_owner(v)));
INSERT INTO c VALUES ('2024-01-01', 1), ('2024-02-01', 2);
SELECT table_name FROM create_hypertable('c', 'ts', migrate_data => true);
SELECT count(*) FROM c;

-- a cast from a user's type is never applied by the privileged functions
CREATE TYPE evil AS (x integer);
CREATE FUNCTION evil_ts(evil) RETURNS timestamptz LANGUAGE sql AS $$ SELECT now() $$;
CREATE CAST (evil AS timestamptz) WITH FUNCTION evil_ts(evil);
SELECT drop_chunks('m', older_than => row(1)::evil);
SELECT show_chunks('m', older_than => row(1)::evil);

-- internal functions are not for PUBLIC; the stray-row trigger serves no other table
SELECT _tally_internal.chunk_for_point(1, 0);
SELECT _tally_internal.execute_as_owner('m', 'SELECT 1');
SELECT _tally_internal.wake_scheduler();
CREATE TABLE feeder (ts timestamptz);
CREATE CONSTRAINT TRIGGER f AFTER INSERT ON feeder DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION _tally_internal.place_stray_row('1', 'ts', 'm');
RESET SESSION AUTHORIZATION;
SELECT rolsuper FROM pg_roles WHERE rolname = 'tally_mallory';

-- row-level security is refused by name; column privileges are kept
CREATE TABLE secret (ts timestamptz NOT NULL, pub integer, hidden integer);
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
SELECT create_hypertable('secret', 'ts');
ALTER TABLE secret DISABLE ROW LEVEL SECURITY;
GRANT SELECT (ts, pub) ON secret TO tally_mallory;
SELECT table_name FROM create_hypertable('secret', 'ts');
SELECT has_column_privilege('tally_mallory', 'secret', 'pub', 'SELECT') AS pub_readable,
       has_column_privilege('tally_mallory', 'secret', 'hidden', 'SELECT') AS hidden_readable;

-- a policy follows its hypertable to a new owner
CREATE ROLE tally_new_owner;
CREATE TABLE owned (ts timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('owned', 'ts');
SELECT add_retention_policy('owned', interval '1 year') AS owned_job \gset
ALTER TABLE owned OWNER TO tally_new_owner;
SELECT owner FROM tally_information.jobs WHERE job_id = :owned_job;
SET SESSION AUTHORIZATION tally_new_owner;
SELECT schedule_interval FROM alter_job(:owned_job, schedule_interval => interval '2 days');
RESET SESSION AUTHORIZATION;
DROP TABLE owned;
DROP ROLE tally_new_owner;

-- a chunk detached by hand leaves the catalog and is never dropped by drop_chunks
CREATE TABLE det (ts timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('det', 'ts', chunk_time_interval => interval '1 day');
INSERT INTO det VALUES ('2024-01-01 10:00');
SELECT chunk_name AS detached_chunk FROM tally_information.chunks
 WHERE hypertable_name = 'det' AND range_start = '2024-01-01' \gset
ALTER TABLE det DETACH PARTITION _tally_internal.:detached_chunk;
SELECT count(*) AS catalog_rows FROM tally_information.chunks WHERE chunk_name = :'detached_chunk';
SELECT count(*) AS dropped FROM drop_chunks('det', older_than => '2025-01-01'::timestamptz);
SELECT count(*) AS still_there FROM _tally_internal.:detached_chunk;
INSERT INTO det VALUES ('2024-01-01 11:00');
SELECT count(*) AS new_chunk_for_the_day FROM tally_information.chunks
 WHERE hypertable_name = 'det' AND range_start = '2024-01-01';

-- bounds at the ends of a type, and rows that can have no chunk
CREATE TABLE big (t bigint NOT NULL);
SELECT table_name FROM create_hypertable('big', 't', chunk_time_interval => 1000);
SELECT count(*) FROM drop_chunks('big', newer_than => 9223372036854775807);
CREATE TABLE far (d date NOT NULL);
SELECT table_name FROM create_hypertable('far', 'd', chunk_time_interval => interval '1 day');
INSERT INTO far VALUES ('300000-01-01'), ('2024-01-01');
SELECT _tally_internal.maintain_chunks('far') >= 0 AS maintenance_went_on;
CALL run_job(1);
SELECT d FROM far ORDER BY d;

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP OWNED BY tally_mallory;
DROP ROLE tally_mallory;
