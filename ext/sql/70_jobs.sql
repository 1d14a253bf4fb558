-- Jobs: the bookkeeping the scheduler (src/scheduler/) calls, and the
-- user-facing alter_job, run_job, delete_job.  The catalog is in
-- pre_install/20_job_catalog.sql.

CREATE OR REPLACE FUNCTION _tally_internal.wake_scheduler() RETURNS boolean
    AS 'MODULE_PATHNAME', 'tally_wake_scheduler' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION _tally_internal.scheduler_available() RETURNS boolean
    AS 'MODULE_PATHNAME', 'tally_scheduler_available' LANGUAGE C STABLE;

-- Policies need the scheduler: say so clearly when it cannot run.
CREATE OR REPLACE FUNCTION _tally_internal.require_scheduler() RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT _tally_internal.scheduler_available() THEN
        RAISE EXCEPTION 'tally job scheduler is not running'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Policies are run by a background worker that starts only when tally is preloaded.',
                  HINT = 'Add tally to shared_preload_libraries in postgresql.conf and restart the server.';
    END IF;
END
$$;

-- Register a job; it first runs at initial_start, or now.
CREATE OR REPLACE FUNCTION _tally_internal.add_job(application_name name, proc regproc, schedule_interval interval,
                                        retry_period interval, config jsonb, hypertable_id integer,
                                        initial_start timestamptz, owner regrole)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id integer;
BEGIN
    IF schedule_interval IS NULL OR schedule_interval <= interval '0' THEN
        RAISE EXCEPTION 'schedule_interval must be greater than zero'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO _tally_catalog.bgw_job (application_name, schedule_interval, retry_period, proc_schema,
                                        proc_name, owner, initial_start, hypertable_id, config)
    SELECT application_name, schedule_interval, retry_period, n.nspname, p.proname, owner,
           initial_start, hypertable_id, config
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = proc
    RETURNING id INTO new_id;
    INSERT INTO _tally_catalog.bgw_job_stat (job_id, next_start)
    VALUES (new_id, coalesce(initial_start, now()));
    PERFORM _tally_internal.wake_scheduler();
    RETURN new_id;
END
$$;

-- The role a job belongs to: for a policy, whoever owns its hypertable or
-- continuous aggregate now (ALTER ... OWNER TO moves the policy along);
-- otherwise its owner.
CREATE OR REPLACE FUNCTION _tally_internal.job_owner(job _tally_catalog.bgw_job) RETURNS oid
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT c.relowner FROM _tally_catalog.hypertable h
                       JOIN pg_class c ON c.oid = h.relid
                      WHERE h.id = job.hypertable_id),
                    (SELECT c.relowner FROM _tally_catalog.continuous_agg a
                       JOIN pg_class c ON c.oid = a.user_view
                      WHERE a.id = job.continuous_aggregate_id),
                    job.owner)
$$;

-- A policy acts on the table its job row names, fixed when its owner added
-- it; config may repeat that name (as TimescaleDB's does) but never change
-- it: alter_job refuses, and the policies read the row, not the config.
CREATE OR REPLACE FUNCTION _tally_internal.check_job_target(job _tally_catalog.bgw_job, config jsonb)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF config ? 'hypertable_id'
       AND (config->>'hypertable_id') IS DISTINCT FROM job.hypertable_id::text
       OR config ? 'continuous_aggregate_id'
       AND (config->>'continuous_aggregate_id') IS DISTINCT FROM job.continuous_aggregate_id::text THEN
        RAISE EXCEPTION 'cannot change the target of job %', job.id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A policy acts on the hypertable or continuous aggregate it was added for.',
                  HINT = 'Add a policy on the other object instead.';
    END IF;
END
$$;

-- Scheduler bookkeeping ---------------------------------------------------

CREATE OR REPLACE FUNCTION _tally_internal.jobs_due() RETURNS TABLE (job_id integer)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id FROM _tally_catalog.bgw_job j JOIN _tally_catalog.bgw_job_stat s ON s.job_id = j.id
     WHERE j.scheduled AND NOT s.running AND s.next_start <= clock_timestamp()
     ORDER BY s.next_start, j.id
$$;

CREATE OR REPLACE FUNCTION _tally_internal.next_job_start() RETURNS timestamptz
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT min(s.next_start) FROM _tally_catalog.bgw_job j JOIN _tally_catalog.bgw_job_stat s ON s.job_id = j.id
     WHERE j.scheduled AND NOT s.running
$$;

-- Mark a job running and return the statement that runs it and its owner.
-- A job row locked by someone's open transaction (alter_job) is skipped
-- this time rather than waited for: one user cannot stall every job.
CREATE OR REPLACE FUNCTION _tally_internal.job_started(job_id integer, OUT call text, OUT owner oid)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET lock_timeout = '5s'
AS $$
DECLARE
    j _tally_catalog.bgw_job;
BEGIN
    SELECT * INTO j FROM _tally_catalog.bgw_job WHERE id = job_id FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF (SELECT s.running FROM _tally_catalog.bgw_job_stat s WHERE s.job_id = j.id) THEN
        RAISE EXCEPTION 'job % is already running', j.id
            USING ERRCODE = 'object_in_use';
    END IF;
    UPDATE _tally_catalog.bgw_job_stat s
       SET running = true, last_start = clock_timestamp(), total_runs = s.total_runs + 1
     WHERE s.job_id = j.id;
    call := format('SELECT %I.%I(%s, %L::pg_catalog.jsonb)', j.proc_schema, j.proc_name, j.id, j.config);
    owner := _tally_internal.job_owner(j);
END
$$;

-- Record how a run ended and when the job runs next: on success at the next
-- point of its schedule; after a failure sooner, with exponential backoff
-- from retry_period, until max_retries failures in a row.
CREATE OR REPLACE FUNCTION _tally_internal.job_finished(job_id integer, success boolean,
                                             sqlerrcode text DEFAULT NULL, err_message text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET lock_timeout = '5s'
AS $$
DECLARE
    j _tally_catalog.bgw_job;
    s _tally_catalog.bgw_job_stat;
    finished timestamptz := clock_timestamp();
    regular_next timestamptz;
BEGIN
    SELECT * INTO j FROM _tally_catalog.bgw_job WHERE id = job_id;
    SELECT * INTO s FROM _tally_catalog.bgw_job_stat st WHERE st.job_id = job_finished.job_id FOR UPDATE;
    IF j.id IS NULL OR s.job_id IS NULL THEN
        RETURN;     -- deleted while it ran
    END IF;
    -- a run longer than its interval is followed by the next one at once
    regular_next := greatest(s.last_start + j.schedule_interval, finished);
    IF success THEN
        UPDATE _tally_catalog.bgw_job_stat st
           SET running = false, last_finish = finished, last_successful_finish = finished,
               last_run_success = true, total_successes = st.total_successes + 1,
               total_duration = st.total_duration + (finished - s.last_start),
               consecutive_failures = 0, next_start = greatest(regular_next, finished)
         WHERE st.job_id = j.id;
    ELSE
        INSERT INTO _tally_catalog.bgw_job_error (job_id, pid, start_time, finish_time, sqlerrcode, err_message)
        VALUES (j.id, pg_backend_pid(), s.last_start, finished, sqlerrcode, err_message);
        UPDATE _tally_catalog.bgw_job_stat st
           SET running = false, last_finish = finished, last_run_success = false,
               total_failures = st.total_failures + 1,
               total_duration = st.total_duration + (finished - s.last_start),
               consecutive_failures = st.consecutive_failures + 1,
               next_start = CASE
                   WHEN j.max_retries >= 0 AND st.consecutive_failures + 1 > j.max_retries
                       THEN greatest(regular_next, finished)
                   ELSE finished + least(j.retry_period * power(2, least(st.consecutive_failures, 20)),
                                         greatest(j.schedule_interval, j.retry_period))
               END
         WHERE st.job_id = j.id;
    END IF;
END
$$;

-- After a scheduler died, the jobs it was running count as crashed.
CREATE OR REPLACE FUNCTION _tally_internal.jobs_recover_crashed() RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _tally_catalog.bgw_job_error (job_id, start_time, finish_time, sqlerrcode, err_message)
    SELECT s.job_id, s.last_start, clock_timestamp(), NULL, 'job crashed: its scheduler exited while it ran'
      FROM _tally_catalog.bgw_job_stat s WHERE s.running;
    UPDATE _tally_catalog.bgw_job_stat
       SET running = false, last_finish = clock_timestamp(), last_run_success = false,
           total_crashes = total_crashes + 1, consecutive_failures = consecutive_failures + 1,
           next_start = clock_timestamp()
     WHERE running;
$$;

-- User-facing --------------------------------------------------------------

CREATE OR REPLACE FUNCTION _tally_internal.check_job_owner(job_id integer) RETURNS _tally_catalog.bgw_job
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j _tally_catalog.bgw_job;
BEGIN
    SELECT * INTO j FROM _tally_catalog.bgw_job WHERE id = job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % not found', job_id
            USING ERRCODE = 'undefined_object';
    END IF;
    -- session_user: the callers are SECURITY DEFINER (see check_owner)
    IF NOT pg_has_role(session_user, _tally_internal.job_owner(j), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of job %', job_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A job belongs to the owner of its hypertable, or to the owner of the extension.';
    END IF;
    RETURN j;
END
$$;

CREATE OR REPLACE FUNCTION _tally_internal.alter_job(
    job_id integer,
    schedule_interval interval DEFAULT NULL,
    max_runtime interval DEFAULT NULL,
    max_retries integer DEFAULT NULL,
    retry_period interval DEFAULT NULL,
    scheduled boolean DEFAULT NULL,
    config jsonb DEFAULT NULL,
    next_start timestamptz DEFAULT NULL,
    if_exists boolean DEFAULT false,
    check_config regproc DEFAULT NULL,
    fixed_schedule boolean DEFAULT NULL,
    initial_start timestamptz DEFAULT NULL,
    timezone text DEFAULT NULL)
    RETURNS TABLE (new_job_id integer, new_schedule_interval interval, new_max_runtime interval,
                   new_max_retries integer, new_retry_period interval, new_scheduled boolean,
                   new_config jsonb, new_next_start timestamptz, new_check_config text,
                   new_fixed_schedule boolean, new_initial_start timestamptz, new_timezone text)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    the_id integer := job_id;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM _tally_catalog.bgw_job j WHERE j.id = the_id) AND if_exists THEN
        RAISE NOTICE 'job % not found, skipping', the_id;
        RETURN;
    END IF;
    PERFORM _tally_internal.check_job_target(_tally_internal.check_job_owner(the_id), alter_job.config);
    IF check_config IS NOT NULL OR timezone IS NOT NULL THEN
        RAISE EXCEPTION 'alter_job: check_config and timezone are not supported'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF alter_job.schedule_interval <= interval '0' OR alter_job.retry_period <= interval '0'
       OR alter_job.max_runtime < interval '0' OR alter_job.max_retries < -1 THEN
        RAISE EXCEPTION 'invalid job setting for job %', the_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'schedule_interval and retry_period must be positive, max_runtime not negative, max_retries at least -1.';
    END IF;
    UPDATE _tally_catalog.bgw_job j
       SET schedule_interval = coalesce(alter_job.schedule_interval, j.schedule_interval),
           max_runtime = coalesce(alter_job.max_runtime, j.max_runtime),
           max_retries = coalesce(alter_job.max_retries, j.max_retries),
           retry_period = coalesce(alter_job.retry_period, j.retry_period),
           scheduled = coalesce(alter_job.scheduled, j.scheduled),
           config = coalesce(alter_job.config, j.config),
           fixed_schedule = coalesce(alter_job.fixed_schedule, j.fixed_schedule),
           initial_start = coalesce(alter_job.initial_start, j.initial_start)
     WHERE j.id = the_id;
    IF alter_job.next_start IS NOT NULL OR alter_job.initial_start IS NOT NULL THEN
        UPDATE _tally_catalog.bgw_job_stat s
           SET next_start = coalesce(alter_job.next_start, alter_job.initial_start)
         WHERE s.job_id = the_id;
    END IF;
    PERFORM _tally_internal.wake_scheduler();
    RETURN QUERY
    SELECT j.id, j.schedule_interval, j.max_runtime, j.max_retries, j.retry_period, j.scheduled,
           j.config, s.next_start, NULL::text, j.fixed_schedule, j.initial_start, NULL::text
      FROM _tally_catalog.bgw_job j JOIN _tally_catalog.bgw_job_stat s ON s.job_id = j.id
     WHERE j.id = the_id;
END
$$;

-- alter_job returns columns named as its parameters, which PL/pgSQL cannot
-- declare: a SQL wrapper over the implementation above.
CREATE OR REPLACE FUNCTION @extschema@.alter_job(
    job_id integer,
    schedule_interval interval DEFAULT NULL,
    max_runtime interval DEFAULT NULL,
    max_retries integer DEFAULT NULL,
    retry_period interval DEFAULT NULL,
    scheduled boolean DEFAULT NULL,
    config jsonb DEFAULT NULL,
    next_start timestamptz DEFAULT NULL,
    if_exists boolean DEFAULT false,
    check_config regproc DEFAULT NULL,
    fixed_schedule boolean DEFAULT NULL,
    initial_start timestamptz DEFAULT NULL,
    timezone text DEFAULT NULL)
    RETURNS TABLE (job_id integer, schedule_interval interval, max_runtime interval,
                   max_retries integer, retry_period interval, scheduled boolean, config jsonb,
                   next_start timestamptz, check_config text, fixed_schedule boolean,
                   initial_start timestamptz, timezone text)
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM _tally_internal.alter_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
$$;

CREATE OR REPLACE FUNCTION @extschema@.delete_job(job_id integer) RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _tally_internal.check_job_owner(job_id);
    DELETE FROM _tally_catalog.bgw_job j WHERE j.id = delete_job.job_id;
    DELETE FROM _tally_catalog.bgw_job_error e WHERE e.job_id = delete_job.job_id;
END
$$;

-- run_job runs a job now, in this session, with the scheduler's bookkeeping.
-- An error goes to the caller and rolls back the run with its bookkeeping.
-- The job runs as its owner, as under the scheduler, whoever calls it.
CREATE OR REPLACE FUNCTION _tally_internal.run_job(job_id integer) RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j _tally_catalog.bgw_job := _tally_internal.check_job_owner(job_id);
    started record;
BEGIN
    SELECT * INTO started FROM _tally_internal.job_started(j.id);
    IF started.call IS NULL THEN
        RAISE EXCEPTION 'job % is being changed or run by another session', j.id
            USING ERRCODE = 'object_in_use';
    END IF;
    PERFORM _tally_internal.run_job_as_owner(started.call, started.owner);
    PERFORM _tally_internal.job_finished(j.id, true);
END
$$;

CREATE OR REPLACE FUNCTION _tally_internal.run_job_as_owner(call text, owner regrole) RETURNS void
    AS 'MODULE_PATHNAME', 'tally_run_job_as_owner'
    LANGUAGE C VOLATILE STRICT;

CREATE OR REPLACE PROCEDURE @extschema@.run_job(job_id integer)
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _tally_internal.run_job(job_id);
$$;

-- Views ---------------------------------------------------------------------

CREATE OR REPLACE VIEW tally_information.jobs AS
SELECT j.id AS job_id, j.application_name, j.schedule_interval, j.max_runtime, j.max_retries,
       j.retry_period, j.proc_schema, j.proc_name, _tally_internal.job_owner(j)::regrole AS owner,
       j.scheduled, j.fixed_schedule,
       j.config, s.next_start, j.initial_start,
       hn.nspname AS hypertable_schema, hc.relname AS hypertable_name,
       NULL::name AS check_schema, NULL::name AS check_name
  FROM _tally_catalog.bgw_job j
  JOIN _tally_catalog.bgw_job_stat s ON s.job_id = j.id
  LEFT JOIN _tally_catalog.hypertable h ON h.id = j.hypertable_id
  LEFT JOIN pg_catalog.pg_class hc ON hc.oid = h.relid
  LEFT JOIN pg_catalog.pg_namespace hn ON hn.oid = hc.relnamespace;

CREATE OR REPLACE VIEW tally_information.job_stats AS
SELECT hn.nspname AS hypertable_schema, hc.relname AS hypertable_name, j.id AS job_id,
       s.last_start AS last_run_started_at, s.last_successful_finish,
       CASE WHEN s.last_run_success THEN 'Success' WHEN NOT s.last_run_success THEN 'Failed' END
           AS last_run_status,
       CASE WHEN s.running THEN 'Running' WHEN j.scheduled THEN 'Scheduled' ELSE 'Paused' END
           AS job_status,
       s.last_finish - s.last_start AS last_run_duration,
       s.next_start, s.total_runs, s.total_successes, s.total_failures, s.total_crashes,
       s.consecutive_failures
  FROM _tally_catalog.bgw_job j
  JOIN _tally_catalog.bgw_job_stat s ON s.job_id = j.id
  LEFT JOIN _tally_catalog.hypertable h ON h.id = j.hypertable_id
  LEFT JOIN pg_catalog.pg_class hc ON hc.oid = h.relid
  LEFT JOIN pg_catalog.pg_namespace hn ON hn.oid = hc.relnamespace;

CREATE OR REPLACE VIEW tally_information.job_errors AS
SELECT e.job_id, j.proc_schema, j.proc_name, e.pid, e.start_time, e.finish_time, e.sqlerrcode,
       e.err_message
  FROM _tally_catalog.bgw_job_error e
  LEFT JOIN _tally_catalog.bgw_job j ON j.id = e.job_id;

GRANT SELECT ON tally_information.jobs, tally_information.job_stats, tally_information.job_errors
    TO PUBLIC;
