-- Continuous aggregates' catalog (see src/cagg/README.md).

CREATE TABLE _tally_catalog.continuous_agg (
    id                  serial PRIMARY KEY,
    user_view           regclass NOT NULL UNIQUE,
    -- the view the user's view reads: materialized rows, and, unless
    -- materialized_only, what is pending
    final_view          regclass NOT NULL,
    source              regclass NOT NULL,
    mat_table           regclass NOT NULL,
    delta_table         regclass,           -- NULL when every change invalidates
    inval_table         regclass NOT NULL,
    bucket_column       name NOT NULL,
    bucket_type         regtype NOT NULL,
    materialized_only   boolean NOT NULL,
    delta_mode          boolean NOT NULL,
    realtime_body       text NOT NULL,
    materialized_body   text NOT NULL,
    -- run by the capture trigger after TRUNCATE of any source table
    capture_truncate    text NOT NULL,
    -- a refresh of the buckets in [$1, $2): the lock, then the statements
    -- of invalidated groups and of deltas, each when its probe finds work
    refresh_lock        text NOT NULL,
    refresh_invalidated_probe text NOT NULL,
    refresh_invalidated text[] NOT NULL,
    refresh_deltas_probe text,
    refresh_deltas      text[] NOT NULL,
    -- a view of the defining query, part of user_view: PostgreSQL keeps its
    -- tree through renames, from which the SQL above is written again, and
    -- keeps the columns it reads (NULL for aggregates made before 0.4.0)
    direct_view         regclass
);
-- The tables a continuous aggregate reads (its source and the tables joined
-- to it), and what a statement on each appends: run by the capture trigger
-- over transition tables tally_new_rows and tally_old_rows, as the
-- aggregate's owner.
CREATE TABLE _tally_catalog.continuous_agg_source (
    cagg_id             integer NOT NULL,
    source              regclass NOT NULL,
    capture_new         text NOT NULL,
    capture_old         text NOT NULL,
    PRIMARY KEY (cagg_id, source)
);
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.continuous_agg', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.continuous_agg_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.continuous_agg_source', '');
GRANT SELECT ON _tally_catalog.continuous_agg, _tally_catalog.continuous_agg_source TO PUBLIC;

-- the continuous aggregate a refresh policy acts on
ALTER TABLE _tally_catalog.bgw_job
    ADD COLUMN continuous_aggregate_id integer REFERENCES _tally_catalog.continuous_agg ON DELETE CASCADE;
