-- A COPY into intervals that have no chunk makes their chunks as it goes,
-- with no ensure_chunks call: no row lands in the default partition, the
-- chunks get the hypertable's indexes and foreign keys, continuous
-- aggregates see every row once, and a COPY that fails leaves nothing.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION placement(relation regclass, time_column name)
    RETURNS TABLE (total bigint, in_default bigint, misplaced bigint) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT count(*), count(*) FILTER (WHERE t.tableoid = h.default_partition),
                count(*) FILTER (WHERE t.tableoid <> h.default_partition AND NOT EXISTS (
                    SELECT FROM _tally_catalog.chunk k
                     WHERE k.relid = t.tableoid
                       AND _tally_internal.time_to_internal(t.%I) >= k.range_start
                       AND (_tally_internal.time_to_internal(t.%I) < k.range_end
                            OR k.range_end = 9223372036854775807)))
           FROM %s t, _tally_catalog.hypertable h WHERE h.relid = %L::regclass',
        time_column, time_column, relation, relation);
END $$;
-- tables a load made and did not attach
CREATE VIEW loose_tables AS
SELECT count(*) AS loose FROM pg_constraint WHERE conname = 'tally_load_range';

CREATE TABLE staff (id integer PRIMARY KEY, name text);
INSERT INTO staff SELECT n, 'staff ' || n FROM generate_series(1, 5) n;
CREATE TABLE entries (id integer NOT NULL, at timestamptz NOT NULL, staff integer REFERENCES staff,
                      minutes integer CHECK (minutes >= 0), PRIMARY KEY (id, at));
CREATE INDEX ON entries (staff, at);
SELECT table_name FROM create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
CREATE MATERIALIZED VIEW daily WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, staff, count(*) AS n, sum(minutes) AS minutes
      FROM entries GROUP BY 1, 2;

-- 1,000 rows over ten days that have no chunk
\set load_query 'SELECT n, ''2024-01-01''::timestamptz + n * interval ''14 minutes 24 seconds'', 1 + n % 5, n % 60 FROM generate_series(0, 999) n'
SELECT current_setting('data_directory') || '/tally_new_chunks.copy' AS load_file \gset
COPY (:load_query) TO :'load_file';
COPY entries FROM :'load_file';
SELECT * FROM placement('entries', 'at');
SELECT range_start, range_end FROM tally_information.chunks
 WHERE hypertable_name = 'entries' AND range_start < '2025-01-01' ORDER BY range_start LIMIT 3;
SELECT count(*) AS new_chunks FROM tally_information.chunks
 WHERE hypertable_name = 'entries' AND range_start < '2025-01-01';
-- every chunk has the hypertable's three indexes and its foreign key, and no load constraint
SELECT count(*) AS chunks_without_all_indexes FROM _tally_catalog.chunk k
 WHERE (SELECT count(*) FROM pg_index i WHERE i.indrelid = k.relid) <> 3;
SELECT count(*) AS chunks_without_foreign_key FROM _tally_catalog.chunk k
 WHERE NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = k.relid AND c.contype = 'f');
SELECT * FROM loose_tables;
-- the aggregate took every row once
SELECT (SELECT count(*) FROM ((TABLE daily EXCEPT ALL
        SELECT time_bucket('1 day', at), staff, count(*), sum(minutes) FROM entries GROUP BY 1, 2)
        UNION ALL (SELECT time_bucket('1 day', at), staff, count(*), sum(minutes) FROM entries GROUP BY 1, 2
        EXCEPT ALL TABLE daily)) d) AS differences;

-- rows of existing and new chunks in one COPY, and a second COPY into the same new day
COPY entries FROM stdin;
5000	2024-01-03 10:00+00	1	5
5001	2024-02-01 10:00+00	2	6
5002	2024-02-01 11:00+00	3	7
\.
COPY entries FROM stdin;
5003	2024-02-01 12:00+00	3	8
\.
SELECT * FROM placement('entries', 'at');
SELECT count(*) AS chunks_of_february_first FROM tally_information.chunks
 WHERE hypertable_name = 'entries' AND range_start = '2024-02-01';

-- a row whose staff does not exist: refused
COPY entries FROM stdin;
6000	2024-03-01 10:00+00	1	5
6001	2024-03-01 11:00+00	99	5
\.
-- a duplicate key within the load: refused
COPY entries FROM stdin;
6002	2024-03-02 10:00+00	1	5
6002	2024-03-02 10:00+00	2	6
\.
-- a CHECK constraint: refused at the row, with its line
COPY entries FROM stdin;
6003	2024-03-03 10:00+00	1	-5
\.
-- nothing of the failed COPYs is left
SELECT count(*) AS march_rows FROM entries WHERE at >= '2024-03-01';
SELECT count(*) AS march_chunks FROM tally_information.chunks
 WHERE hypertable_name = 'entries' AND range_start >= '2024-03-01' AND range_start < '2025-01-01';
SELECT * FROM loose_tables;

-- a COPY rolled back takes its chunks with it
BEGIN;
COPY entries FROM stdin;
7000	2024-04-01 10:00+00	1	5
\.
SELECT count(*) AS april_chunks_inside FROM tally_information.chunks
 WHERE hypertable_name = 'entries' AND range_start = '2024-04-01';
ROLLBACK;
SELECT count(*) AS april_chunks_after FROM tally_information.chunks
 WHERE hypertable_name = 'entries' AND range_start = '2024-04-01';

-- a hypertable with a row trigger of its own: a table not yet attached
-- would not fire it, so those rows take the default partition until commit
CREATE TABLE watched (at timestamptz NOT NULL, v integer);
SELECT table_name FROM create_hypertable('watched', 'at', chunk_time_interval => interval '1 day');
CREATE TABLE watched_log (v integer);
CREATE FUNCTION log_watched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO watched_log VALUES (NEW.v); RETURN NULL; END $$;
CREATE TRIGGER log_watched AFTER INSERT ON watched FOR EACH ROW EXECUTE FUNCTION log_watched();
BEGIN;
COPY watched FROM stdin;
2024-01-01 10:00+00	1
2024-01-02 10:00+00	2
\.
SELECT * FROM placement('watched', 'at');
COMMIT;
SELECT * FROM placement('watched', 'at');
SELECT v FROM watched_log ORDER BY v;

-- a deferrable foreign key is checked at commit, as PostgreSQL does: those
-- rows take the default partition, not a chunk attached (and checked) at once
CREATE TABLE teams (id integer PRIMARY KEY);
CREATE TABLE shifts (at timestamptz NOT NULL, team integer REFERENCES teams DEFERRABLE INITIALLY DEFERRED);
SELECT table_name FROM create_hypertable('shifts', 'at', chunk_time_interval => interval '1 day');
BEGIN;
COPY shifts FROM stdin;
2024-01-01 10:00+00	2
\.
INSERT INTO teams VALUES (2);
COMMIT;
SELECT * FROM placement('shifts', 'at');

-- calendar months on a date column, and integer time
CREATE TABLE days (d date NOT NULL, v integer);
SELECT table_name FROM create_hypertable('days', 'd', chunk_time_interval => interval '1 month');
COPY days FROM stdin;
2024-01-31	1
2024-02-01	2
2024-02-29	3
2024-03-01	4
\.
SELECT * FROM placement('days', 'd');
SELECT range_start::date, range_end::date FROM tally_information.chunks
 WHERE hypertable_name = 'days' AND range_start < '2025-01-01' ORDER BY range_start;
CREATE TABLE ticks (n integer NOT NULL, v integer);
SELECT table_name FROM create_hypertable('ticks', 'n', chunk_time_interval => 100);
COPY ticks FROM stdin;
5	1
99	2
100	3
-1	4
2147483647	5
\.
SELECT * FROM placement('ticks', 'n');
SELECT range_start_integer, range_end_integer FROM tally_information.chunks
 WHERE hypertable_name = 'ticks' ORDER BY range_start_integer;
SELECT * FROM loose_tables;

DROP MATERIALIZED VIEW daily;
DROP TABLE entries, staff, watched, watched_log, days, ticks, shifts, teams;
DROP VIEW loose_tables;
DROP FUNCTION placement(regclass, name), log_watched();
DROP EXTENSION tally;
