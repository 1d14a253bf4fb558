-- show_chunks, drop_chunks, ensure_chunks, set_chunk_time_interval, sizes.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

CREATE TABLE entries (at timestamptz NOT NULL, minutes integer);
SELECT table_name FROM create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
-- ensure_chunks creates every chunk of a range, once
SELECT ensure_chunks('entries', '2024-01-01'::timestamptz, '2024-01-05 12:00'::timestamptz);
SELECT ensure_chunks('entries', '2024-01-03'::timestamptz, '2024-01-06'::timestamptz);
SELECT ensure_chunks('entries', '2024-01-06'::timestamptz, '2024-01-01'::timestamptz);
SELECT ensure_chunks('entries', '1900-01-01'::timestamptz, '2024-01-01'::timestamptz);
SELECT ensure_chunks('entries', 'infinity'::timestamptz, 'infinity'::timestamptz);
SELECT ensure_chunks('staff_nope'::regclass, 1, 2);
INSERT INTO entries SELECT '2024-01-01'::timestamptz + n * interval '1 hour', n FROM generate_series(0, 143) n;
-- a row with no chunk, caught in the default partition until its commit
BEGIN;
INSERT INTO entries VALUES ('2023-06-01 10:00', 1000);
SELECT count(*) AS waiting_in_default
  FROM ONLY _tally_internal._hyper_1_default;
ROLLBACK;

-- show_chunks: by interval, timestamp, date, text, and both bounds
SELECT show_chunks('entries', older_than => '2024-01-03'::timestamptz);
SELECT show_chunks('entries', newer_than => '2024-01-05'::timestamptz, older_than => '2024-01-07'::date);
SELECT show_chunks('entries', older_than => '2024-01-02 00:00:00+00');
SELECT count(*) AS older_than_a_year FROM show_chunks('entries', older_than => interval '1 year');
SELECT count(*) AS all_chunks FROM show_chunks('entries');
SELECT count(*) AS created_recently FROM show_chunks('entries', created_after => interval '1 hour');
SELECT count(*) AS created_before_2000 FROM show_chunks('entries', created_before => '2000-01-01'::timestamptz);
SELECT show_chunks('entries', older_than => 42);
SELECT show_chunks('entries', older_than => 'yesterday-ish');
SELECT show_chunks('entries', created_before => 42);
SELECT show_chunks('not_there', older_than => interval '1 day');
CREATE TABLE plain (at timestamptz);
SELECT show_chunks('plain');

-- drop_chunks: whole chunks older than the bound, and default-partition rows too
SELECT count(*) FROM entries;
SELECT drop_chunks('entries', older_than => '2024-01-03'::timestamptz, verbose => true);
SELECT min(at), count(*) FROM entries;
SELECT drop_chunks('entries', newer_than => '2024-01-06'::timestamptz, older_than => '2024-01-08'::timestamptz);
SELECT max(at) FILTER (WHERE at < '2025-01-01'), count(*) FROM entries;
SELECT drop_chunks('entries');
-- a bound inside a chunk keeps the chunk that straddles it
SELECT drop_chunks('entries', older_than => '2024-01-04 12:00'::timestamptz);
SELECT show_chunks('entries', older_than => '2024-01-10'::timestamptz);
SELECT drop_chunks('entries', older_than => interval '1 day', created_before => now());
SELECT drop_chunks('plain', older_than => interval '1 day');
-- rows that never had a chunk are deleted by the same bound
CREATE TABLE stray (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('stray', 'at', chunk_time_interval => interval '1 day');
ALTER TABLE _tally_internal._hyper_2_default DISABLE TRIGGER tally_place_stray_row;
INSERT INTO stray VALUES ('2020-01-01'), ('2020-06-01'), ('2021-01-01');
SELECT count(*) AS in_default FROM ONLY _tally_internal._hyper_2_default;
SELECT drop_chunks('stray', older_than => '2020-06-01'::timestamptz);
SELECT at FROM stray ORDER BY at;
-- chunk maintenance moves the rest into chunks
SELECT _tally_internal.maintain_chunks('stray') >= 2 AS chunks_created;
SELECT count(*) AS in_default FROM ONLY _tally_internal._hyper_2_default;
SELECT tableoid::regclass, at FROM stray ORDER BY at;

-- set_chunk_time_interval applies to chunks created from now on
SELECT set_chunk_time_interval('entries', interval '7 days');
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'entries';
INSERT INTO entries VALUES ('2024-03-01', 1);
SELECT range_start, range_end FROM tally_information.chunks c
  JOIN pg_class k ON k.relname = c.chunk_name
 WHERE k.oid = (SELECT tableoid FROM entries WHERE at = '2024-03-01');
-- a new chunk next to an old one is clipped so the two never overlap
INSERT INTO entries VALUES ('2024-01-10 06:00', 2);
SELECT range_start, range_end FROM tally_information.chunks c
  JOIN pg_class k ON k.relname = c.chunk_name
 WHERE k.oid = (SELECT tableoid FROM entries WHERE at = '2024-01-10 06:00');
SELECT set_chunk_time_interval('entries', interval '-1 day');
SELECT set_chunk_time_interval('entries', 5000000000);
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'entries';
SELECT set_chunk_time_interval('entries', interval '1 day', dimension_name => 'other');
SELECT set_chunk_time_interval('plain', interval '1 day');

-- sizes add up over chunks and the default partition
CREATE INDEX ON entries (minutes);
SELECT table_bytes > 0 AS has_table, index_bytes > 0 AS has_indexes,
       total_bytes = table_bytes + index_bytes + toast_bytes AS adds_up
  FROM hypertable_detailed_size('entries');
SELECT hypertable_size('entries') = (SELECT sum(total_bytes) FROM chunks_detailed_size('entries'))
       + pg_total_relation_size('_tally_internal._hyper_1_default') AS size_is_chunks_plus_default;
SELECT count(*) = (SELECT count(*) FROM show_chunks('entries')) AS one_row_per_chunk
  FROM chunks_detailed_size('entries');
SELECT hypertable_size('plain');

-- only the owner may change a hypertable, whatever the functions run as
CREATE ROLE tally_intruder;
GRANT SELECT ON entries TO tally_intruder;
SET SESSION AUTHORIZATION tally_intruder;
SELECT drop_chunks('entries', older_than => interval '1 day');
SELECT ensure_chunks('entries', '2024-05-01'::timestamptz, '2024-05-02'::timestamptz);
SELECT set_chunk_time_interval('entries', interval '1 day');
SELECT _tally_internal.maintain_chunks('entries');
SELECT create_hypertable('plain', 'at');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS chunks_unchanged FROM show_chunks('entries');

-- a chunk dropped by hand leaves the catalog
SELECT count(*) AS chunks_before FROM show_chunks('entries');
DROP TABLE _tally_internal._hyper_1_3_chunk;
SELECT count(*) AS chunks_after FROM show_chunks('entries');

-- a row waiting in the default partition, then TRUNCATE in the same
-- transaction: the row is moved first (PostgreSQL refuses to truncate a table
-- with pending trigger events), then everything is emptied
BEGIN;
INSERT INTO entries VALUES ('2023-06-01 10:00', 1000);
SAVEPOINT before_truncate;
TRUNCATE entries;
SELECT count(*) AS rows_left FROM entries;
ROLLBACK TO SAVEPOINT before_truncate;
SELECT count(*) AS waiting_in_default FROM ONLY _tally_internal._hyper_1_default;
ROLLBACK;

-- the ends of a type's range: a chunk there is clipped to the type, so the
-- catalog says which values it holds, and bounds compare exactly
CREATE FUNCTION ranges(rel regclass) RETURNS TABLE (chunk regclass, range_start text, range_end text)
LANGUAGE sql AS $$
    SELECT format('%I.%I', c.chunk_schema, c.chunk_name)::regclass,
           coalesce(c.range_start::text, c.range_start_integer::text),
           coalesce(c.range_end::text, c.range_end_integer::text)
      FROM tally_information.chunks c
     WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass = rel
     ORDER BY c.range_start_integer, c.range_start
$$;
CREATE TABLE big (t bigint NOT NULL);
SELECT table_name FROM create_hypertable('big', 't', chunk_time_interval => 1000000000000000000);
INSERT INTO big VALUES (-9223372036854775808), (-9223372036854775807), (0),
                       (9223372036854775806), (9223372036854775807);
-- every row has a chunk, the smallest bigint too
SELECT tableoid::regclass, t FROM big ORDER BY t;
SELECT * FROM ranges('big');
SELECT show_chunks('big', newer_than => -9223372036854775808);
-- the largest bigint is older than nothing: its chunk stays
SELECT drop_chunks('big', older_than => 9223372036854775807);
SELECT t FROM big ORDER BY t;
-- rows in the default partition: exactly those below the bound are deleted
SELECT drop_chunks('big', newer_than => 0);
ALTER TABLE _tally_internal._hyper_3_default DISABLE TRIGGER tally_place_stray_row;
INSERT INTO big VALUES (9223372036854775805), (9223372036854775806), (9223372036854775807);
SELECT drop_chunks('big', older_than => 9223372036854775806);
SELECT tableoid::regclass, t FROM big ORDER BY t;
ALTER TABLE _tally_internal._hyper_3_default ENABLE ALWAYS TRIGGER tally_place_stray_row;
-- chunks one value wide up to the largest bigint; the rows move in
SELECT set_chunk_time_interval('big', 1);
SELECT ensure_chunks('big', 9223372036854775805, 9223372036854775807);
SELECT * FROM ranges('big');
SELECT tableoid::regclass, t FROM big ORDER BY t;
SELECT drop_chunks('big', older_than => 9223372036854775807);
SELECT t FROM big ORDER BY t;

CREATE TABLE small (t smallint NOT NULL);
SELECT table_name FROM create_hypertable('small', 't', chunk_time_interval => 10000);
INSERT INTO small VALUES (-32768), (-32767), (0), (32766), (32767);
SELECT * FROM ranges('small');
SELECT count(*) AS newer_than_min FROM show_chunks('small', newer_than => '-32768'::smallint);
SELECT drop_chunks('small', older_than => 32767::smallint);
SELECT t FROM small ORDER BY t;
CREATE TABLE medium (t integer NOT NULL);
SELECT table_name FROM create_hypertable('medium', 't', chunk_time_interval => 1000000000);
INSERT INTO medium VALUES (-2147483648), (0), (2147483647);
SELECT * FROM ranges('medium');
SELECT count(*) AS newer_than_min FROM show_chunks('medium', newer_than => -2147483648);
SELECT drop_chunks('medium', older_than => 2147483647);
SELECT t FROM medium ORDER BY t;

-- timestamps: the first and last microsecond have chunks, shown in the view
CREATE TABLE moments (t timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('moments', 't', chunk_time_interval => interval '7 days');
INSERT INTO moments VALUES ('4714-11-24 00:00:00+00 BC'), ('2024-01-01'), ('294276-12-31 23:59:59.999999+00');
SELECT * FROM ranges('moments') WHERE range_end < '2000-01-01' OR range_start > '2100-01-01';
SELECT pg_get_expr(relpartbound, oid) FROM pg_class
 WHERE oid IN (SELECT tableoid FROM moments WHERE t <> '2024-01-01') ORDER BY 1;
SELECT count(*) AS newer_than_min FROM show_chunks('moments', newer_than => '4714-11-24 00:00:00+00 BC'::timestamptz);
SELECT count(*) AS dropped FROM drop_chunks('moments', older_than => '294276-12-31 23:59:59.999999+00'::timestamptz);
SELECT t FROM moments ORDER BY t;
CREATE TABLE local_moments (t timestamp NOT NULL);
SELECT table_name FROM create_hypertable('local_moments', 't', chunk_time_interval => interval '30 days');
INSERT INTO local_moments VALUES ('4714-11-24 00:00:00 BC'), ('294276-12-31 23:59:59.999999');
SELECT * FROM ranges('local_moments') WHERE range_end < '2000-01-01' OR range_start > '2100-01-01';
-- dates: the last date with a chunk is the last day of timestamps; a later
-- date stays in the default partition
CREATE TABLE days (d date NOT NULL);
SELECT table_name FROM create_hypertable('days', 'd', chunk_time_interval => interval '7 days');
INSERT INTO days VALUES ('4714-11-24 BC'), ('294276-12-31'), ('294277-01-01');
SELECT tableoid::regclass, d FROM days ORDER BY d;
SELECT * FROM ranges('days') WHERE range_end < '2000-01-01' OR range_start > '2100-01-01';
SELECT pg_get_expr(relpartbound, oid) FROM pg_class
 WHERE oid IN (SELECT tableoid FROM days WHERE d > '2000-01-01') ORDER BY 1;
SELECT _tally_internal.maintain_chunks('days') AS chunks_created;
SELECT drop_chunks('days', older_than => '294277-01-01'::date);
SELECT d FROM days ORDER BY d;

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP OWNED BY tally_intruder;
DROP ROLE tally_intruder;
