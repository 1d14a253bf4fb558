-- Catalog of hypertables and chunks.

CREATE TABLE _tally_catalog.hypertable (
    id              serial PRIMARY KEY,
    relid           regclass NOT NULL UNIQUE,
    time_column     name NOT NULL,
    time_type       regtype NOT NULL,
    -- chunk width in internal units: microseconds for time types, the
    -- column's own units for integers; 0 for calendar chunks
    chunk_interval  bigint NOT NULL CHECK (chunk_interval >= 0),
    -- catches rows that no chunk covers, until maintenance moves them
    default_partition regclass NOT NULL UNIQUE,
    -- calendar chunks of this many months (src/hypertable/chunk_range.c),
    -- 0 for a fixed width; last, where 0.4.0's update added it
    chunk_months    integer NOT NULL DEFAULT 0 CHECK (chunk_months >= 0),
    CONSTRAINT hypertable_chunk_width_check CHECK ((chunk_interval > 0) <> (chunk_months > 0))
);

-- The dimension argument of create_hypertable's newer form, made by
-- by_range(): the time column and the chunk interval as given, kept as
-- text and type until the column's type says what it means.
CREATE TYPE _tally_internal.dimension_info AS (
    column_name             name,
    partition_interval      text,
    partition_interval_type regtype
);

-- A chunk covers [range_start, range_end) of internal time, within the range
-- of its time column's type (src/hypertable/chunk_range.c); a range_end of
-- 9223372036854775807 means MAXVALUE and holds that bigint.  Ranges of one
-- hypertable never overlap: PostgreSQL's partitioning enforces it.
CREATE TABLE _tally_catalog.chunk (
    id              serial PRIMARY KEY,
    hypertable_id   integer NOT NULL REFERENCES _tally_catalog.hypertable ON DELETE CASCADE,
    relid           regclass NOT NULL UNIQUE,
    range_start     bigint NOT NULL,
    range_end       bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (range_start < range_end)
);
CREATE INDEX chunk_hypertable_range_idx
    ON _tally_catalog.chunk (hypertable_id, range_start);

SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.hypertable', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.hypertable_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.chunk', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.chunk_id_seq', '');

GRANT SELECT ON ALL TABLES IN SCHEMA _tally_catalog TO PUBLIC;
