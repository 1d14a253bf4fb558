-- Jobs and retention policies, without waiting for the scheduler: run_job
-- runs a job in this session with the same bookkeeping.
CREATE EXTENSION tally;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- chunk maintenance exists from the start, for every hypertable
SELECT job_id, application_name, schedule_interval, proc_schema, proc_name, scheduled
  FROM tally_information.jobs;

CREATE TABLE entries (at timestamptz NOT NULL, v integer);
SELECT table_name FROM create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
INSERT INTO entries SELECT now() - n * interval '1 day', n FROM generate_series(0, 9) n;
SELECT count(*) AS chunks FROM show_chunks('entries');

-- a retention policy
SELECT add_retention_policy('entries', drop_after => interval '5 days');
SELECT job_id, application_name, schedule_interval, retry_period, proc_name, config,
       hypertable_name, next_start <= now() AS due_now
  FROM tally_information.jobs WHERE job_id >= 1000;
SELECT add_retention_policy('entries', interval '5 days');
SELECT add_retention_policy('entries', interval '5 days', if_not_exists => true);
SELECT add_retention_policy('entries', interval '9 days', if_not_exists => true);
CALL run_job(1000);
SELECT count(*) AS rows_left, min(at) > now() - interval '6 days' AS nothing_older_than_6_days FROM entries;
SELECT job_id, last_run_status, job_status, total_runs, total_successes, total_failures,
       next_start > now() AS scheduled_ahead
  FROM tally_information.job_stats WHERE job_id = 1000;

-- alter_job changes the schedule and can pause a job
SELECT job_id, schedule_interval, max_retries, retry_period, scheduled
  FROM alter_job(1000, schedule_interval => interval '2 hours', max_retries => 3, scheduled => false);
SELECT job_status FROM tally_information.job_stats WHERE job_id = 1000;
SELECT next_start FROM alter_job(1000, next_start => '2030-01-01 00:00+00');
SELECT alter_job(1000, schedule_interval => interval '0');
SELECT alter_job(4242, scheduled => false);
SELECT alter_job(4242, scheduled => false, if_exists => true);

-- a failing job raises to run_job's caller and changes nothing
SELECT count(*) FROM alter_job(1000, config => '{"drop_after_type": "interval"}');
CALL run_job(1000);
SELECT total_runs, total_failures FROM tally_information.job_stats WHERE job_id = 1000;
CALL run_job(4242);

-- the scheduler's bookkeeping: failures back off, success resets them
SELECT _tally_internal.job_started(1000) IS NOT NULL AS started;
SELECT _tally_internal.job_finished(1000, false, '42P01', 'boom');
SELECT total_failures, consecutive_failures, last_run_status,
       next_start - (SELECT finish_time FROM tally_information.job_errors WHERE job_id = 1000
                      ORDER BY finish_time DESC LIMIT 1) AS retry_after
  FROM tally_information.job_stats WHERE job_id = 1000;
SELECT _tally_internal.job_started(1000) IS NOT NULL AS started;
SELECT _tally_internal.job_finished(1000, false, '42P01', 'boom again');
SELECT consecutive_failures,
       next_start - (SELECT finish_time FROM tally_information.job_errors WHERE job_id = 1000
                      ORDER BY finish_time DESC LIMIT 1) AS retry_after
  FROM tally_information.job_stats WHERE job_id = 1000;
SELECT job_id, proc_name, sqlerrcode, err_message FROM tally_information.job_errors ORDER BY finish_time;
-- a job left running by a dead scheduler counts as crashed
SELECT _tally_internal.job_started(1000) IS NOT NULL AS started;
SELECT job_status FROM tally_information.job_stats WHERE job_id = 1000;
CALL run_job(1000);
SELECT _tally_internal.jobs_recover_crashed();
SELECT job_status, total_crashes, consecutive_failures FROM tally_information.job_stats WHERE job_id = 1000;

-- only the owner may change or run a job
CREATE ROLE tally_job_intruder;
SET SESSION AUTHORIZATION tally_job_intruder;
SELECT alter_job(1000, scheduled => true);
CALL run_job(1000);
SELECT delete_job(1000);
SELECT remove_retention_policy('entries');
SELECT add_retention_policy('entries', interval '1 day');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS jobs_unchanged FROM tally_information.jobs;

-- remove the policy; retention needs a hypertable and a comparable bound
SELECT remove_retention_policy('entries');
SELECT remove_retention_policy('entries');
SELECT remove_retention_policy('entries', if_exists => true);
SELECT count(*) AS retention_jobs FROM tally_information.jobs WHERE proc_name = 'policy_retention';
SELECT add_retention_policy('entries', drop_after => 42);
SELECT add_retention_policy('entries', drop_after => '3 days');
SELECT config FROM tally_information.jobs WHERE job_id >= 1000;
CREATE TABLE plain (at timestamptz);
SELECT add_retention_policy('plain', interval '1 day');
CREATE TABLE ticks (tick bigint NOT NULL);
SELECT table_name FROM create_hypertable('ticks', 'tick', chunk_time_interval => 10);
SELECT add_retention_policy('ticks', interval '1 day');
SELECT add_retention_policy('ticks', 100::bigint) >= 1000 AS added;
-- dropping a hypertable removes its jobs
DROP TABLE ticks;
SELECT count(*) AS jobs_left FROM tally_information.jobs;
SELECT delete_job(1);
SELECT count(*) AS jobs_left FROM tally_information.jobs;

DROP SCHEMA public CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
DROP ROLE tally_job_intruder;
