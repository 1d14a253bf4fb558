-- Schema changes under continuous aggregates: renames of the columns,
-- tables, schemas and functions they read are followed, as views follow
-- them; dropping a column one reads, or changing its type, is refused with
-- a message naming the aggregate, and DROP COLUMN ... CASCADE drops it.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = notice;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- rows of one query missing from the other, both ways
CREATE FUNCTION differences(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d', a, b, b, a) INTO n;
    RETURN n;
END $$;

CREATE FUNCTION billable(minutes integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT minutes > 5';
CREATE TABLE staff (id integer PRIMARY KEY, team text NOT NULL);
INSERT INTO staff VALUES (1, 'audit'), (2, 'audit'), (3, 'tax');
CREATE TABLE time_entries (id integer, staff_id integer, started_at timestamptz NOT NULL,
                           minutes integer, rate numeric(10,2), note text, spare integer);
SELECT table_name FROM create_hypertable('time_entries', 'started_at', chunk_time_interval => interval '10 days');
INSERT INTO time_entries
SELECT i, 1 + i % 3, '2024-01-01'::timestamptz + i * interval '5 hours', i % 40, 50 + i % 7,
       (ARRAY['call', 'visit', NULL])[1 + i % 3], i
  FROM generate_series(1, 300) i;
CREATE TABLE visits (at timestamptz NOT NULL, n integer);
INSERT INTO visits SELECT '2024-01-01'::timestamptz + i * interval '7 hours', i FROM generate_series(1, 100) i;

-- joined to a dimension, with a function in WHERE; kept by deltas
CREATE MATERIALIZED VIEW team_days WITH (tally.continuous) AS
SELECT time_bucket('1 day', e.started_at) AS day, s.team, count(*) AS entries, sum(e.minutes) AS minutes,
       avg(e.rate) AS avg_rate, max(e.minutes) AS longest
  FROM time_entries e JOIN staff s ON s.id = e.staff_id
 WHERE billable(e.minutes)
 GROUP BY 1, 2;
-- recomputed
CREATE MATERIALIZED VIEW staff_weeks WITH (tally.continuous) AS
SELECT time_bucket('1 week', started_at) AS week, staff_id, count(DISTINCT note) AS notes,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY minutes) AS median_minutes
  FROM time_entries GROUP BY 1, 2;
-- a plain table, bucketed with date_trunc() in Paris
SET timezone = 'Europe/Paris';
CREATE MATERIALIZED VIEW visit_days WITH (tally.continuous) AS
SELECT date_trunc('day', at) AS day, count(*) AS visits, sum(n) AS total FROM visits GROUP BY 1;
SET timezone = 'UTC';
\set team_query 'SELECT time_bucket(''1 day'', e.started_at), s.team, count(*), sum(e.minutes), avg(e.rate), max(e.minutes) FROM time_entries e JOIN staff s ON s.id = e.staff_id WHERE e.minutes > 5 GROUP BY 1, 2'
\set weeks_query 'SELECT time_bucket(''1 week'', started_at), staff_id, count(DISTINCT note), percentile_disc(0.5) WITHIN GROUP (ORDER BY minutes) FROM time_entries GROUP BY 1, 2'
\set visits_query 'SELECT date_trunc(''day'', at, ''Europe/Paris''), count(*), sum(n) FROM visits GROUP BY 1'
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE staff_weeks', :'weeks_query') AS staff_weeks,
       differences('TABLE visit_days', :'visits_query') AS visit_days;

-- a column of the fact table, of the dimension, the function: renamed
ALTER TABLE time_entries RENAME COLUMN minutes TO duration;
ALTER TABLE staff RENAME COLUMN team TO unit;
ALTER FUNCTION billable(integer) RENAME TO is_billable;
-- every write is captured, every read and refresh works, under the new names
INSERT INTO time_entries VALUES (1000, 1, '2024-01-02 10:00', 30, 60, 'call', 0), (1001, 3, '2024-01-09 11:00', 3, 55, 'mail', 0);
UPDATE time_entries SET duration = duration + 7 WHERE id % 11 = 0;
DELETE FROM time_entries WHERE id % 13 = 0;
UPDATE staff SET unit = 'advisory' WHERE id = 2;
\set team_query 'SELECT time_bucket(''1 day'', e.started_at), s.unit, count(*), sum(e.duration), avg(e.rate), max(e.duration) FROM time_entries e JOIN staff s ON s.id = e.staff_id WHERE e.duration > 5 GROUP BY 1, 2'
\set weeks_query 'SELECT time_bucket(''1 week'', started_at), staff_id, count(DISTINCT note), percentile_disc(0.5) WITHIN GROUP (ORDER BY duration) FROM time_entries GROUP BY 1, 2'
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE staff_weeks', :'weeks_query') AS staff_weeks;
CALL refresh_continuous_aggregate('team_days', NULL, '2024-01-20'::timestamptz);
CALL refresh_continuous_aggregate('staff_weeks', NULL, NULL);
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE staff_weeks', :'weeks_query') AS staff_weeks;
-- the SQL kept in the catalog and in the pending function has the new names only
SELECT count(*) FILTER (WHERE (capture_new || capture_old) ~ '\m(minutes|team|billable)\M') AS old_names,
       count(*) FILTER (WHERE capture_new ~ 'duration') AS new_names
  FROM _tally_catalog.continuous_agg_source WHERE cagg_id = 1;
SELECT array_to_string(refresh_invalidated, ' ') ~ 'r1\.duration' AS refresh_renamed,
       pg_get_functiondef('_tally_internal._pending_1'::regproc) ~ 'r2\.unit' AS pending_renamed
  FROM _tally_catalog.continuous_agg WHERE id = 1;
-- the views themselves did not change
SELECT attname FROM pg_attribute WHERE attrelid = 'team_days'::regclass AND attnum > 0 ORDER BY attnum;

-- tables renamed and moved to another schema, the schema renamed, the time
-- column of a plain table renamed
CREATE SCHEMA dims;
ALTER TABLE staff RENAME TO people;
ALTER TABLE people SET SCHEMA dims;
ALTER SCHEMA dims RENAME TO dimensions;
ALTER TABLE visits RENAME COLUMN at TO seen_at;
ALTER TABLE visits RENAME TO sightings;
ALTER FUNCTION is_billable(integer) SET SCHEMA dimensions;
INSERT INTO time_entries VALUES (1002, 2, '2024-01-03 09:00', 45, 70, 'visit', 0);
UPDATE dimensions.people SET unit = 'tax' WHERE id = 1;
INSERT INTO dimensions.people VALUES (4, 'audit');
UPDATE time_entries SET staff_id = 4 WHERE id % 17 = 0;
INSERT INTO sightings VALUES ('2024-01-05 23:30', 5), ('2024-03-01 00:00', 7);
DELETE FROM sightings WHERE n % 9 = 0;
\set team_query 'SELECT time_bucket(''1 day'', e.started_at), s.unit, count(*), sum(e.duration), avg(e.rate), max(e.duration) FROM time_entries e JOIN dimensions.people s ON s.id = e.staff_id WHERE e.duration > 5 GROUP BY 1, 2'
\set visits_query 'SELECT date_trunc(''day'', seen_at, ''Europe/Paris''), count(*), sum(n) FROM sightings GROUP BY 1'
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE staff_weeks', :'weeks_query') AS staff_weeks,
       differences('TABLE visit_days', :'visits_query') AS visit_days;
CALL refresh_continuous_aggregate('team_days', NULL, NULL);
CALL refresh_continuous_aggregate('visit_days', NULL, NULL);
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE visit_days', :'visits_query') AS visit_days;
ALTER MATERIALIZED VIEW team_days SET (tally.materialized_only = true);
SELECT differences('TABLE team_days', :'team_query') AS materialized_team_days;
ALTER MATERIALIZED VIEW team_days SET (tally.materialized_only = false);
SELECT hypertable_name, view_name FROM tally_information.continuous_aggregates ORDER BY view_name;

-- a rename rolled back takes its SQL along
BEGIN;
ALTER TABLE time_entries RENAME COLUMN duration TO mins;
INSERT INTO time_entries VALUES (1003, 1, '2024-01-04 09:00', 20, 50, 'call', 0);
ROLLBACK;
INSERT INTO time_entries VALUES (1004, 1, '2024-01-04 10:00', 25, 50, 'call', 0);
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE staff_weeks', :'weeks_query') AS staff_weeks;

-- a column an aggregate reads cannot be dropped or change type; the others can
ALTER TABLE time_entries DROP COLUMN duration;
ALTER TABLE time_entries DROP COLUMN note;
ALTER TABLE dimensions.people DROP COLUMN unit;
ALTER TABLE sightings DROP COLUMN n;
ALTER TABLE time_entries ALTER COLUMN duration TYPE bigint;
ALTER TABLE time_entries ALTER COLUMN rate TYPE numeric(12,2);
ALTER TABLE sightings ALTER COLUMN seen_at TYPE timestamp;
ALTER TABLE time_entries ALTER COLUMN spare TYPE bigint;
ALTER TABLE time_entries DROP COLUMN spare;
-- the direct view that keeps a definition goes only with its aggregate
DROP VIEW _tally_internal._direct_1;
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE staff_weeks', :'weeks_query') AS staff_weeks,
       differences('TABLE visit_days', :'visits_query') AS visit_days;
INSERT INTO time_entries VALUES (1005, 3, '2024-01-04 11:00', 35, 65, 'visit');
SELECT differences('TABLE team_days', :'team_query') AS team_days,
       differences('TABLE staff_weeks', :'weeks_query') AS staff_weeks;

-- an aggregate made before 0.4.0 has no direct view: it does not know
-- which columns it reads, and cannot follow a rename
UPDATE _tally_catalog.continuous_agg SET direct_view = NULL WHERE user_view = 'visit_days'::regclass;
ALTER TABLE sightings RENAME COLUMN n TO number;
ALTER TABLE sightings RENAME TO looks;
ALTER TABLE sightings ADD COLUMN extra integer;
ALTER TABLE sightings DROP COLUMN extra;
ALTER TABLE sightings ALTER COLUMN extra TYPE bigint;
ALTER TABLE time_entries RENAME COLUMN rate TO hourly_rate;
ALTER TABLE time_entries RENAME COLUMN hourly_rate TO rate;
UPDATE _tally_catalog.continuous_agg SET direct_view = '_tally_internal._direct_3'::regclass WHERE user_view = 'visit_days'::regclass;

-- DROP COLUMN ... CASCADE drops the aggregates that read it, and nothing else
ALTER TABLE time_entries DROP COLUMN note CASCADE;
SELECT user_view FROM _tally_catalog.continuous_agg ORDER BY id;
SELECT relname FROM pg_class
 WHERE relnamespace = '_tally_internal'::regnamespace AND relname ~ '^_(direct|final|materialized|delta|invalidated)_2$';
SELECT count(*) AS functions_of_2 FROM pg_proc WHERE proname = '_pending_2';
SELECT count(*) AS triggers_of_2 FROM pg_trigger WHERE tgname LIKE 'tally\_cagg\_2\_%';
INSERT INTO time_entries VALUES (1006, 3, '2024-01-04 12:00', 15, 65);
SELECT differences('TABLE team_days', :'team_query') AS team_days;
DROP TABLE sightings CASCADE;
SELECT user_view FROM _tally_catalog.continuous_agg ORDER BY id;

-- types renamed and moved: an enum compared in a FILTER, a domain cast to
CREATE TYPE state AS ENUM ('open', 'closed');
CREATE DOMAIN mins AS integer CHECK (VALUE >= 0);
CREATE TABLE tickets (at timestamptz NOT NULL, s state, m integer);
INSERT INTO tickets SELECT '2024-01-01'::timestamptz + i * interval '5 hours',
                           (ARRAY['open', 'closed'])[1 + i % 2]::state, i FROM generate_series(1, 30) i;
CREATE MATERIALIZED VIEW ticket_days WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, s, count(*) FILTER (WHERE s = 'open'::state) AS opened,
           sum(m::mins) AS total FROM tickets GROUP BY 1, 2;
ALTER TYPE state RENAME TO status;
ALTER DOMAIN mins RENAME TO minutes_d;
ALTER TYPE status SET SCHEMA dimensions;
INSERT INTO tickets VALUES ('2024-01-02 03:00', 'open', 5);
DELETE FROM tickets WHERE m = 4;
\set tickets_query 'SELECT time_bucket(''1 day'', at), s, count(*) FILTER (WHERE s = ''open''), sum(m) FROM tickets GROUP BY 1, 2'
SELECT differences('TABLE ticket_days', :'tickets_query') AS ticket_days;
CALL refresh_continuous_aggregate('ticket_days', NULL, NULL);
SELECT differences('TABLE ticket_days', :'tickets_query') AS ticket_days;
SELECT capture_new ~ 'dimensions\.status' AND capture_new ~ 'public\.minutes_d' AS types_renamed
  FROM _tally_catalog.continuous_agg_source WHERE source = 'tickets'::regclass;

-- an owner who is not a superuser renames their own table's columns
CREATE ROLE tally_ddl_owner;
GRANT CREATE, USAGE ON SCHEMA public TO tally_ddl_owner;
SET ROLE tally_ddl_owner;
CREATE TABLE readings (at timestamptz NOT NULL, v integer);
INSERT INTO readings VALUES ('2024-01-01 10:00', 1), ('2024-01-02 10:00', 2);
CREATE MATERIALIZED VIEW reading_days WITH (tally.continuous) AS
    SELECT time_bucket('1 day', at) AS day, sum(v) AS total, max(v) AS top FROM readings GROUP BY 1;
ALTER TABLE readings RENAME COLUMN v TO value;
INSERT INTO readings VALUES ('2024-01-01 11:00', 5);
DELETE FROM readings WHERE value = 2;
SELECT * FROM reading_days ORDER BY day;
CALL refresh_continuous_aggregate('reading_days', NULL, NULL);
SELECT * FROM reading_days ORDER BY day;
ALTER TABLE readings DROP COLUMN value;
DROP MATERIALIZED VIEW reading_days;
DROP TABLE readings;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA public CASCADE;
DROP SCHEMA dimensions CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP OWNED BY tally_ddl_owner;
DROP ROLE tally_ddl_owner;
