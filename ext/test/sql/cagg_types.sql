-- Continuous aggregates over columns with type modifiers: numeric(p, s),
-- varchar(n), char(n), timestamp(3), interval with fields, bit(n).  Every
-- kind of aggregate over them (count, sum, avg, the variances, min, max and
-- recomputed ones) and groups of them read, refresh and recompute as their
-- query, and the views have the columns a plain view of the query has.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- rows of one query missing from the other, both ways, compared as text:
-- a scale (1.5 and 1.50) or a padding that differs is a difference
CREATE FUNCTION differences(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((SELECT x::text FROM (%s) x EXCEPT ALL SELECT y::text FROM (%s) y)'
                   ' UNION ALL (SELECT y::text FROM (%s) y EXCEPT ALL SELECT x::text FROM (%s) x)) d', a, b, b, a) INTO n;
    RETURN n;
END $$;

CREATE TABLE sites (code char(3) PRIMARY KEY, region varchar(12) NOT NULL);
INSERT INTO sites VALUES ('ams', 'north'), ('ber', 'north'), ('cdg', 'west'), ('lis', 'south-west');
CREATE TABLE readings (
    at timestamp(3) NOT NULL, device varchar(20), site char(3), val numeric(10,2),
    label varchar(8), flags bit(4), span interval hour to minute
);
SELECT table_name FROM create_hypertable('readings', 'at', chunk_time_interval => interval '10 days');

-- a row with every column drawn at random, some NULL; the inserts round
-- them to the columns' modifiers
CREATE FUNCTION random_readings(n integer) RETURNS SETOF readings LANGUAGE sql AS $$
    SELECT '2024-01-01'::timestamp + random() * interval '40 days',
           (ARRAY['dev-a', 'dev-b', 'dev-c', NULL])[1 + floor(random() * 4)],
           (ARRAY['ams', 'ber', 'cdg', 'lis', 'x', NULL])[1 + floor(random() * 6)],
           CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 200 - 50)::numeric, 3) END,
           (ARRAY['a', 'bb', 'label-8c', 'bb', NULL])[1 + floor(random() * 5)],
           CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 16)::integer::bit(4) END,
           CASE WHEN random() < 0.1 THEN NULL
                ELSE make_interval(hours => floor(random() * 30)::integer, mins => floor(random() * 60)::integer,
                                   secs => random() * 60) END
      FROM generate_series(1, n)
$$;
SELECT setseed(0.5);
INSERT INTO readings SELECT * FROM random_readings(300);

-- kept by deltas, with min and max: groups of varchar(20) and char(3)
\set delta_query 'SELECT time_bucket(''1 day'', at) AS day, device, site, count(*) AS n, count(val) AS n_val, sum(val) AS total, avg(val) AS mean, min(val) AS low, max(val) AS high, min(at) AS first_at, max(at) AS last_at, min(span) AS shortest, max(span) AS longest, min(label) AS first_label, max(site) AS top_site, stddev(val) AS sd, stddev_samp(val) AS sd_samp, stddev_pop(val) AS sd_pop, variance(val) AS var, var_samp(val) AS var_samp, var_pop(val) AS var_pop FROM readings GROUP BY 1, 2, 3'
CREATE MATERIALIZED VIEW readings_delta WITH (tally.continuous) AS :delta_query;
-- kept by deltas, both ways: groups of varchar(8) cast to varchar(3), and of bit(4)
\set sums_query 'SELECT time_bucket(''6 hours'', at) AS quarter, label::varchar(3) AS short_label, flags, count(*) AS n, count(span) AS n_span, sum(val) AS total, avg(val) AS mean, stddev(val) AS sd, var_pop(val) AS var_pop FROM readings GROUP BY 1, 2, 3'
CREATE MATERIALIZED VIEW readings_sums WITH (tally.continuous) AS :sums_query;
-- recomputed: a date_trunc() bucket of timestamp(3), a group of interval hour to minute
\set other_query 'SELECT date_trunc(''week'', at) AS week, span, string_agg(label, '','' ORDER BY label) AS labels, count(DISTINCT label) AS n_labels, bool_and(val > 0) AS all_positive, array_agg(val ORDER BY val) AS vals, bit_or(flags) AS any_flags, bit_and(flags) AS all_flags, sum(span) AS total_span, avg(span) AS mean_span, percentile_disc(0.5) WITHIN GROUP (ORDER BY val) AS median, mode() WITHIN GROUP (ORDER BY site) AS usual_site, min(val) AS low, sum(val) AS total FROM readings GROUP BY 1, 2'
CREATE MATERIALIZED VIEW readings_other WITH (tally.continuous) AS :other_query;
-- joined to sites, whose char(3) and varchar(12) are groups
\set sites_query 'SELECT time_bucket(''1 week'', r.at) AS week, s.region, s.code, count(*) AS n, min(r.val) AS low, max(r.label) AS last_label, sum(r.val) AS total, avg(r.val) AS mean, max(r.at) AS last_at, min(r.span) AS shortest FROM readings r JOIN sites s ON s.code = r.site GROUP BY 1, 2, 3'
CREATE MATERIALIZED VIEW readings_sites WITH (tally.continuous) AS :sites_query WITH NO DATA;
SELECT user_view, delta_mode FROM _tally_catalog.continuous_agg ORDER BY id;

-- each view has the columns, types and modifiers of a plain view of its query
CREATE VIEW plain_delta AS :delta_query;
CREATE VIEW plain_sums AS :sums_query;
CREATE VIEW plain_other AS :other_query;
CREATE VIEW plain_sites AS :sites_query;
WITH pairs (view, plain) AS (
    VALUES ('readings_delta'::regclass, 'plain_delta'::regclass), ('readings_sums', 'plain_sums'),
           ('readings_other', 'plain_other'), ('readings_sites', 'plain_sites')
), aggregate_columns AS (
    SELECT v.view, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
      FROM pairs v JOIN pg_attribute a ON a.attrelid = v.view AND a.attnum > 0
), plain_columns AS (
    SELECT v.view, p.attnum, p.attname, format_type(p.atttypid, p.atttypmod) AS type
      FROM pairs v JOIN pg_attribute p ON p.attrelid = v.plain AND p.attnum > 0
)
SELECT 'aggregate' AS side, * FROM (TABLE aggregate_columns EXCEPT TABLE plain_columns) a
UNION ALL
SELECT 'plain view', * FROM (TABLE plain_columns EXCEPT TABLE aggregate_columns) p
ORDER BY 2, 3, 1;
SELECT count(*) AS columns_compared FROM pg_attribute
 WHERE attrelid IN ('readings_delta'::regclass, 'readings_sums'::regclass, 'readings_other'::regclass,
                    'readings_sites'::regclass) AND attnum > 0;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'readings_delta'::regclass AND attnum > 0 ORDER BY attnum;

SELECT differences('TABLE readings_delta', :'delta_query') AS delta,
       differences('TABLE readings_sums', :'sums_query') AS sums,
       differences('TABLE readings_other', :'other_query') AS other,
       differences('TABLE readings_sites', :'sites_query') AS sites;

-- one pending change of each kind, read before and after a refresh
INSERT INTO readings VALUES ('2024-01-02 10:00:00.1234', 'dev-a', 'ams', 12.345, 'label-8c', B'1010', '1 hour 30 minutes 20 seconds');
SELECT day, device, site, n, low, high, first_at, shortest, first_label, top_site
  FROM readings_delta WHERE day = '2024-01-02' AND device = 'dev-a' AND site = 'ams';
UPDATE readings SET val = val + 0.5, site = 'ber' WHERE at::date = '2024-01-02' AND device = 'dev-a';
DELETE FROM readings WHERE at::date = '2024-01-03';
UPDATE sites SET region = 'central' WHERE code = 'ber';
SELECT differences('TABLE readings_delta', :'delta_query') AS delta,
       differences('TABLE readings_sums', :'sums_query') AS sums,
       differences('TABLE readings_other', :'other_query') AS other,
       differences('TABLE readings_sites', :'sites_query') AS sites;
CALL refresh_continuous_aggregate('readings_delta', NULL, NULL);
CALL refresh_continuous_aggregate('readings_sums', NULL, '2024-01-20'::timestamp);
CALL refresh_continuous_aggregate('readings_other', '2024-01-08'::timestamp, NULL);
CALL refresh_continuous_aggregate('readings_sites', NULL, NULL);
SELECT differences('TABLE readings_delta', :'delta_query') AS delta,
       differences('TABLE readings_sums', :'sums_query') AS sums,
       differences('TABLE readings_other', :'other_query') AS other,
       differences('TABLE readings_sites', :'sites_query') AS sites;

-- a seeded random walk: inserts, updates of every column (moving rows
-- between buckets and groups), deletes, sites renamed, moved and removed,
-- TRUNCATE, refreshes of random windows.  After every step each view is
-- its query; at the end, after a full refresh, each materialization alone
-- is too.  A failure names its seed and step.
CREATE FUNCTION typed_walk(seed double precision, steps integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    op integer;
    d bigint;
    views text[] := ARRAY['readings_delta', 'readings_sums', 'readings_other', 'readings_sites'];
    queries text[] := ARRAY[current_setting('tally_test.delta_query'), current_setting('tally_test.sums_query'),
                            current_setting('tally_test.other_query'), current_setting('tally_test.sites_query')];
BEGIN
    PERFORM setseed(seed);
    FOR step IN 1 .. steps LOOP
        op := floor(random() * 12);
        CASE
            WHEN op <= 1 THEN
                INSERT INTO readings SELECT * FROM random_readings(1 + floor(random() * 6)::integer);
            WHEN op = 2 THEN
                UPDATE readings SET val = round((val * (random() + 0.5))::numeric, 4) WHERE random() < 0.05;
            WHEN op = 3 THEN
                UPDATE readings SET at = at + (random() - 0.5) * interval '3 days' WHERE random() < 0.05;
            WHEN op = 4 THEN
                UPDATE readings SET device = (ARRAY['dev-a', 'dev-b', NULL])[1 + floor(random() * 3)],
                                    site = (ARRAY['ams', 'ber', 'cdg', 'lis'])[1 + floor(random() * 4)]
                 WHERE random() < 0.05;
            WHEN op = 5 THEN
                UPDATE readings SET label = (ARRAY['a', 'bb', 'label-8c', 'cc'])[1 + floor(random() * 4)],
                                    flags = floor(random() * 16)::integer::bit(4),
                                    span = span + random() * interval '2 hours'
                 WHERE random() < 0.05;
            WHEN op = 6 THEN
                DELETE FROM readings WHERE random() < 0.03;
            WHEN op = 7 AND random() < 0.5 THEN
                UPDATE sites SET region = (ARRAY['north', 'west', 'central', 'south-west'])[1 + floor(random() * 4)]
                 WHERE code = (ARRAY['ams', 'ber', 'cdg', 'lis'])[1 + floor(random() * 4)];
            WHEN op = 7 THEN
                DELETE FROM sites WHERE code = 'lis';
                INSERT INTO sites VALUES ('lis', (ARRAY['south', 'south-west'])[1 + floor(random() * 2)]);
            WHEN op = 8 AND random() < 0.03 THEN
                TRUNCATE readings;
            ELSE
                CALL refresh_continuous_aggregate('readings_delta', NULL, '2024-01-01'::timestamp + random() * interval '40 days');
                CALL refresh_continuous_aggregate('readings_sums', '2024-01-01'::timestamp + random() * interval '40 days', NULL);
                CALL refresh_continuous_aggregate('readings_other', NULL, NULL);
                CALL refresh_continuous_aggregate('readings_sites', '2024-01-08'::timestamp, '2024-01-29'::timestamp);
        END CASE;
        FOR v IN 1 .. 4 LOOP
            d := differences(format('TABLE %I', views[v]), queries[v]);
            IF d <> 0 THEN
                RETURN format('seed %s: %s differences in %s after step %s (operation %s)', seed, d, views[v], step, op);
            END IF;
        END LOOP;
    END LOOP;
    FOR v IN 1 .. 4 LOOP
        EXECUTE format('CALL refresh_continuous_aggregate(%L, NULL, NULL)', views[v]);
        EXECUTE format('ALTER MATERIALIZED VIEW %I SET (tally.materialized_only = true)', views[v]);
        d := differences(format('TABLE %I', views[v]), queries[v]);
        EXECUTE format('ALTER MATERIALIZED VIEW %I SET (tally.materialized_only = false)', views[v]);
        IF d <> 0 THEN
            RETURN format('seed %s: %s differences in the materialization of %s after a full refresh', seed, d, views[v]);
        END IF;
    END LOOP;
    RETURN format('seed %s: %s steps, no difference', seed, steps);
END $$;
SELECT set_config('tally_test.delta_query', :'delta_query', false) IS NOT NULL AS set,
       set_config('tally_test.sums_query', :'sums_query', false) IS NOT NULL AS set,
       set_config('tally_test.other_query', :'other_query', false) IS NOT NULL AS set,
       set_config('tally_test.sites_query', :'sites_query', false) IS NOT NULL AS set;
SELECT typed_walk(0.31, 250);
SELECT typed_walk(-0.64, 250);
SELECT count(*) > 0 AS rows_left FROM readings;

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
