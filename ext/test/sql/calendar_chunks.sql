-- Calendar chunks: chunk_time_interval in months or years makes chunks from
-- the first of a month to the first of a month (in UTC for timestamptz),
-- N months counted from 2000-01-01; and create_hypertable's by_range form.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- the range of the chunk holding a row, as text in UTC
CREATE FUNCTION chunk_of(chunk regclass) RETURNS text
LANGUAGE sql AS $$
    SELECT format('[%s, %s)', c.range_start AT TIME ZONE 'UTC', c.range_end AT TIME ZONE 'UTC')
      FROM tally_information.chunks c
     WHERE format('%I.%I', c.chunk_schema, c.chunk_name)::regclass = chunk
$$;
-- the chunks of a hypertable from 2000 to 2100 (leaving out those ahead of now)
CREATE FUNCTION month_chunks(rel regclass) RETURNS TABLE (range_start timestamp, range_end timestamp, length interval)
LANGUAGE sql AS $$
    SELECT c.range_start AT TIME ZONE 'UTC', c.range_end AT TIME ZONE 'UTC', c.range_end - c.range_start
      FROM tally_information.chunks c
     WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass = rel
       AND c.range_start >= '2000-01-01' AND c.range_end <= '2025-01-01'
     ORDER BY c.range_start
$$;

-- timestamptz: a month per chunk, whatever its length; the last microsecond
-- of a month and the first of the next are in different chunks
CREATE TABLE visits (at timestamptz NOT NULL, n integer);
SELECT * FROM create_hypertable('visits', 'at', chunk_time_interval => interval '1 month');
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'visits';
INSERT INTO visits VALUES ('2023-02-28 23:59:59.999999', 1), ('2023-03-01 00:00:00', 2),
                          ('2024-01-31 23:59:59.999999', 3), ('2024-02-01 00:00:00', 4),
                          ('2024-02-29 23:59:59.999999', 5), ('2024-03-01 00:00:00', 6),
                          ('2024-04-30 23:59:59.999999', 7), ('2024-05-01 00:00:00', 8);
SELECT n, at, chunk_of(tableoid) FROM visits ORDER BY at;
SELECT * FROM month_chunks('visits');
-- the boundaries are UTC midnights whatever the session's time zone
SET timezone = 'America/New_York';
INSERT INTO visits VALUES ('2024-04-30 19:59:59.999999', 9), ('2024-04-30 20:00:00', 10);
SELECT n, at, chunk_of(tableoid) FROM visits WHERE n IN (9, 10) ORDER BY at;
SET timezone = 'UTC';

-- drop_chunks at a month start removes exactly the rows before it
SELECT count(*) AS dropped FROM drop_chunks('visits', older_than => '2024-03-01'::timestamptz);
SELECT n, at FROM visits ORDER BY at, n;
-- and rows still waiting in the default partition go by the same bound
CREATE TABLE waiting (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('waiting', 'at', chunk_time_interval => interval '1 month');
ALTER TABLE _tally_internal._hyper_2_default DISABLE TRIGGER tally_place_stray_row;
INSERT INTO waiting VALUES ('2024-02-29 23:59:59.999999'), ('2024-03-01 00:00:00');
SELECT count(*) AS dropped FROM drop_chunks('waiting', older_than => '2024-03-01'::timestamptz);
SELECT tableoid::regclass, at FROM waiting;
-- chunk maintenance moves the rest into its month
SELECT _tally_internal.maintain_chunks('waiting') >= 1 AS chunk_created;
SELECT at, chunk_of(tableoid) FROM waiting;

-- timestamp and date: the plain calendar
CREATE TABLE shifts (at timestamp NOT NULL);
SELECT table_name FROM create_hypertable('shifts', 'at', chunk_time_interval => interval '1 month');
INSERT INTO shifts VALUES ('2024-02-29 23:59:59.999999'), ('2024-03-01 00:00:00'), ('2024-12-31 23:59:59.999999');
SELECT at, chunk_of(tableoid) FROM shifts ORDER BY at;
SELECT pg_get_expr(relpartbound, oid) FROM pg_class
 WHERE oid = (SELECT tableoid FROM shifts WHERE at = '2024-03-01');
CREATE TABLE due (on_day date NOT NULL);
SELECT table_name FROM create_hypertable('due', 'on_day', chunk_time_interval => interval '1 month');
INSERT INTO due VALUES ('2023-02-28'), ('2023-03-01'), ('2024-02-29'), ('2024-03-01'), ('2024-03-31');
SELECT on_day, chunk_of(tableoid) FROM due ORDER BY on_day;
SELECT pg_get_expr(relpartbound, oid) FROM pg_class
 WHERE oid = (SELECT tableoid FROM due WHERE on_day = '2024-02-29');
SELECT count(*) AS dropped FROM drop_chunks('due', older_than => '2024-03-01'::date);
SELECT on_day FROM due ORDER BY on_day;

-- a year per chunk, and N months counted from 2000-01-01 (as time_bucket's)
CREATE TABLE yearly (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('yearly', 'at', chunk_time_interval => interval '1 year');
INSERT INTO yearly VALUES ('2023-12-31 23:59:59.999999'), ('2024-01-01'), ('2024-07-01');
SELECT at, chunk_of(tableoid) FROM yearly ORDER BY at;
CREATE TABLE quarterly (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('quarterly', 'at', chunk_time_interval => interval '3 months');
INSERT INTO quarterly VALUES ('2024-03-31 23:59:59.999999'), ('2024-04-01'), ('2024-06-30'), ('2024-11-15');
SELECT at, chunk_of(tableoid) FROM quarterly ORDER BY at;
CREATE TABLE septennial (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('septennial', 'at', chunk_time_interval => interval '7 months');
INSERT INTO septennial VALUES ('2000-01-01'), ('2000-08-01'), ('2024-05-15');
SELECT at, chunk_of(tableoid) FROM septennial ORDER BY at;
SELECT at, time_bucket(interval '7 months', at) AS bucket FROM septennial ORDER BY at;
SELECT hypertable_name, time_interval FROM tally_information.dimensions
 WHERE hypertable_name IN ('yearly', 'quarterly', 'septennial') ORDER BY 1;
-- at the ends of the timestamps, month chunks are clipped to them
CREATE TABLE edges (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('edges', 'at', chunk_time_interval => interval '1 month');
INSERT INTO edges VALUES ('4714-11-24 00:00:00+00 BC'), ('294276-12-31 23:59:59.999999+00');
SELECT at, chunk_of(tableoid) FROM edges ORDER BY at;

-- widths that are refused
CREATE TABLE refused (at timestamptz NOT NULL, tick integer NOT NULL);
SELECT create_hypertable('refused', 'at', chunk_time_interval => interval '1 month 2 days');
SELECT create_hypertable('refused', 'at', chunk_time_interval => interval '1 year -1 hour');
SELECT create_hypertable('refused', 'at', chunk_time_interval => interval '-1 month');
SELECT create_hypertable('refused', 'tick', chunk_time_interval => interval '1 month');
SELECT create_hypertable('refused', by_range('tick', interval '1 year'));
CREATE TABLE ticks (tick bigint NOT NULL);
SELECT table_name FROM create_hypertable('ticks', 'tick', chunk_time_interval => 1000);
SELECT set_chunk_time_interval('ticks', interval '1 month');
SELECT relkind FROM pg_class WHERE oid = 'refused'::regclass;

-- chunks for now and the next month exist from the start
SELECT count(*) AS chunks_ahead,
       min(range_start) = date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS first_is_this_month,
       max(range_end) = (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months') AT TIME ZONE 'UTC'
           AS second_ends_after_next_month
  FROM tally_information.chunks WHERE hypertable_name = 'visits' AND range_end > now();

-- ensure_chunks counts months before creating them: 1001 are too many
SELECT chunk_of(c) FROM ensure_chunks('visits', '2024-06-15'::timestamptz, '2024-09-01'::timestamptz) c;
SELECT ensure_chunks('visits', '1900-01-31'::timestamptz, '1983-05-01'::timestamptz);

-- switching widths: the chunks that exist keep their ranges, a new chunk is
-- clipped where it would overlap them
CREATE TABLE switched (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('switched', 'at', chunk_time_interval => interval '7 days');
INSERT INTO switched VALUES ('2024-03-01');
SELECT set_chunk_time_interval('switched', interval '1 month');
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'switched';
INSERT INTO switched VALUES ('2024-03-20'), ('2024-02-27'), ('2024-05-05');
SELECT at, chunk_of(tableoid) FROM switched ORDER BY at;
SELECT set_chunk_time_interval('switched', interval '10 days');
INSERT INTO switched VALUES ('2024-04-02');
SELECT at, chunk_of(tableoid) FROM switched WHERE at = '2024-04-02';
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'switched';

-- converting a populated table gives each row its month
CREATE TABLE ledger (id integer, booked timestamptz NOT NULL);
INSERT INTO ledger VALUES (1, '2024-01-31 23:59:59.999999'), (2, '2024-02-01'), (3, '2024-02-29 12:00'), (4, '2024-03-01');
SELECT table_name FROM create_hypertable('ledger', 'booked', chunk_time_interval => interval '1 month',
                                         migrate_data => true);
SELECT id, chunk_of(tableoid) FROM ledger ORDER BY id;

-- retention: a policy that drops at a month start leaves that month whole
CREATE TABLE kept (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('kept', 'at', chunk_time_interval => interval '1 month');
INSERT INTO kept VALUES ('2024-01-15'), ('2024-02-29 23:59:59.999999'), ('2024-03-01 00:00:00'), ('2024-03-31');
SELECT add_retention_policy('kept', drop_after => '2024-03-01'::timestamptz) AS kept_job \gset
SELECT config FROM tally_information.jobs WHERE job_id = :kept_job;
CALL run_job(:kept_job);
SELECT at FROM kept ORDER BY at;
-- drop_after in months: the chunks that ended a month ago or more go
CREATE TABLE recent (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('recent', 'at', chunk_time_interval => interval '1 month');
INSERT INTO recent
SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - n * interval '1 month') AT TIME ZONE 'UTC'
  FROM generate_series(0, 3) n;
SELECT add_retention_policy('recent', drop_after => interval '1 month') AS recent_job \gset
SELECT config FROM tally_information.jobs WHERE job_id = :recent_job;
CALL run_job(:recent_job);
SELECT age(date_trunc('month', now() AT TIME ZONE 'UTC'), at AT TIME ZONE 'UTC') AS months_ago
  FROM recent ORDER BY at;

-- by_range: create_hypertable(relation, dimension), TimescaleDB 2.13's form
SELECT by_range('at', interval '1 month');
SELECT by_range('at');
CREATE TABLE readings (at timestamptz NOT NULL, tick bigint NOT NULL);
SELECT * FROM create_hypertable('readings', by_range('at'));
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'readings';
SELECT * FROM create_hypertable('readings', by_range('at', interval '1 month'), if_not_exists => true);
SELECT * FROM create_hypertable('readings', by_range('at', interval '1 month'));
DROP TABLE readings;
CREATE TABLE readings (at timestamptz NOT NULL, tick bigint NOT NULL);
SELECT * FROM create_hypertable(relation => 'readings', dimension => by_range('at', interval '1 month'),
                                create_default_indexes => false);
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'readings';
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'readings'::regclass;
CREATE TABLE counters (tick bigint NOT NULL);
SELECT * FROM create_hypertable('counters', by_range('tick', 1000));
SELECT integer_interval FROM tally_information.dimensions WHERE hypertable_name = 'counters';
CREATE TABLE notes (at date NOT NULL);
INSERT INTO notes VALUES ('2024-02-29'), ('2024-03-01');
SELECT * FROM create_hypertable('notes', by_range('at', interval '1 year'), migrate_data => true);
SELECT at, chunk_of(tableoid) FROM notes ORDER BY at;
SELECT create_hypertable('notes', by_range('at', 1.5));
SELECT create_hypertable('notes', by_range('at', partition_func => 'pg_catalog.now'::regproc));
SELECT create_hypertable('notes', NULL::_tally_internal.dimension_info);
-- the older form is unchanged: a column name given as a string literal, or by name
CREATE TABLE older (at timestamptz NOT NULL);
SELECT create_hypertable('older', 'at');
DROP TABLE older;
CREATE TABLE older (at timestamptz NOT NULL);
SELECT * FROM create_hypertable(relation => 'older', time_column_name => 'at',
                                chunk_time_interval => interval '1 year');
SELECT create_hypertable('older', 'at', if_not_exists => true);

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
