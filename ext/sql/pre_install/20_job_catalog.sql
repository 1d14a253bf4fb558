-- Jobs: the catalog the scheduler (src/scheduler/) runs from.  Job 1 is
-- chunk maintenance, for every hypertable of the database.

CREATE TABLE _tally_catalog.bgw_job (
    id                  serial PRIMARY KEY,
    application_name    name NOT NULL,
    schedule_interval   interval NOT NULL CHECK (schedule_interval > interval '0'),
    max_runtime         interval NOT NULL DEFAULT interval '0',
    -- consecutive failures retried with backoff before waiting for the next
    -- regular run; -1 retries for ever
    max_retries         integer NOT NULL DEFAULT -1 CHECK (max_retries >= -1),
    retry_period        interval NOT NULL CHECK (retry_period > interval '0'),
    proc_schema         name NOT NULL,
    proc_name           name NOT NULL,
    owner               regrole NOT NULL,
    scheduled           boolean NOT NULL DEFAULT true,
    fixed_schedule      boolean NOT NULL DEFAULT true,
    initial_start       timestamptz,
    hypertable_id       integer REFERENCES _tally_catalog.hypertable ON DELETE CASCADE,
    config              jsonb
);
ALTER SEQUENCE _tally_catalog.bgw_job_id_seq MINVALUE 1000 START 1000 RESTART 1000;

CREATE TABLE _tally_catalog.bgw_job_stat (
    job_id                  integer PRIMARY KEY REFERENCES _tally_catalog.bgw_job ON DELETE CASCADE,
    next_start              timestamptz NOT NULL,
    running                 boolean NOT NULL DEFAULT false,
    last_start              timestamptz,
    last_finish             timestamptz,
    last_successful_finish  timestamptz,
    last_run_success        boolean,
    total_runs              bigint NOT NULL DEFAULT 0,
    total_successes         bigint NOT NULL DEFAULT 0,
    total_failures          bigint NOT NULL DEFAULT 0,
    total_crashes           bigint NOT NULL DEFAULT 0,
    total_duration          interval NOT NULL DEFAULT interval '0',
    consecutive_failures    integer NOT NULL DEFAULT 0
);

CREATE TABLE _tally_catalog.bgw_job_error (
    id              bigserial PRIMARY KEY,
    job_id          integer NOT NULL,
    pid             integer,
    start_time      timestamptz,
    finish_time     timestamptz,
    sqlerrcode      text,
    err_message     text
);
CREATE INDEX bgw_job_error_job_idx ON _tally_catalog.bgw_job_error (job_id, finish_time);

SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.bgw_job', 'WHERE id >= 1000');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.bgw_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.bgw_job_stat', 'WHERE job_id >= 1000');
GRANT SELECT ON _tally_catalog.bgw_job, _tally_catalog.bgw_job_stat,
                _tally_catalog.bgw_job_error TO PUBLIC;

-- job 1: chunk maintenance (see 80_policies.sql)
INSERT INTO _tally_catalog.bgw_job (id, application_name, schedule_interval, retry_period,
                                    proc_schema, proc_name, owner)
VALUES (1, 'Chunk Maintenance [1]', interval '1 hour', interval '5 minutes',
        '_tally_internal', 'policy_chunk_maintenance', current_user::regrole);
INSERT INTO _tally_catalog.bgw_job_stat (job_id, next_start) VALUES (1, now());
