-- An ordinary role tries to become superuser through what the extension
-- runs with someone else's rights: the capture of its writes, wrappers
-- called by a superuser, a job pointed at another role's aggregate.  Every
-- attempt goes through a function of hers that records who ran it and
-- tries ALTER ROLE ... SUPERUSER; the log must stay empty and she ordinary.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

CREATE ROLE tally_eve;
CREATE ROLE tally_bob;
GRANT CREATE ON SCHEMA public TO tally_eve, tally_bob;
SELECT format('GRANT CREATE ON DATABASE %I TO tally_eve', current_database()) \gexec
CREATE TABLE public.ran_as (shadow text, who name);
GRANT INSERT, SELECT ON public.ran_as TO PUBLIC;

-- every function of the extension written in SQL or PL/pgSQL pins its
-- search_path: none runs under the caller's
SELECT p.oid::regprocedure AS unpinned
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'tally')
   AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']
 ORDER BY 1;

-- eve's shadows of built-ins, each with a signature that beats the built-in
-- one wherever it is seen: in her schema, which she puts first on the path,
-- and in public, which is on everyone's
SET SESSION AUTHORIZATION tally_eve;
CREATE SCHEMA eve;
GRANT USAGE ON SCHEMA eve TO PUBLIC;
CREATE FUNCTION public.grab(shadow text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ran_as VALUES (shadow, current_user);
    BEGIN
        EXECUTE 'ALTER ROLE tally_eve SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END $$;
DO $$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY ARRAY['eve', 'public'] LOOP
        EXECUTE format($f$
            CREATE FUNCTION %1$I.count_step(bigint) RETURNS bigint LANGUAGE plpgsql AS $b$
                BEGIN PERFORM public.grab('%1$s.count'); RETURN $1 + 1; END $b$;
            CREATE AGGREGATE %1$I.count(*) (sfunc = %1$I.count_step, stype = bigint, initcond = '0');
            CREATE FUNCTION %1$I.sum_step(bigint, integer) RETURNS bigint LANGUAGE plpgsql AS $b$
                BEGIN PERFORM public.grab('%1$s.sum'); RETURN coalesce($1, 0) + $2; END $b$;
            CREATE AGGREGATE %1$I.sum(integer) (sfunc = %1$I.sum_step, stype = bigint);
            CREATE FUNCTION %1$I.now() RETURNS timestamptz LANGUAGE plpgsql AS $b$
                BEGIN PERFORM public.grab('%1$s.now'); RETURN pg_catalog.now(); END $b$;
            CREATE FUNCTION %1$I.pg_typeof(interval) RETURNS regtype LANGUAGE plpgsql AS $b$
                BEGIN PERFORM public.grab('%1$s.pg_typeof'); RETURN 'interval'::regtype; END $b$;
            CREATE FUNCTION %1$I.eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $b$
                BEGIN PERFORM public.grab('%1$s.='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $b$;
            CREATE OPERATOR %1$I.= (function = %1$I.eq, leftarg = integer, rightarg = integer);
            CREATE FUNCTION %1$I.eq(regclass, regclass) RETURNS boolean LANGUAGE plpgsql AS $b$
                BEGIN PERFORM public.grab('%1$s.= regclass'); RETURN $1::oid OPERATOR(pg_catalog.=) $2::oid; END $b$;
            CREATE OPERATOR %1$I.= (function = %1$I.eq, leftarg = regclass, rightarg = regclass);
            CREATE FUNCTION %1$I.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $b$
                BEGIN PERFORM public.grab('%1$s.= text'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $b$;
            CREATE OPERATOR %1$I.= (function = %1$I.eq, leftarg = text, rightarg = text);
        $f$, s);
    END LOOP;
END $$;
RESET SESSION AUTHORIZATION;

-- 1. the capture of eve's writes runs as the aggregate's owner, a superuser
CREATE TABLE entries (at timestamptz NOT NULL, staff integer, minutes integer);
SELECT table_name FROM create_hypertable('entries', 'at', chunk_time_interval => interval '30 days');
INSERT INTO entries VALUES ('2024-01-01 10:00', 1, 30), ('2024-01-02 10:00', 2, 45);
CREATE MATERIALIZED VIEW daily WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, staff, count(*) AS n, sum(minutes) AS minutes,
           max(minutes) AS longest
      FROM entries WHERE staff = 1 OR staff = 2 GROUP BY 1, 2;
CREATE MATERIALIZED VIEW totals WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, count(*) AS n, sum(minutes) AS minutes
      FROM entries GROUP BY 1;
GRANT INSERT, UPDATE, DELETE, SELECT ON entries TO tally_eve;
SET SESSION AUTHORIZATION tally_eve;
SET search_path = eve, pg_catalog, public;
INSERT INTO entries VALUES ('2024-01-01 11:00', 1, 10);
UPDATE entries SET minutes = minutes + 1 WHERE at = '2024-01-02 10:00';
DELETE FROM entries WHERE at = '2024-01-01 10:00';
COPY entries FROM stdin;
2024-01-03 09:00:00+00	2	20
\.
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT * FROM ran_as WHERE who <> 'tally_eve';
SELECT rolsuper FROM pg_roles WHERE rolname = 'tally_eve';
-- and the aggregates took the changes in
SELECT * FROM daily ORDER BY day, staff;
SELECT * FROM totals ORDER BY day;

-- 2. a superuser working with a path that eve's objects are on
SET search_path = eve, public, pg_catalog;
CALL refresh_continuous_aggregate('daily', NULL, NULL);
SELECT add_retention_policy('entries', interval '10 years') >= 1000 AS policy_added;
SELECT add_retention_policy('entries', '10 years', if_not_exists => true) >= 1000 AS policy_kept;
SELECT add_continuous_aggregate_policy('totals', start_offset => NULL, end_offset => NULL,
                                       schedule_interval => interval '1 hour') AS totals_job \gset
SELECT schedule_interval FROM alter_job(:totals_job, schedule_interval => interval '2 hours');
CALL run_job(:totals_job);
-- (no count() or = of the test's own here: eve's would run)
SELECT array_length(array(SELECT ensure_chunks('entries', '2024-01-01'::timestamptz, '2024-03-01'::timestamptz)), 1) AS chunks;
SELECT array_length(array(SELECT show_chunks('entries', older_than => interval '1 day')), 1) > 0 AS some_chunks;
SELECT array_length(array(SELECT drop_chunks('entries', older_than => '2000-01-01'::timestamptz)), 1) AS dropped;
SELECT hypertable_size('entries') > 0 AS has_size;
SELECT array_length(array(SELECT chunk_name FROM chunks_detailed_size('entries')), 1) > 0 AS chunk_sizes;
SELECT set_chunk_time_interval('entries', interval '7 days');
SELECT array_length(array(SELECT job_id FROM tally_information.jobs), 1) AS jobs;
SELECT remove_continuous_aggregate_policy('totals');
SELECT remove_retention_policy('entries');
SELECT array_length(array(SELECT day FROM daily), 1) AS rows_read;
CREATE TABLE more (at timestamptz NOT NULL, v integer);
INSERT INTO more VALUES ('2024-01-01', 1);
SELECT table_name FROM create_hypertable('more', 'at', migrate_data => true);
CALL run_job(1);
RESET search_path;
SELECT * FROM ran_as WHERE who <> 'tally_eve';
SELECT rolsuper FROM pg_roles WHERE rolname = 'tally_eve';

-- 3. a job's config cannot point it at another role's aggregate
SET SESSION AUTHORIZATION tally_eve;
CREATE TABLE eve_entries (at timestamptz NOT NULL, minutes integer);
SELECT table_name FROM create_hypertable('eve_entries', 'at');
CREATE MATERIALIZED VIEW eve_daily WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, count(*) AS n FROM eve_entries GROUP BY 1;
SELECT add_continuous_aggregate_policy('eve_daily', start_offset => NULL, end_offset => NULL,
                                       schedule_interval => interval '1 hour') AS eve_job \gset
SELECT id AS daily_id FROM _tally_catalog.continuous_agg WHERE user_view = 'daily'::regclass \gset
SELECT config FROM alter_job(:eve_job, config => jsonb_build_object('continuous_aggregate_id', :daily_id));
SELECT config FROM alter_job(:eve_job, config => '{"start_offset": null}');
RESET SESSION AUTHORIZATION;
INSERT INTO entries VALUES ('2024-01-05 10:00', 1, 5);
SET SESSION AUTHORIZATION tally_eve;
CALL run_job(:eve_job);
CALL refresh_continuous_aggregate('daily', NULL, NULL);
RESET SESSION AUTHORIZATION;
-- daily's change is still pending: eve's job refreshed her own aggregate only
SELECT count(*) AS daily_pending FROM _tally_internal._delta_1;
-- nor can another role run or change her job, or read more than the views show
SET SESSION AUTHORIZATION tally_bob;
CALL run_job(:eve_job);
SELECT delete_job(:eve_job);

-- 4. the information views answer every role
SELECT count(*) > 0 AS jobs_readable FROM tally_information.jobs;
SELECT count(*) > 0 AS job_stats_readable FROM tally_information.job_stats;
SELECT count(*) >= 0 AS job_errors_readable FROM tally_information.job_errors;
SELECT count(*) > 0 AS hypertables_readable FROM tally_information.hypertables;
SELECT count(*) > 0 AS chunks_readable FROM tally_information.chunks;
SELECT count(*) > 0 AS dimensions_readable FROM tally_information.dimensions;
SELECT count(*) > 0 AS caggs_readable FROM tally_information.continuous_aggregates;
SELECT owner FROM tally_information.jobs WHERE job_id = :eve_job;
RESET SESSION AUTHORIZATION;

SELECT * FROM ran_as WHERE who <> 'tally_eve';
SELECT rolsuper FROM pg_roles WHERE rolname IN ('tally_eve', 'tally_bob');

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP SCHEMA eve CASCADE;
DROP OWNED BY tally_eve, tally_bob;
SELECT format('REVOKE CREATE ON DATABASE %I FROM tally_eve', current_database()) \gexec
DROP ROLE tally_eve;
DROP ROLE tally_bob;
