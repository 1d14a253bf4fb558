-- A chunk detached by hand leaves the catalog; an ALTER TABLE that does not
-- concern a hypertable never reads the chunk catalog, however many chunks
-- there are.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE readings (at timestamptz NOT NULL, v integer);
SELECT table_name FROM create_hypertable('readings', 'at', chunk_time_interval => interval '1 day');
SELECT count(*) AS chunks FROM ensure_chunks('readings', '2024-01-01'::timestamptz, '2024-03-31'::timestamptz);
CREATE TABLE unrelated (id integer);

-- this backend's statistics, not yet reported, count every read of the catalog
BEGIN;
SELECT seq_scan + coalesce(idx_scan, 0) AS reads_before
  FROM pg_stat_xact_all_tables WHERE relid = '_tally_catalog.chunk'::regclass \gset
ALTER TABLE unrelated ADD COLUMN note text;
ALTER TABLE unrelated ALTER COLUMN note SET DEFAULT 'x';
SELECT seq_scan + coalesce(idx_scan, 0) - :reads_before AS chunk_catalog_reads
  FROM pg_stat_xact_all_tables WHERE relid = '_tally_catalog.chunk'::regclass;
COMMIT;

-- a statement on the hypertable does look, and a detached chunk leaves
SELECT chunk_name AS detached FROM tally_information.chunks
 WHERE hypertable_name = 'readings' AND range_start = '2024-02-01' \gset
ALTER TABLE readings DETACH PARTITION _tally_internal.:detached;
SELECT count(*) AS catalog_rows FROM _tally_catalog.chunk WHERE relid::text LIKE '%' || :'detached';
SELECT count(*) AS chunks_left FROM tally_information.chunks WHERE hypertable_name = 'readings';
-- ALTER TABLE of a chunk itself, or of another hypertable, leaves the catalog alone
CREATE TABLE other (at timestamptz NOT NULL);
SELECT table_name FROM create_hypertable('other', 'at');
ALTER TABLE other ADD COLUMN v integer;
SELECT count(*) AS chunks_left FROM tally_information.chunks WHERE hypertable_name = 'readings';

DROP TABLE readings, other, unrelated;
DROP TABLE _tally_internal.:detached;
DROP EXTENSION tally;
