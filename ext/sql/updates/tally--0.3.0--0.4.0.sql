-- tally 0.3.0 -> 0.4.0: the catalog changes of this step.  The Makefile
-- appends every file of sql/ (functions, views, event triggers and
-- privileges, all replaceable), so a function changes by editing its file.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tally UPDATE TO '0.4.0'" to load this file. \quit

-- A refresh policy's aggregate is a column of its job, no longer read from
-- its config, which alter_job lets the job's owner change.  A 0.3.0 job
-- keeps its aggregate only if its owner could refresh it.
ALTER TABLE _tally_catalog.bgw_job
    ADD COLUMN continuous_aggregate_id integer REFERENCES _tally_catalog.continuous_agg ON DELETE CASCADE;
UPDATE _tally_catalog.bgw_job j
   SET continuous_aggregate_id = a.id
  FROM _tally_catalog.continuous_agg a
  JOIN pg_catalog.pg_class v ON v.oid = a.user_view
 WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
   AND (j.config->>'continuous_aggregate_id') ~ '^[0-9]{1,9}$'
   AND a.id = (j.config->>'continuous_aggregate_id')::integer
   AND pg_catalog.pg_has_role(j.owner, v.relowner, 'USAGE');

-- Chunk ranges are clipped to the range of their time column's type, so
-- that the catalog says exactly which values a chunk can hold; the
-- partition bounds were already MINVALUE, MAXVALUE or 'infinity' there.
-- smallint and integer chunks end at their type's range; time chunks at
-- the finite timestamps, except a partition adopted with a MINVALUE or
-- MAXVALUE bound, which holds an infinity and keeps the end of int64.
-- bigint chunks are unchanged.
UPDATE _tally_catalog.chunk c
   SET range_start = GREATEST(c.range_start, d.domain_start),
       range_end = LEAST(c.range_end, d.domain_end)
  FROM _tally_catalog.hypertable h,
       (VALUES ('smallint'::regtype, -32768, 32768),
               ('integer'::regtype, -2147483648, 2147483648))
           AS d (time_type, domain_start, domain_end)
 WHERE h.id = c.hypertable_id AND d.time_type = h.time_type
   AND (c.range_start < d.domain_start OR c.range_end > d.domain_end);
UPDATE _tally_catalog.chunk c
   SET range_start = CASE WHEN c.range_start > -9223372036854775808
                          THEN GREATEST(c.range_start, -211813488000000000) ELSE c.range_start END,
       range_end = CASE WHEN c.range_end < 9223372036854775807
                        THEN LEAST(c.range_end, 9223371331200000000) ELSE c.range_end END
  FROM _tally_catalog.hypertable h
 WHERE h.id = c.hypertable_id
   AND h.time_type IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
   AND (c.range_start BETWEEN -9223372036854775807 AND -211813488000000001
        OR c.range_end BETWEEN 9223371331200000001 AND 9223372036854775806);

-- chunk_range() (src/hypertable/chunk_range.c) replaces them
DROP FUNCTION _tally_internal.chunk_start(bigint, bigint, regtype);
DROP FUNCTION _tally_internal.chunk_alignment(regtype);

-- Calendar chunks: a width of whole months, from the first of a month.
ALTER TABLE _tally_catalog.hypertable
    DROP CONSTRAINT hypertable_chunk_interval_check,
    ADD CONSTRAINT hypertable_chunk_interval_check CHECK (chunk_interval >= 0),
    ADD COLUMN chunk_months integer NOT NULL DEFAULT 0 CHECK (chunk_months >= 0),
    ADD CONSTRAINT hypertable_chunk_width_check CHECK ((chunk_interval > 0) <> (chunk_months > 0));
CREATE TYPE _tally_internal.dimension_info AS (
    column_name             name,
    partition_interval      text,
    partition_interval_type regtype
);
-- their results or arguments now carry the months
DROP FUNCTION _tally_internal.interval_to_internal(interval, regtype);
DROP FUNCTION _tally_internal.chunk_interval_arg(anyelement, regtype);
DROP FUNCTION _tally_internal.register_hypertable(integer, regclass, name, regtype, bigint);
DROP FUNCTION _tally_internal.convert_to_partitioned(regclass, name, regtype, bigint, boolean, integer);

-- Continuous aggregates keep their defining query as a view.  Those made
-- before have none: they refuse renames, DROP COLUMN and ALTER COLUMN TYPE
-- on their tables (src/cagg/ddl.c) until they are made again.
ALTER TABLE _tally_catalog.continuous_agg ADD COLUMN direct_view regclass;

-- A 0.3.0 aggregate kept min() and max() of a column with a type modifier
-- (numeric(10,2), varchar(n), timestamp(3)) with the modifier, which its
-- reads refuse while a change is pending.  Its SQL cannot be written again
-- without its definition, which 0.3.0 did not keep: say which ones to make
-- again.
DO $$
DECLARE
    cagg record;
BEGIN
    FOR cagg IN SELECT DISTINCT a.user_view
                  FROM _tally_catalog.continuous_agg a
                  JOIN pg_catalog.pg_attribute m ON m.attrelid = a.mat_table
                 WHERE m.attname ~ '^m[0-9]+$' AND m.atttypmod <> -1 AND NOT m.attisdropped LOOP
        RAISE WARNING 'continuous aggregate % keeps min() or max() of a column with a type modifier', cagg.user_view
            USING DETAIL = 'Made by tally 0.3.0, it cannot be read while a change to it is pending.',
                  HINT = 'Drop it and create it again.';
    END LOOP;
END $$;
