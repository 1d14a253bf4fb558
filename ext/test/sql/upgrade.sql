-- Every upgrade path ends in the same extension as a fresh install of the
-- current version: same objects, same definitions, same privileges, same
-- catalog rows.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET check_function_bodies = off;

-- Everything the extension consists of, one row per object with its full
-- definition.
CREATE FUNCTION pg_temp.extension_fingerprint() RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
    WITH members AS (
        SELECT d.classid, d.objid FROM pg_depend d
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'tally')
    )
    SELECT pg_describe_object(m.classid, m.objid, 0),
           CASE m.classid
               WHEN 'pg_proc'::regclass THEN
                   pg_get_functiondef(m.objid) || coalesce((SELECT proacl::text FROM pg_proc WHERE oid = m.objid), '')
               WHEN 'pg_class'::regclass THEN
                   (SELECT c.relkind::text || ' ' || coalesce(c.relacl::text, '') || ' '
                           || coalesce(pg_get_viewdef(c.oid), '')
                           || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                                          || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                                          || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''),
                                                          ', ' ORDER BY a.attnum)
                                          FROM pg_attribute a
                                          LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                           || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), '; '
                                                          ORDER BY pg_get_indexdef(i.indexrelid))
                                          FROM pg_index i WHERE i.indrelid = c.oid), '')
                           || coalesce((SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), '; '
                                                          ORDER BY k.conname)
                                          FROM pg_constraint k WHERE k.conrelid = c.oid), '')
                      FROM pg_class c WHERE c.oid = m.objid)
               WHEN 'pg_event_trigger'::regclass THEN
                   (SELECT evtevent || ' ' || evtfoid::regproc::text || ' ' || evtenabled::text FROM pg_event_trigger WHERE oid = m.objid)
               ELSE ''
           END
      FROM members m
    UNION ALL
    SELECT 'job ' || id, application_name || ' ' || schedule_interval || ' ' || retry_period || ' '
                         || proc_schema || '.' || proc_name || ' ' || scheduled
      FROM _tally_catalog.bgw_job
    UNION ALL
    SELECT 'sequence ' || sequencename, start_value || ' ' || min_value || ' ' || coalesce(last_value, 0)
      FROM pg_sequences WHERE schemaname = '_tally_catalog'
$$;

-- from each earlier version to the current one
CREATE EXTENSION tally VERSION '0.1.0';
ALTER EXTENSION tally UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'tally';
CREATE TEMP TABLE upgraded AS SELECT * FROM pg_temp.extension_fingerprint();
DROP EXTENSION tally;
CREATE EXTENSION tally VERSION '0.2.0';
ALTER EXTENSION tally UPDATE;
CREATE TEMP TABLE upgraded_from_0_2 AS SELECT * FROM pg_temp.extension_fingerprint();
DROP EXTENSION tally;
CREATE EXTENSION tally VERSION '0.3.0';
ALTER EXTENSION tally UPDATE;
CREATE TEMP TABLE upgraded_from_0_3 AS SELECT * FROM pg_temp.extension_fingerprint();
DROP EXTENSION tally;

CREATE EXTENSION tally;
SELECT extversion FROM pg_extension WHERE extname = 'tally';
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.extension_fingerprint();
SELECT count(*) AS objects, count(*) FILTER (WHERE object LIKE 'function%') AS functions FROM fresh;

-- what a fresh install has that an upgrade lacks, and the other way round
SELECT 'only after upgrade from 0.1.0' AS side, object, definition FROM (TABLE upgraded EXCEPT TABLE fresh) u
UNION ALL
SELECT 'only in fresh install', object, definition FROM (TABLE fresh EXCEPT TABLE upgraded) f
UNION ALL
SELECT 'only after upgrade from 0.2.0', object, definition FROM (TABLE upgraded_from_0_2 EXCEPT TABLE fresh) u
UNION ALL
SELECT 'only in fresh install (0.2.0)', object, definition FROM (TABLE fresh EXCEPT TABLE upgraded_from_0_2) f
UNION ALL
SELECT 'only after upgrade from 0.3.0', object, definition FROM (TABLE upgraded_from_0_3 EXCEPT TABLE fresh) u
UNION ALL
SELECT 'only in fresh install (0.3.0)', object, definition FROM (TABLE fresh EXCEPT TABLE upgraded_from_0_3) f
ORDER BY 2, 1;

-- the upgraded extension works: a hypertable, a retention job, a continuous aggregate
DROP EXTENSION tally;
CREATE EXTENSION tally VERSION '0.1.0';
CREATE TABLE entries (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('entries', 'at');
ALTER EXTENSION tally UPDATE;
SELECT add_retention_policy('entries', interval '1 year') >= 1000 AS policy_added;
SELECT hypertable_name FROM tally_information.jobs WHERE job_id >= 1000;
CREATE MATERIALIZED VIEW daily WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, count(*) AS n FROM entries GROUP BY 1;
INSERT INTO entries VALUES ('2024-01-01 10:00');
SELECT * FROM daily;

-- a hypertable, its data and its retention policy made by 0.3.0 go on
-- after the upgrade, and take a continuous aggregate and its policy (this
-- library makes aggregates only in an updated catalog)
SET timezone = 'UTC';
DROP MATERIALIZED VIEW daily;
DROP TABLE entries;
DROP EXTENSION tally;
CREATE EXTENSION tally VERSION '0.3.0';
CREATE TABLE entries (at timestamptz NOT NULL, minutes integer);
SELECT table_name FROM create_hypertable('entries', 'at');
INSERT INTO entries VALUES ('2024-01-01 10:00', 5), ('2024-01-02 10:00', 7);
SELECT add_retention_policy('entries', interval '10 years') >= 1000 AS retention_added;
CREATE MATERIALIZED VIEW daily WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, count(*) AS n, sum(minutes) AS minutes FROM entries GROUP BY 1;
-- a refresh job whose owner gave it a config naming no aggregate does not stop the update
INSERT INTO _tally_catalog.bgw_job (application_name, schedule_interval, retry_period, proc_schema,
                                    proc_name, owner, config)
VALUES ('broken', '1 hour', '5 minutes', '_tally_internal', 'policy_refresh_continuous_aggregate',
        current_user::regrole, '{"continuous_aggregate_id": "not a number"}');
ALTER EXTENSION tally UPDATE;
SELECT continuous_aggregate_id IS NULL AS broken_job_has_no_target
  FROM _tally_catalog.bgw_job WHERE application_name = 'broken';
DELETE FROM _tally_catalog.bgw_job WHERE application_name = 'broken';
CREATE MATERIALIZED VIEW daily WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, count(*) AS n, sum(minutes) AS minutes FROM entries GROUP BY 1;
SELECT add_continuous_aggregate_policy('daily', start_offset => NULL, end_offset => NULL,
                                       schedule_interval => interval '1 hour') >= 1000 AS policy_added;
INSERT INTO entries VALUES ('2024-01-01 11:00', 1), ('2024-01-03 10:00', 2);
DELETE FROM entries WHERE minutes = 7;
SELECT * FROM daily ORDER BY day;
SELECT job_id AS refresh_job FROM tally_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate' \gset
CALL run_job(:refresh_job);
SELECT count(*) AS pending FROM _tally_internal._delta_1;
SELECT * FROM daily ORDER BY day;
SELECT job_id AS retention_job FROM tally_information.jobs WHERE proc_name = 'policy_retention' \gset
CALL run_job(:retention_job);
SELECT count(*) AS rows_kept FROM entries;
-- a hypertable made before the upgrade takes calendar chunks
SELECT set_chunk_time_interval('entries', interval '1 month');
INSERT INTO entries VALUES ('2023-05-10 10:00', 3);
SELECT c.range_start, c.range_end, d.time_interval
  FROM entries e
  JOIN pg_class k ON k.oid = e.tableoid
  JOIN tally_information.chunks c ON c.chunk_name = k.relname
  JOIN tally_information.dimensions d ON d.hypertable_name = c.hypertable_name
 WHERE e.at = '2023-05-10 10:00';
DROP MATERIALIZED VIEW daily;
DROP TABLE entries;

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
