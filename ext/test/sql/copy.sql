-- COPY FROM into a hypertable: tally routes the rows itself (src/hypertable/copy.c).
-- Every error is shown twice: through tally's path, then through
-- PostgreSQL's (a WHERE clause sends the COPY there); both must read the same.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT errors

-- rows, rows in the default partition, rows in a chunk whose range misses them
CREATE FUNCTION placement(ht regclass, col name)
    RETURNS TABLE (total bigint, in_default bigint, misplaced bigint)
    LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT count(*), count(*) FILTER (WHERE k.relid IS NULL),
               count(*) FILTER (WHERE k.relid IS NOT NULL
                   AND NOT (_tally_internal.time_to_internal(r.%1$I) >= k.range_start
                            AND _tally_internal.time_to_internal(r.%1$I) < k.range_end))
          FROM %2$s r LEFT JOIN _tally_catalog.chunk k ON k.relid = r.tableoid::regclass$q$, col, ht);
END
$$;

CREATE TABLE dims (id integer PRIMARY KEY);
INSERT INTO dims VALUES (1), (2), (3);
CREATE TABLE te (
    id      bigint NOT NULL,
    t       timestamptz NOT NULL,
    v       integer CHECK (v >= 0),
    dim     integer REFERENCES dims,
    note    text DEFAULT 'none',
    UNIQUE (id, t)
);
SELECT table_name FROM create_hypertable('te', 't', chunk_time_interval => interval '1 day');
SELECT count(*) FROM ensure_chunks('te', '2024-01-01'::timestamptz, '2024-01-04'::timestamptz);

COPY te (id, t, v, dim) FROM stdin;
1	2024-01-01 01:00	10	1
2	2024-01-02 02:00	20	2
3	2024-01-03 03:00	30	\N
\.
-- the same, with the message that says which path ran
SET client_min_messages = debug1;
COPY te (id, t, v, dim) FROM stdin;
4	2024-01-01 04:00	40	3
\.
RESET client_min_messages;
SET client_min_messages = warning;
SELECT id, t, v, dim, note, tableoid::regclass AS chunk FROM te ORDER BY id;
SELECT * FROM placement('te', 't');

-- a row no chunk covers gets its chunk in the COPY itself
BEGIN;
COPY te (id, t, v) FROM stdin;
5	2024-02-01 05:00	50
6	2024-01-02 06:00	60
\.
SELECT * FROM placement('te', 't');
COMMIT;
SELECT * FROM placement('te', 't');
SELECT count(*) AS chunks FROM show_chunks('te');

-- errors name the line; nothing of the failed COPY stays
COPY te (id, t, v) FROM stdin;
7	2024-01-01 07:00	70
8	\N	80
\.
COPY te (id, t, v) FROM stdin WHERE true;
7	2024-01-01 07:00	70
8	\N	80
\.
COPY te (id, t, v) FROM stdin;
9	2024-01-01 09:00	-1
\.
COPY te (id, t, v) FROM stdin WHERE true;
9	2024-01-01 09:00	-1
\.
-- a duplicate key is found when the buffered rows are written: still its own line
COPY te (id, t, v) FROM stdin;
10	2024-01-03 10:00	100
11	2024-01-03 11:00	110
1	2024-01-01 01:00	10
12	2024-01-03 12:00	120
\.
COPY te (id, t, v) FROM stdin WHERE true;
10	2024-01-03 10:00	100
11	2024-01-03 11:00	110
1	2024-01-01 01:00	10
12	2024-01-03 12:00	120
\.
COPY te (id, t, dim) FROM stdin;
13	2024-01-01 13:00	9
\.
COPY te (id, t, dim) FROM stdin WHERE true;
13	2024-01-01 13:00	9
\.
COPY te (id, t) FROM stdin;
14	infinity
\.
COPY te (id, t) FROM stdin WHERE true;
14	infinity
\.
COPY te (id, t) FROM stdin;
15	not a time
\.
-- (psql skips the data of a COPY that fails before it starts, up to its \.)
BEGIN READ ONLY;
COPY te (id, t) FROM stdin;
\.
ROLLBACK;
SELECT count(*) AS rows_after_errors FROM te;

-- privileges: INSERT on the table or on the columns given; server files
CREATE ROLE tally_copier;
GRANT USAGE ON SCHEMA public TO tally_copier;
SET ROLE tally_copier;
COPY te (id, t) FROM stdin;
\.
COPY te FROM 'somefile';
RESET ROLE;
GRANT INSERT (id, t) ON te TO tally_copier;
SET ROLE tally_copier;
COPY te (id, t) FROM stdin;
16	2024-01-02 16:00
\.
COPY te (id, t, v) FROM stdin;
\.
RESET ROLE;
SELECT id, t, v, note FROM te WHERE id = 16;

-- AFTER triggers fire for every row, statement triggers see all rows in
-- their transition table; the COPY stays on tally's path
CREATE FUNCTION te_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'row % into %', NEW.id, TG_TABLE_NAME ~ '^_hyper_\d+_\d+_chunk$';
    RETURN NULL;
END $$;
CREATE FUNCTION te_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING '% rows, ids %', (SELECT count(*) FROM new_rows),
        (SELECT string_agg(id::text, ',' ORDER BY id) FROM new_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER te_row AFTER INSERT ON te FOR EACH ROW EXECUTE FUNCTION te_row();
CREATE TRIGGER te_statement AFTER INSERT ON te REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION te_statement();
COPY te (id, t) FROM stdin;
17	2024-01-01 17:00
18	2024-01-03 18:00
19	2024-01-02 19:00
\.
DROP TRIGGER te_row ON te;
DROP TRIGGER te_statement ON te;

-- a BEFORE ROW trigger: PostgreSQL's path, which runs it
CREATE FUNCTION te_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.note := 'before ' || NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER te_before BEFORE INSERT ON te FOR EACH ROW EXECUTE FUNCTION te_before();
SET client_min_messages = debug1;
COPY te (id, t) FROM stdin;
20	2024-01-02 20:00
\.
RESET client_min_messages;
SET client_min_messages = warning;
DROP TRIGGER te_before ON te;
SELECT id, note FROM te WHERE id = 20;

-- a volatile default: each row is written before the next is read
CREATE FUNCTION te_count() RETURNS integer LANGUAGE sql VOLATILE
    AS 'SELECT count(*)::integer FROM te WHERE id >= 100';
ALTER TABLE te ALTER COLUMN v SET DEFAULT te_count();
COPY te (id, t) FROM stdin;
100	2024-01-01 10:00
101	2024-01-02 10:00
102	2024-01-03 10:00
\.
SELECT id, v FROM te WHERE id >= 100 ORDER BY id;
ALTER TABLE te ALTER COLUMN v DROP DEFAULT;

-- a column dropped from the hypertable: chunks made afterwards have no
-- trace of it, so their rows are laid out differently from the parent's
ALTER TABLE te DROP COLUMN note;
SELECT count(*) FROM ensure_chunks('te', '2024-01-04'::timestamptz, '2024-01-06'::timestamptz);
COPY te (id, t, v, dim) FROM stdin;
200	2024-01-01 20:00	1	1
201	2024-01-04 20:00	2	2
202	2024-01-05 20:00	3	\N
\.
SELECT id, t, v, dim FROM te WHERE id >= 200 ORDER BY id;
SELECT * FROM placement('te', 't');

-- many chunks, rows in random order, in binary and csv: the same rows as
-- PostgreSQL's path puts in the same chunks
CREATE TABLE te_routed (id bigint NOT NULL, t timestamptz NOT NULL, v integer, note text);
CREATE TABLE te_pg (LIKE te_routed);
SELECT table_name FROM create_hypertable('te_routed', 't', chunk_time_interval => interval '1 day');
SELECT table_name FROM create_hypertable('te_pg', 't', chunk_time_interval => interval '1 day');
SELECT count(*) FROM ensure_chunks('te_routed', '2024-01-01'::timestamptz, '2024-04-10'::timestamptz);
SELECT count(*) FROM ensure_chunks('te_pg', '2024-01-01'::timestamptz, '2024-04-10'::timestamptz);
SELECT current_setting('data_directory') || '/tally_copy_test.bin' AS binfile,
       current_setting('data_directory') || '/tally_copy_test.csv' AS csvfile \gset
COPY (SELECT i::bigint, '2024-01-01'::timestamptz + (i * 7919 % 5000) * interval '29 minutes',
             CASE WHEN i % 7 <> 0 THEN i END, repeat('x', i % 50)
        FROM generate_series(1, 5000) i ORDER BY md5(i::text)) TO :'binfile' (FORMAT binary);
COPY te_routed FROM :'binfile' (FORMAT binary);
COPY te_pg FROM :'binfile' (FORMAT binary) WHERE true;
SELECT * FROM placement('te_routed', 't');
SELECT count(DISTINCT tableoid) AS chunks_used FROM te_routed;
SELECT (SELECT count(*) FROM (TABLE te_routed EXCEPT ALL TABLE te_pg) d) AS only_routed,
       (SELECT count(*) FROM (TABLE te_pg EXCEPT ALL TABLE te_routed) d) AS only_pg;
-- the chunk of every row is the same on both sides
SELECT count(*) AS rows_in_other_chunks
  FROM (SELECT r.id, kr.range_start FROM te_routed r JOIN _tally_catalog.chunk kr ON kr.relid = r.tableoid::regclass) a
  JOIN (SELECT p.id, kp.range_start FROM te_pg p JOIN _tally_catalog.chunk kp ON kp.relid = p.tableoid::regclass) b
    USING (id)
 WHERE a.range_start <> b.range_start;
TRUNCATE te_routed;
COPY (TABLE te_pg) TO :'csvfile' (FORMAT csv, HEADER);
COPY te_routed FROM :'csvfile' (FORMAT csv, HEADER);
SELECT (SELECT count(*) FROM (TABLE te_routed EXCEPT ALL TABLE te_pg) d) AS only_routed,
       (SELECT count(*) FROM (TABLE te_pg EXCEPT ALL TABLE te_routed) d) AS only_pg;

-- time columns of the other types
CREATE TABLE ti (n integer NOT NULL, v text);
SELECT table_name FROM create_hypertable('ti', 'n', chunk_time_interval => 10);
SELECT count(*) FROM ensure_chunks('ti', 0, 30);
COPY ti FROM stdin;
5	a
-5	b
25	c
2147483647	d
-2147483648	e
\.
SELECT * FROM placement('ti', 'n');
CREATE TABLE td (d date NOT NULL, v text);
SELECT table_name FROM create_hypertable('td', 'd', chunk_time_interval => interval '30 days');
COPY td FROM stdin;
2024-02-29	a
1999-12-31	b
\.
COPY td FROM stdin;
2024-03-01	c
2024-02-01	d
infinity	e
\.
SELECT * FROM placement('td', 'd');

-- a partitioned table that is not a hypertable is left to PostgreSQL
CREATE TABLE plain_parts (t timestamptz NOT NULL) PARTITION BY RANGE (t);
CREATE TABLE plain_parts_2024 PARTITION OF plain_parts FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
SET client_min_messages = debug1;
COPY plain_parts FROM stdin;
2024-06-01
\.
RESET client_min_messages;
SET client_min_messages = warning;
SELECT count(*) FROM plain_parts_2024;

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP OWNED BY tally_copier;
DROP ROLE tally_copier;
