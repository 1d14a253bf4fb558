-- Continuous aggregates: definition, exactness against the defining query
-- after every kind of change, refresh, modes, drop, errors.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- rows of one query missing from the other, both ways
CREATE FUNCTION differences(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d', a, b, b, a) INTO n;
    RETURN n;
END $$;

-- the seed's example, verbatim, on a plain table
CREATE TABLE clients (id integer PRIMARY KEY, created_at timestamptz NOT NULL, revenue numeric, status text);
INSERT INTO clients
SELECT i, '2024-01-01'::timestamptz + i * interval '3 days', i * 10,
       CASE WHEN i % 3 = 0 THEN 'active' ELSE 'lead' END
  FROM generate_series(1, 100) i;
CREATE MATERIALIZED VIEW revenue_by_month
WITH (timescaledb.continuous) AS
SELECT 
    time_bucket('1 month', created_at) AS month,
    COUNT(*) as total_clients,
    SUM(revenue) as total_revenue,
    AVG(revenue) as avg_revenue
FROM clients
GROUP BY month;
SELECT * FROM revenue_by_month ORDER BY month LIMIT 3;
\set revenue_query 'SELECT time_bucket(''1 month'', created_at), count(*), sum(revenue), avg(revenue) FROM clients GROUP BY 1'
SELECT differences('TABLE revenue_by_month', :'revenue_query');

-- every change shows at once, before any refresh
INSERT INTO clients VALUES (1000, '2024-02-15', 7, 'lead'), (1001, '2030-01-01', NULL, 'lead');
UPDATE clients SET revenue = revenue + 1 WHERE id % 7 = 0;
DELETE FROM clients WHERE id % 5 = 0;
UPDATE clients SET created_at = created_at + interval '2 months' WHERE id % 11 = 0;
SELECT differences('TABLE revenue_by_month', :'revenue_query');
-- a partial refresh leaves the rest pending, and the view exact
SELECT count(*) > 0 AS pending FROM _tally_internal._delta_1;
CALL refresh_continuous_aggregate('revenue_by_month', NULL, '2024-06-01'::timestamptz);
SELECT count(*) AS pending_before_june FROM _tally_internal._delta_1 WHERE g0 < '2024-06-01';
SELECT differences('TABLE revenue_by_month', :'revenue_query');
CALL refresh_continuous_aggregate('revenue_by_month', NULL, NULL);
SELECT count(*) AS pending FROM _tally_internal._delta_1;
SELECT differences('TABLE revenue_by_month', :'revenue_query');
-- the materialization alone is the query now
SELECT differences('SELECT g0, c0, CASE WHEN n1 > 0 THEN s1 END, s2::numeric / n2 FROM _tally_internal._materialized_1', :'revenue_query');
-- TRUNCATE empties it
TRUNCATE clients;
SELECT count(*) AS rows_after_truncate FROM revenue_by_month;
INSERT INTO clients VALUES (1, '2024-01-05', 3, 'lead');
CALL refresh_continuous_aggregate('revenue_by_month', NULL, NULL);
SELECT * FROM revenue_by_month;
-- materialized_only: what was refreshed, nothing more
ALTER MATERIALIZED VIEW revenue_by_month SET (timescaledb.materialized_only = true);
INSERT INTO clients VALUES (2, '2024-01-06', 4, 'lead');
SELECT * FROM revenue_by_month;
ALTER MATERIALIZED VIEW revenue_by_month SET (tally.materialized_only = false);
SELECT * FROM revenue_by_month;
SELECT view_name, hypertable_name, materialized_only, materialization_hypertable_name
  FROM tally_information.continuous_aggregates;
-- the seed's policy, verbatim (the scheduler is off in tests; the job is recorded)
SELECT add_continuous_aggregate_policy('revenue_by_month',
    start_offset => INTERVAL '3 months',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour') > 0 AS job_added;
SELECT application_name, schedule_interval, config->>'start_offset' AS start_offset FROM tally_information.jobs
 WHERE proc_name = 'policy_refresh_continuous_aggregate';
SELECT _tally_internal.run_job(id) FROM _tally_catalog.bgw_job WHERE proc_name = 'policy_refresh_continuous_aggregate';
SELECT remove_continuous_aggregate_policy('revenue_by_month');
SELECT remove_continuous_aggregate_policy('revenue_by_month', if_exists => true);
DROP MATERIALIZED VIEW revenue_by_month;
SELECT count(*) AS objects_left FROM pg_class
 WHERE relnamespace = '_tally_internal'::regnamespace AND relname ~ '^_(materialized|delta|invalidated|final)_1$';
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'clients'::regclass AND NOT tgisinternal;
SELECT count(*) AS catalog_rows FROM _tally_catalog.continuous_agg;

-- a hypertable, several groups, FILTER and CASE, min and max, HAVING and ORDER BY
CREATE TABLE time_entries (
    id bigint NOT NULL, staff_id integer, client_id integer, started_at timestamptz NOT NULL,
    minutes integer, billable boolean, rate numeric(10,2)
);
SELECT table_name FROM create_hypertable('time_entries', 'started_at', chunk_time_interval => interval '30 days');
INSERT INTO time_entries
SELECT i, 1 + i % 4, CASE WHEN i % 9 = 0 THEN NULL ELSE 1 + i % 3 END,
       '2024-01-01'::timestamptz + i * interval '7 hours', 5 + i % 50, i % 4 <> 0, 50 + i % 7
  FROM generate_series(1, 600) i;
CREATE MATERIALIZED VIEW staff_days WITH (tally.continuous) AS
SELECT time_bucket('1 day', started_at) AS day, staff_id, client_id,
       count(*) AS entries,
       sum(minutes) FILTER (WHERE billable) AS billable_minutes,
       sum(CASE WHEN billable THEN 1 ELSE 0 END) AS billable_entries,
       avg(rate) AS avg_rate,
       min(minutes) AS shortest, max(minutes) AS longest,
       sum(minutes * rate) / nullif(sum(minutes), 0) AS weighted_rate,
       stddev(minutes) AS sd_minutes, var_pop(rate) AS var_rate, stddev_pop(minutes) AS sdp_minutes
  FROM time_entries
 WHERE minutes > 6
 GROUP BY day, staff_id, client_id
HAVING count(*) > 0
 ORDER BY day, staff_id;
\set staff_query 'SELECT time_bucket(''1 day'', started_at), staff_id, client_id, count(*), sum(minutes) FILTER (WHERE billable), sum(CASE WHEN billable THEN 1 ELSE 0 END), avg(rate), min(minutes), max(minutes), sum(minutes * rate) / nullif(sum(minutes), 0), stddev(minutes), var_pop(rate), stddev_pop(minutes) FROM time_entries WHERE minutes > 6 GROUP BY 1, 2, 3'
SELECT differences('TABLE staff_days', :'staff_query');
DELETE FROM time_entries WHERE id % 13 = 0;
UPDATE time_entries SET minutes = 1 WHERE id % 17 = 0;
UPDATE time_entries SET staff_id = NULL, client_id = 2 WHERE id % 19 = 0;
INSERT INTO time_entries VALUES (9000, 1, NULL, '2023-06-01 10:00', 30, true, 55);
SELECT differences('TABLE staff_days', :'staff_query');
CALL refresh_continuous_aggregate('staff_days', '2024-01-01'::timestamptz, '2024-02-01'::timestamptz);
SELECT differences('TABLE staff_days', :'staff_query');
-- variances from sums and sums of squares: the same digits as stddev() prints
SELECT differences('SELECT day, staff_id, client_id, avg_rate::text, sd_minutes::text, var_rate::text, sdp_minutes::text FROM staff_days',
                   'SELECT time_bucket(''1 day'', started_at), staff_id, client_id, avg(rate)::text, stddev(minutes)::text, var_pop(rate)::text, stddev_pop(minutes)::text FROM time_entries WHERE minutes > 6 GROUP BY 1, 2, 3');
-- aggregates kept by recomputing the groups a change touches
CREATE MATERIALIZED VIEW staff_weeks WITH (tally.continuous) AS
SELECT time_bucket('1 week', started_at) AS week, staff_id,
       count(DISTINCT client_id) AS clients,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) AS median_minutes,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY minutes) AS p90_minutes,
       bool_and(billable) AS all_billable, bool_or(billable) AS any_billable,
       round(stddev(minutes), 6) AS sd, round(variance(rate), 6) AS var
  FROM time_entries
 GROUP BY 1, 2
WITH NO DATA;
\set weeks_query 'SELECT time_bucket(''1 week'', started_at), staff_id, count(DISTINCT client_id), percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes), percentile_disc(0.9) WITHIN GROUP (ORDER BY minutes), bool_and(billable), bool_or(billable), round(stddev(minutes), 6), round(variance(rate), 6) FROM time_entries GROUP BY 1, 2'
SELECT differences('TABLE staff_weeks', :'weeks_query');
CALL refresh_continuous_aggregate('staff_weeks', NULL, NULL);
SELECT count(*) AS invalidated FROM _tally_internal._invalidated_3;
UPDATE time_entries SET client_id = 3 WHERE id % 23 = 0;
DELETE FROM time_entries WHERE id % 29 = 0;
SELECT count(*) > 0 AS invalidated FROM _tally_internal._invalidated_3;
SELECT differences('TABLE staff_weeks', :'weeks_query');
CALL refresh_continuous_aggregate('staff_weeks', NULL, NULL);
SELECT differences('TABLE staff_weeks', :'weeks_query');
ALTER MATERIALIZED VIEW staff_weeks SET (tally.materialized_only = true);
SELECT differences('TABLE staff_weeks', :'weeks_query') AS materialized_differences;
ALTER MATERIALIZED VIEW staff_weeks SET (tally.materialized_only = false);

-- joined to a dimension: a staff member moved to another team shows at once
CREATE TABLE staff (id integer PRIMARY KEY, team text NOT NULL);
INSERT INTO staff VALUES (1, 'audit'), (2, 'audit'), (3, 'tax'), (4, 'tax');
CREATE MATERIALIZED VIEW team_months WITH (tally.continuous) AS
SELECT time_bucket('1 month', e.started_at) AS month, s.team, count(*) AS entries, sum(e.minutes) AS minutes
  FROM time_entries e JOIN staff s ON s.id = e.staff_id
 WHERE e.billable
 GROUP BY 1, 2;
\set team_query 'SELECT time_bucket(''1 month'', e.started_at), s.team, count(*), sum(e.minutes) FROM time_entries e JOIN staff s ON s.id = e.staff_id WHERE e.billable GROUP BY 1, 2'
SELECT differences('TABLE team_months', :'team_query');
UPDATE staff SET team = 'advisory' WHERE id = 2;
SELECT differences('TABLE team_months', :'team_query');
SELECT team, sum(entries) AS entries FROM team_months GROUP BY team ORDER BY team;
DELETE FROM staff WHERE id = 4;
INSERT INTO time_entries VALUES (9001, 3, 1, '2024-02-02 10:00', 30, true, 55);
SELECT differences('TABLE team_months', :'team_query');
CALL refresh_continuous_aggregate('team_months', NULL, NULL);
INSERT INTO staff VALUES (4, 'tax');
SELECT differences('TABLE team_months', :'team_query');
TRUNCATE staff;
SELECT count(*) AS months_without_staff FROM team_months;
INSERT INTO staff VALUES (1, 'audit'), (2, 'advisory'), (3, 'tax'), (4, 'tax');
CALL refresh_continuous_aggregate('team_months', NULL, NULL);
SELECT differences('TABLE team_months', :'team_query');

-- a seeded random walk of inserts, updates that move rows between buckets
-- and groups, deletes, late rows, staff changing teams, bulk COPY, TRUNCATE
-- and refreshes: after every step each view is its query; at the end, after
-- a full refresh, the materialization alone is too.  A failure names its seed.
CREATE FUNCTION random_walk(seed double precision, steps integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    op integer;
    d bigint;
BEGIN
    PERFORM setseed(seed);
    FOR step IN 1 .. steps LOOP
        op := floor(random() * 12);
        CASE
            WHEN op <= 2 THEN
                INSERT INTO time_entries
                SELECT 10000 + step * 10 + k, 1 + floor(random() * 4), CASE WHEN random() < 0.2 THEN NULL ELSE 1 + floor(random() * 3) END,
                       '2024-01-01'::timestamptz + random() * interval '120 days', floor(random() * 60),
                       random() < 0.7, 40 + floor(random() * 30)
                  FROM generate_series(1, 1 + floor(random() * 5)::integer) k;
            WHEN op = 3 THEN
                UPDATE time_entries SET minutes = floor(random() * 60) WHERE id % 31 = floor(random() * 31);
            WHEN op = 4 THEN
                UPDATE time_entries SET started_at = started_at + (random() - 0.5) * interval '20 days'
                 WHERE id % 37 = floor(random() * 37);
            WHEN op = 5 THEN
                UPDATE time_entries SET staff_id = CASE WHEN random() < 0.1 THEN NULL ELSE 1 + floor(random() * 4) END
                 WHERE id % 41 = floor(random() * 41);
            WHEN op = 6 THEN
                DELETE FROM time_entries WHERE id % 43 = floor(random() * 43);
            WHEN op = 7 AND random() < 0.5 THEN
                INSERT INTO time_entries VALUES (20000 + step, 2, 1, '2023-01-01'::timestamptz + random() * interval '30 days', 45, true, 60);
            WHEN op = 7 THEN
                UPDATE staff SET team = (ARRAY['audit', 'tax', 'advisory'])[1 + floor(random() * 3)]
                 WHERE id = 1 + floor(random() * 4);
            WHEN op = 8 THEN
                EXECUTE format('COPY time_entries FROM %L', current_setting('tally_test.copy_file'));
            WHEN op = 9 AND random() < 0.1 THEN
                TRUNCATE time_entries;
            ELSE
                CALL refresh_continuous_aggregate('staff_days', NULL, '2024-01-01'::timestamptz + random() * interval '120 days');
                CALL refresh_continuous_aggregate('staff_weeks', '2024-01-01'::timestamptz + random() * interval '60 days', NULL);
                CALL refresh_continuous_aggregate('team_months', NULL, NULL);
        END CASE;
        d := differences('TABLE staff_days', current_setting('tally_test.staff_query'))
           + differences('TABLE staff_weeks', current_setting('tally_test.weeks_query'))
           + differences('TABLE team_months', current_setting('tally_test.team_query'));
        IF d <> 0 THEN
            RETURN format('seed %s: %s differences after step %s (operation %s)', seed, d, step, op);
        END IF;
    END LOOP;
    CALL refresh_continuous_aggregate('staff_days', NULL, NULL);
    ALTER MATERIALIZED VIEW staff_days SET (tally.materialized_only = true);
    d := differences('TABLE staff_days', current_setting('tally_test.staff_query'));
    ALTER MATERIALIZED VIEW staff_days SET (tally.materialized_only = false);
    IF d <> 0 THEN
        RETURN format('seed %s: %s differences in the materialization after a full refresh', seed, d);
    END IF;
    RETURN format('seed %s: %s steps, no difference', seed, steps);
END $$;
SELECT set_config('tally_test.staff_query', :'staff_query', false) IS NOT NULL AS set,
       set_config('tally_test.weeks_query', :'weeks_query', false) IS NOT NULL AS set,
       set_config('tally_test.team_query', :'team_query', false) IS NOT NULL AS set;
-- a bulk load, from a file
SELECT current_setting('data_directory') || '/tally_cagg_test.copy' AS copy_file \gset
COPY (SELECT 30000 + i, 1 + i % 4, CASE WHEN i % 5 = 0 THEN NULL ELSE 1 + i % 3 END,
             '2024-01-01'::timestamptz + (i * 7919 % 2880) * interval '1 hour', i % 60, i % 3 <> 0, 40 + i % 30
        FROM generate_series(1, 60) i) TO :'copy_file';
SELECT set_config('tally_test.copy_file', :'copy_file', false) IS NOT NULL AS set;
SELECT random_walk(0.42, 400);
SELECT random_walk(-0.17, 400);
SELECT random_walk(0.9, 400);

-- dropping raw chunks keeps the refreshed history
INSERT INTO time_entries
SELECT 40000 + i, 1 + i % 4, 1, '2024-01-01'::timestamptz + i * interval '3 hours', 10, true, 50
  FROM generate_series(0, 110) i;
CALL refresh_continuous_aggregate('staff_days', NULL, NULL);
SELECT count(*) AS days_before FROM staff_days WHERE day < '2024-01-15';
SELECT count(*) > 0 AS dropped FROM drop_chunks('time_entries', older_than => '2024-01-15'::timestamptz);
SELECT count(*) AS days_after FROM staff_days WHERE day < '2024-01-15';

-- bad definitions and misuse: clear errors, nothing left behind
CREATE MATERIALIZED VIEW bad WITH (tally.continuous) AS SELECT staff_id, count(*) FROM time_entries GROUP BY staff_id;
CREATE MATERIALIZED VIEW bad WITH (tally.continuous) AS
    SELECT time_bucket('1 day', started_at), count(*) FROM time_entries WHERE started_at > now() - interval '1 day' GROUP BY 1;
CREATE MATERIALIZED VIEW bad WITH (tally.continuous) AS
    SELECT time_bucket('1 day', started_at), count(*) FROM time_entries e LEFT JOIN clients c ON c.id = e.client_id GROUP BY 1;
CREATE MATERIALIZED VIEW bad WITH (tally.continuous) AS
    SELECT time_bucket('1 day', a.started_at), count(*) FROM time_entries a JOIN time_entries b USING (id) GROUP BY 1;
CREATE MATERIALIZED VIEW bad WITH (tally.continuous) AS
    SELECT time_bucket('1 day', started_at), count(*) FROM time_entries, LATERAL (SELECT 1) x GROUP BY 1;
CREATE MATERIALIZED VIEW bad WITH (tally.continuous) AS
    SELECT time_bucket('1 day', started_at), count(*) OVER () FROM time_entries GROUP BY 1;
CREATE MATERIALIZED VIEW bad WITH (tally.continuous) AS
    SELECT time_bucket('1 day', started_at), minutes FROM time_entries GROUP BY 1, 2;
CREATE MATERIALIZED VIEW bad WITH (tally.continuous, tally.compress = true) AS
    SELECT time_bucket('1 day', started_at), count(*) FROM time_entries GROUP BY 1;
CREATE MATERIALIZED VIEW bad WITH (tally.materialized_only = true) AS
    SELECT time_bucket('1 day', started_at), count(*) FROM time_entries GROUP BY 1;
CREATE MATERIALIZED VIEW plain_mv AS SELECT 1 AS one;
CALL refresh_continuous_aggregate('plain_mv', NULL, NULL);
CALL refresh_continuous_aggregate('staff_days', '2024-02-01'::timestamptz, '2024-01-01'::timestamptz);
CALL refresh_continuous_aggregate('staff_days', 5, NULL);
REFRESH MATERIALIZED VIEW staff_days;
SELECT count(*) AS catalog_rows FROM _tally_catalog.continuous_agg;
SELECT count(*) AS objects_of_three_aggregates FROM pg_class
 WHERE relnamespace = '_tally_internal'::regnamespace AND relname ~ '^_(materialized|delta|invalidated|final)_[0-9]+$';

-- only the table's owner makes one; only its owner refreshes or drops it
CREATE ROLE tally_cagg_other;
GRANT SELECT ON time_entries TO tally_cagg_other;
GRANT CREATE, USAGE ON SCHEMA public TO tally_cagg_other;
SET ROLE tally_cagg_other;
CREATE MATERIALIZED VIEW theirs WITH (tally.continuous) AS
    SELECT time_bucket('1 day', started_at), count(*) FROM time_entries GROUP BY 1;
CALL refresh_continuous_aggregate('staff_days', NULL, NULL);
DROP MATERIALIZED VIEW staff_days;
RESET ROLE;

-- date_trunc of a timestamptz buckets in the time zone of the session that
-- created the aggregate, whoever writes or reads later
SET timezone = 'America/New_York';
CREATE MATERIALIZED VIEW clients_by_day WITH (tally.continuous) AS
SELECT date_trunc('day', created_at) AS day, count(*) AS clients FROM clients GROUP BY 1;
SET timezone = 'UTC';
INSERT INTO clients VALUES (3, '2024-01-06 03:00', 1, 'lead'), (4, '2024-01-06 06:00', 1, 'lead');
SELECT * FROM clients_by_day ORDER BY day;
SELECT differences('TABLE clients_by_day',
                   'SELECT date_trunc(''day'', created_at, ''America/New_York''), count(*) FROM clients GROUP BY 1');
DROP MATERIALIZED VIEW clients_by_day;

-- a user who is not a superuser makes, alters and refreshes their own; a
-- refresh runs as the owner whoever calls it; readers the owner grants the
-- view to see pending groups, no one else does
CREATE ROLE tally_cagg_owner;
CREATE ROLE tally_cagg_reader;
GRANT CREATE, USAGE ON SCHEMA public TO tally_cagg_owner, tally_cagg_reader;
SET ROLE tally_cagg_owner;
CREATE FUNCTION who_runs(x integer) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF x = 99 THEN RAISE WARNING 'evaluated as %', current_user; END IF;
    RETURN true;
END $$;
CREATE TABLE readings (at timestamptz NOT NULL, v integer, f double precision, n numeric);
INSERT INTO readings VALUES ('2024-01-01 10:00', 1, 1, 1), ('2024-01-01 11:00', 2, 1e17, 'NaN'),
                            ('2024-01-01 12:00', 3, 'Infinity', 'Infinity');
CREATE MATERIALIZED VIEW reading_days WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, count(*) AS n_rows, max(v) AS top, sum(f) AS f_sum,
           avg(f) AS f_avg, sum(n) AS n_sum, avg(n) AS n_avg
      FROM readings WHERE who_runs(v) GROUP BY 1;
ALTER MATERIALIZED VIEW reading_days SET (tally.materialized_only = true);
ALTER MATERIALIZED VIEW reading_days SET (tally.materialized_only = false);
GRANT SELECT ON reading_days TO tally_cagg_reader;
INSERT INTO readings VALUES ('2024-01-01 13:00', 99, 2, 2);
DELETE FROM readings WHERE v IN (2, 3);
\set readings_query 'SELECT time_bucket(''1 day'', at), count(*), max(v), sum(f), avg(f), sum(n), avg(n) FROM readings WHERE v > 0 GROUP BY 1'
SELECT differences('TABLE reading_days', :'readings_query');
RESET ROLE;
SET SESSION AUTHORIZATION tally_cagg_reader;
SELECT day, n_rows, top FROM reading_days;
SELECT count(*) FROM _tally_internal._pending_6();
RESET SESSION AUTHORIZATION;
CREATE ROLE tally_cagg_stranger;
SET SESSION AUTHORIZATION tally_cagg_stranger;
SELECT count(*) FROM _tally_internal._pending_6();
RESET SESSION AUTHORIZATION;
CALL refresh_continuous_aggregate('reading_days', NULL, NULL);
SELECT differences('TABLE reading_days', :'readings_query');
SET ROLE tally_cagg_owner;
SELECT differences('TABLE reading_days', :'readings_query');
DROP MATERIALIZED VIEW reading_days;
DROP TABLE readings;
DROP FUNCTION who_runs(integer);
RESET ROLE;
-- date_trunc in a session whose zone is also an abbreviation would lose daylight saving
SET timezone = 'CET';
CREATE MATERIALIZED VIEW cet_days WITH (tally.continuous) AS
    SELECT date_trunc('day', created_at), count(*) FROM clients GROUP BY 1;
SET timezone = 'UTC';

-- a standard deviation kept by sums is rounded once, at the variance's
-- scale, as stddev() rounds it: the root of 18512.728200000000 is
-- 136.06148683591547..., not the 136.061486835916 that rounding sqrt()'s
-- 136.0614868359155 again gives
CREATE TABLE spreads (at timestamptz NOT NULL, x numeric(10,2));
INSERT INTO spreads VALUES ('2024-01-01', 1.17), ('2024-01-01', 193.59);
CREATE MATERIALIZED VIEW spread_days WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, stddev(x) AS sd, variance(x) AS var FROM spreads GROUP BY 1;
SELECT sd, var FROM spread_days;
SELECT stddev(x), variance(x) FROM spreads;
DROP TABLE spreads CASCADE;

-- a table a continuous aggregate reads is dropped only with CASCADE, which
-- takes the aggregate along
DROP TABLE staff;
DROP TABLE time_entries CASCADE;
SELECT count(*) AS catalog_rows FROM _tally_catalog.continuous_agg;
SELECT count(*) AS leftovers FROM pg_class
 WHERE relnamespace = '_tally_internal'::regnamespace AND relname ~ '^_(materialized|delta|invalidated|final)_[0-9]+$';

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP OWNED BY tally_cagg_other;
DROP ROLE tally_cagg_other;
DROP OWNED BY tally_cagg_owner;
DROP OWNED BY tally_cagg_reader;
DROP ROLE tally_cagg_owner, tally_cagg_reader, tally_cagg_stranger;
