-- tally_information: what users look at, with TimescaleDB's column names
-- where the two overlap.

CREATE OR REPLACE VIEW tally_information.hypertables AS
SELECT n.nspname AS hypertable_schema,
       c.relname AS hypertable_name,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       1 AS num_dimensions,
       (SELECT count(*) FROM _tally_catalog.chunk k WHERE k.hypertable_id = h.id)::bigint AS num_chunks,
       false AS compression_enabled,
       (SELECT pg_catalog.array_agg(DISTINCT t.spcname)
          FROM _tally_catalog.chunk k
          JOIN pg_catalog.pg_class kc ON kc.oid = k.relid
          JOIN pg_catalog.pg_tablespace t ON t.oid = kc.reltablespace
         WHERE k.hypertable_id = h.id) AS tablespaces
  FROM _tally_catalog.hypertable h
  JOIN pg_catalog.pg_class c ON c.oid = h.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;

CREATE OR REPLACE VIEW tally_information.dimensions AS
SELECT n.nspname AS hypertable_schema,
       c.relname AS hypertable_name,
       1 AS dimension_number,
       h.time_column AS column_name,
       h.time_type AS column_type,
       'Time'::text AS dimension_type,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN NULL
            WHEN h.chunk_months > 0 THEN pg_catalog.make_interval(months => h.chunk_months)
            ELSE pg_catalog.justify_hours(pg_catalog.make_interval(secs => h.chunk_interval / 1000000.0))
       END AS time_interval,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN h.chunk_interval END AS integer_interval,
       NULL::name AS integer_now_func,
       NULL::smallint AS num_partitions
  FROM _tally_catalog.hypertable h
  JOIN pg_catalog.pg_class c ON c.oid = h.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;

CREATE OR REPLACE VIEW tally_information.chunks AS
SELECT hn.nspname AS hypertable_schema,
       hc.relname AS hypertable_name,
       kn.nspname AS chunk_schema,
       kc.relname AS chunk_name,
       h.time_column AS primary_dimension,
       h.time_type AS primary_dimension_type,
       CASE WHEN h.time_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
             AND k.range_start > -9223372036854775808
            THEN _tally_internal.internal_to_timestamptz(k.range_start) END AS range_start,
       CASE WHEN h.time_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
             AND k.range_end < 9223372036854775807
            THEN _tally_internal.internal_to_timestamptz(k.range_end) END AS range_end,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN k.range_start END AS range_start_integer,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN k.range_end END AS range_end_integer,
       false AS is_compressed,
       t.spcname AS chunk_tablespace,
       k.created_at AS chunk_creation_time
  FROM _tally_catalog.chunk k
  JOIN _tally_catalog.hypertable h ON h.id = k.hypertable_id
  JOIN pg_catalog.pg_class hc ON hc.oid = h.relid
  JOIN pg_catalog.pg_namespace hn ON hn.oid = hc.relnamespace
  JOIN pg_catalog.pg_class kc ON kc.oid = k.relid
  JOIN pg_catalog.pg_namespace kn ON kn.oid = kc.relnamespace
  LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = kc.reltablespace;

GRANT SELECT ON ALL TABLES IN SCHEMA tally_information TO PUBLIC;
