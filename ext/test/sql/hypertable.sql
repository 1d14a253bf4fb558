-- create_hypertable on every kind of table, and where rows go.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- chunks of a hypertable, leaving out the ones made ahead of now
CREATE FUNCTION chunk_ranges(rel regclass) RETURNS TABLE (chunk text, range_start text, range_end text)
LANGUAGE sql AS $$
    SELECT c.chunk_name::text,
           coalesce(c.range_start::text, c.range_start_integer::text),
           coalesce(c.range_end::text, c.range_end_integer::text)
      FROM tally_information.chunks c
     WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass = rel
       AND (c.range_end <= '2025-01-01' OR c.range_start >= '2100-01-01'
            OR c.range_start IS NULL OR c.range_end IS NULL)
     ORDER BY c.range_start, c.range_start_integer
$$;

-- rows that have no chunk yet
CREATE FUNCTION rows_outside_chunks(rel regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ONLY %s',
                   (SELECT default_partition FROM _tally_catalog.hypertable WHERE relid = rel)) INTO n;
    RETURN n;
END $$;

-- the tables a query's plan scans after pruning at plan time and at start-up
CREATE FUNCTION scanned(query text) RETURNS TABLE (relation text, subplans_removed int)
LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || query INTO plan;
    RETURN QUERY
    WITH RECURSIVE nodes(node) AS (
        SELECT plan->0->'Plan'
        UNION ALL
        SELECT child FROM nodes, jsonb_array_elements(node->'Plans') child
    )
    SELECT string_agg(node->>'Relation Name', ', ' ORDER BY node->>'Relation Name'),
           max((node->>'Subplans Removed')::int)
      FROM nodes;
END $$;

-- an empty table; default interval 7 days; chunks ahead of now exist
CREATE TABLE time_entries (
    id bigint GENERATED ALWAYS AS IDENTITY,
    staff_id integer NOT NULL,
    started_at timestamptz NOT NULL,
    minutes integer CHECK (minutes >= 0),
    PRIMARY KEY (id, started_at)
);
SELECT * FROM create_hypertable('time_entries', 'started_at');
SELECT hypertable_name, column_name, column_type, dimension_type, time_interval, integer_interval
  FROM tally_information.dimensions;
SELECT hypertable_name, num_dimensions, num_chunks >= 2 AS has_chunks_ahead, compression_enabled
  FROM tally_information.hypertables;
SELECT count(*) AS chunks_covering_now_and_next FROM tally_information.chunks
 WHERE range_start <= now() + interval '7 days' AND range_end > now();
SELECT * FROM create_hypertable('time_entries', 'started_at', if_not_exists => true);
SELECT * FROM create_hypertable('time_entries', 'started_at');

-- rows of any time go to the chunk of their interval once committed:
-- INSERT, INSERT ... SELECT and COPY
INSERT INTO time_entries (staff_id, started_at, minutes)
VALUES (1, '2024-01-10 09:00', 30), (2, '2024-01-11 10:00', 45), (1, '1970-01-01 00:00', 5),
       (3, '2199-12-31 23:59:59', 1), (4, '1000-06-01 00:00', 2);
INSERT INTO time_entries (staff_id, started_at, minutes)
SELECT 5, '2024-02-01'::timestamptz + n * interval '1 day', n FROM generate_series(0, 9) n;
COPY time_entries (staff_id, started_at, minutes) FROM stdin;
6	2023-12-31 23:59:59.999999+00	7
6	2024-01-04 00:00:00+00	8
\.
SELECT * FROM chunk_ranges('time_entries');
SELECT rows_outside_chunks('time_entries');
SELECT tableoid::regclass AS chunk, started_at, minutes FROM time_entries
 WHERE started_at < '2024-01-12' ORDER BY started_at;
-- the identity keeps counting and constraints hold in every chunk
SELECT max(id) FROM time_entries;
INSERT INTO time_entries (staff_id, started_at, minutes) VALUES (1, '2024-01-10', -1);
INSERT INTO time_entries (id, staff_id, started_at, minutes) OVERRIDING SYSTEM VALUE
VALUES (1, 1, '2024-01-10 09:00', 30);
-- infinite and NULL times are refused
INSERT INTO time_entries (staff_id, started_at, minutes) VALUES (1, 'infinity', 1);
INSERT INTO time_entries (staff_id, started_at, minutes) VALUES (1, '-infinity', 1);
INSERT INTO time_entries (staff_id, started_at, minutes) VALUES (1, NULL, 1);
-- a row updated into another interval moves to that interval's chunk
UPDATE time_entries SET started_at = '2024-01-03 12:00' WHERE minutes = 30;
SELECT tableoid::regclass AS chunk, started_at FROM time_entries WHERE minutes = 30;

-- a query on a time range scans only the chunks it needs
SELECT * FROM scanned($$SELECT count(*) FROM time_entries
                        WHERE started_at >= '2024-01-04' AND started_at < '2024-01-11'$$);
SELECT * FROM scanned($$SELECT count(*) FROM time_entries
                        WHERE started_at >= '2023-12-30' AND started_at < '2024-01-11'$$);
-- a range over a gap between chunks must also read the default partition
SELECT * FROM scanned($$SELECT count(*) FROM time_entries
                        WHERE started_at >= '2024-01-04' AND started_at < '2024-01-25'$$);
-- now() is pruned at executor start-up: only chunks from yesterday on remain
SELECT * FROM scanned($$SELECT count(*) FROM time_entries
                        WHERE started_at > now() - interval '1 day'$$);
-- and a prepared statement's parameter too
PREPARE by_range(timestamptz, timestamptz) AS
    SELECT count(*) FROM time_entries WHERE started_at >= $1 AND started_at < $2;
SET plan_cache_mode = force_generic_plan;
SELECT * FROM scanned($$EXECUTE by_range('2024-02-01', '2024-02-08')$$);
EXECUTE by_range('2024-02-01', '2024-02-08');
RESET plan_cache_mode;

-- a populated table needs migrate_data; without it nothing changes
CREATE TABLE billing_clients (id integer PRIMARY KEY);
INSERT INTO billing_clients SELECT generate_series(0, 6);
CREATE TABLE invoices (
    id serial,
    client_id integer NOT NULL REFERENCES billing_clients (id),
    issued_on date NOT NULL,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text
);
COMMENT ON TABLE invoices IS 'billed work';
COMMENT ON COLUMN invoices.amount IS 'in euros';
CREATE UNIQUE INDEX invoices_id_issued_on ON invoices (id, issued_on);
CREATE INDEX invoices_client ON invoices (client_id);
CREATE FUNCTION invoices_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.note := coalesce(NEW.note, 'auto'); RETURN NEW; END $$;
CREATE TRIGGER invoices_note BEFORE INSERT ON invoices FOR EACH ROW EXECUTE FUNCTION invoices_note();
CREATE ROLE tally_reader;
GRANT SELECT ON invoices TO tally_reader;
INSERT INTO invoices (client_id, issued_on, amount)
SELECT n % 7, date '2023-01-01' + n * 3, n * 10.5 FROM generate_series(1, 200) n;
ALTER TABLE invoices REPLICA IDENTITY FULL;
SELECT * FROM create_hypertable('invoices', 'issued_on', chunk_time_interval => interval '30 days');
SELECT relkind, (SELECT count(*) FROM invoices) AS row_count FROM pg_class WHERE oid = 'invoices'::regclass;
SELECT * FROM create_hypertable('invoices', 'issued_on', chunk_time_interval => interval '30 days',
                                migrate_data => true);
SELECT relkind, relreplident, obj_description(oid, 'pg_class') AS comment,
       col_description(oid, 4) AS amount_comment
  FROM pg_class WHERE oid = 'invoices'::regclass;
SELECT count(*), sum(amount), min(issued_on), max(issued_on), count(*) FILTER (WHERE note = 'auto') AS by_trigger
  FROM invoices;
SELECT rows_outside_chunks('invoices');
SELECT count(*) AS chunks FROM show_chunks('invoices', older_than => '2026-01-01'::date);
SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'invoices' ORDER BY indexname;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'invoices'::regclass AND NOT tgisinternal;
SELECT has_table_privilege('tally_reader', 'invoices', 'SELECT') AS reader_can_select;
SELECT pg_get_serial_sequence('invoices', 'id') AS sequence;
INSERT INTO invoices (client_id, issued_on) VALUES (1, '2024-06-01') RETURNING id, note;
-- its foreign key came along and holds in every chunk
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'invoices'::regclass AND contype = 'f';
INSERT INTO invoices (client_id, issued_on) VALUES (99, '2023-02-01');
SELECT time_interval FROM tally_information.dimensions WHERE hypertable_name = 'invoices';

-- tables that cannot become hypertables: nothing is changed
CREATE TABLE payments (id integer PRIMARY KEY, paid_at timestamptz NOT NULL);
SELECT create_hypertable('payments', 'paid_at');
CREATE TABLE staff (id integer, hired timestamptz);
CREATE VIEW staff_view AS SELECT * FROM staff;
SELECT create_hypertable('staff', 'hired');
DROP VIEW staff_view;
CREATE TABLE assignment (staff_id integer REFERENCES payments (id), at timestamptz);
SELECT create_hypertable('payments', 'id', chunk_time_interval => 100);
SELECT create_hypertable('staff', 'nope');
SELECT create_hypertable('staff', 'id');
ALTER TABLE staff ADD COLUMN note text;
SELECT create_hypertable('staff', 'note');
SELECT create_hypertable('staff', 'hired', chunk_time_interval => interval '1 month 2 days');
SELECT create_hypertable('staff', 'hired', chunk_time_interval => interval '0 days');
SELECT create_hypertable('staff', 'hired', chunk_time_interval => 'abc'::text);
SELECT create_hypertable('staff', 'hired', partitioning_column => 'id', number_partitions => 2);
CREATE VIEW v AS SELECT 1 AS x;
SELECT create_hypertable('v', 'x');
SELECT relkind FROM pg_class WHERE relname IN ('payments', 'staff') ORDER BY relname;

-- integer time columns need an integer chunk interval
CREATE TABLE readings (tick bigint NOT NULL, value double precision);
SELECT create_hypertable('readings', 'tick');
SELECT create_hypertable('readings', 'tick', chunk_time_interval => interval '1 day');
SELECT table_name FROM create_hypertable('readings', 'tick', chunk_time_interval => 1000);
INSERT INTO readings SELECT n * 250 - 1000, n FROM generate_series(0, 12) n;
SELECT * FROM chunk_ranges('readings');
SELECT count(*) FROM show_chunks('readings', older_than => 0);
SELECT count(*) FROM show_chunks('readings', newer_than => 1000);
SELECT show_chunks('readings', older_than => interval '1 day');
CREATE TABLE small_ticks (tick smallint NOT NULL);
SELECT table_name FROM create_hypertable('small_ticks', 'tick', chunk_time_interval => 100);
INSERT INTO small_ticks VALUES (-32768), (32767), (0), (-32700), (32700);
SELECT * FROM chunk_ranges('small_ticks');
SELECT tableoid::regclass, tick FROM small_ticks ORDER BY tick;

-- timestamp without time zone and date
CREATE TABLE events (at timestamp NOT NULL, what text);
SELECT table_name FROM create_hypertable('events', 'at', chunk_time_interval => interval '1 day');
INSERT INTO events VALUES ('2024-03-31 01:30', 'a'), ('2024-03-31 23:59:59.999999', 'b');
SELECT * FROM chunk_ranges('events');
CREATE TABLE deadlines (due date NOT NULL);
SELECT create_hypertable('deadlines', 'due', chunk_time_interval => interval '36 hours');
SELECT table_name FROM create_hypertable('deadlines', 'due', chunk_time_interval => interval '2 days');
INSERT INTO deadlines VALUES ('2024-02-28'), ('2024-02-29'), ('2024-03-01');
SELECT * FROM chunk_ranges('deadlines');
INSERT INTO deadlines VALUES ('infinity');

-- a table already partitioned by range on the time column keeps its partitions
CREATE TABLE clients (id integer, created_at timestamptz NOT NULL, revenue numeric)
    PARTITION BY RANGE (created_at);
CREATE TABLE clients_old PARTITION OF clients FOR VALUES FROM (MINVALUE) TO ('2020-01-01');
CREATE TABLE clients_2020 PARTITION OF clients FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
INSERT INTO clients VALUES (1, '2019-05-01', 10), (2, '2020-05-01', 20);
SELECT table_name FROM create_hypertable('clients', 'created_at', chunk_time_interval => interval '365 days');
SELECT * FROM chunk_ranges('clients');
INSERT INTO clients VALUES (3, '2021-03-01', 30);
SELECT tableoid::regclass, id FROM clients ORDER BY id;
-- the new chunk is clipped where it would overlap an adopted partition
SELECT * FROM chunk_ranges('clients');
CREATE TABLE by_id (id integer, at timestamptz) PARTITION BY RANGE (id);
SELECT create_hypertable('by_id', 'at');
CREATE TABLE by_list (id integer, at timestamptz) PARTITION BY LIST (at);
SELECT create_hypertable('by_list', 'at');

-- an UPDATE that moves a row into an interval without a chunk: the row gets one at commit
CREATE TABLE moved (at timestamptz NOT NULL, v integer);
SELECT table_name FROM create_hypertable('moved', 'at', chunk_time_interval => interval '1 day');
INSERT INTO moved VALUES ('2024-01-01 10:00', 1);
UPDATE moved SET at = '2019-05-05 10:00' WHERE v = 1;
SELECT k.range_start, k.range_end, m.at
  FROM moved m JOIN tally_information.chunks k ON k.chunk_name = (SELECT relname FROM pg_class WHERE oid = m.tableoid);

-- an identity column of a converted table keeps counting where it was
CREATE TABLE ident (id bigint GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL);
INSERT INTO ident (at) SELECT '2024-01-01'::timestamptz + n * interval '1 day' FROM generate_series(1, 5) n;
SELECT table_name FROM create_hypertable('ident', 'at', migrate_data => true);
INSERT INTO ident (at) VALUES ('2024-03-01') RETURNING id;
SELECT pg_get_serial_sequence('ident', 'id') AS sequence;

-- dropping a hypertable removes it from the catalog
DROP TABLE readings;
SELECT hypertable_name FROM tally_information.hypertables ORDER BY 1;
SELECT count(*) FROM _tally_catalog.chunk c
 WHERE NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = c.relid);

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP OWNED BY tally_reader;
DROP ROLE tally_reader;
