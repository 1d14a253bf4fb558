-- Policies: jobs that keep hypertables in shape.  Chunk maintenance runs for
-- every hypertable of the database (job 1, created with the extension);
-- retention runs per hypertable.

CREATE OR REPLACE FUNCTION _tally_internal.policy_chunk_maintenance(job_id integer, config jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel regclass;
BEGIN
    -- one hypertable's trouble must not stop the maintenance of the others
    FOR rel IN SELECT relid FROM _tally_catalog.hypertable ORDER BY id LOOP
        BEGIN
            PERFORM _tally_internal.maintain_chunks(rel);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'chunk maintenance of hypertable "%" failed: %', rel, SQLERRM;
        END;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION _tally_internal.policy_retention(job_id integer, config jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- the target is the job's own hypertable, fixed when the policy was
    -- added by its owner; config cannot point a job at another table
    rel regclass := (SELECT h.relid FROM _tally_catalog.bgw_job j
                       JOIN _tally_catalog.hypertable h ON h.id = j.hypertable_id
                      WHERE j.id = job_id);
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'retention job % has no hypertable', job_id
            USING ERRCODE = 'undefined_table';
    END IF;
    -- the job runs as its owner: who must still own the hypertable
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE') THEN
        RAISE EXCEPTION 'retention job %: role % must be owner of table %', job_id, current_user, rel
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF config->>'drop_after' IS NULL OR config->>'drop_after_type' IS NULL THEN
        RAISE EXCEPTION 'retention job %: config needs drop_after and drop_after_type', job_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _tally_internal.drop_chunks(rel, config->>'drop_after', (config->>'drop_after_type')::regtype,
                                        NULL, NULL, false, NULL, NULL, NULL, NULL);
END
$$;

-- job 1 may be due: let the scheduler look
SELECT _tally_internal.wake_scheduler();

-- drop_after arrives as its text and type, from the two front ends below.
CREATE OR REPLACE FUNCTION _tally_internal.add_retention_policy(relation regclass, drop_after text,
                                                     drop_after_type regtype, if_not_exists boolean,
                                                     schedule_interval interval,
                                                     initial_start timestamptz, timezone text)
    RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(relation);
    existing _tally_catalog.bgw_job;
    value_type regtype := drop_after_type;
    value_text text := drop_after;
    config jsonb;
BEGIN
    PERFORM _tally_internal.check_owner(relation);
    PERFORM _tally_internal.require_scheduler();
    IF drop_after IS NULL THEN
        RAISE EXCEPTION 'drop_after must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF timezone IS NOT NULL THEN
        RAISE EXCEPTION 'add_retention_policy: timezone is not supported' USING ERRCODE = 'feature_not_supported';
    END IF;
    -- a bare string such as '1 year' means an interval
    IF value_type IN ('text'::regtype, 'unknown'::regtype) AND value_text ~ '^\s*[-+]?\s*[0-9@]' THEN
        BEGIN
            value_text := value_text::interval::text;
            value_type := 'interval';
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
            NULL;
        END;
    END IF;
    -- refuse a value that cannot be compared with the time column now, not at the first run
    PERFORM _tally_internal.time_arg_to_internal(value_text, value_type, ht.time_type, 'drop_after');
    config := jsonb_build_object('hypertable_id', ht.id, 'drop_after', value_text,
                                 'drop_after_type', value_type::text);

    SELECT * INTO existing FROM _tally_catalog.bgw_job
     WHERE hypertable_id = ht.id AND proc_name = 'policy_retention';
    IF FOUND THEN
        IF if_not_exists THEN
            IF existing.config IS DISTINCT FROM config THEN
                RAISE WARNING 'retention policy already exists for hypertable "%" with different arguments', relation
                    USING DETAIL = format('Existing: drop_after %s.', existing.config->>'drop_after');
            ELSE
                RAISE NOTICE 'retention policy already exists for hypertable "%", skipping', relation;
            END IF;
            RETURN existing.id;
        END IF;
        RAISE EXCEPTION 'retention policy already exists for hypertable "%"', relation
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Remove it with remove_retention_policy() first, or pass if_not_exists => true.';
    END IF;

    RETURN _tally_internal.add_job(format('Retention Policy [%s]', ht.id)::name,
                                   '_tally_internal.policy_retention'::regproc,
                                   coalesce(schedule_interval, interval '1 day'),
                                   interval '5 minutes', config, ht.id, initial_start,
                                   (SELECT relowner::regrole FROM pg_class WHERE oid = relation));
END
$$;

-- add_retention_policy(relation, drop_after => ...): drop_after is an
-- interval, a value of the time column's type, or a string ('3 months').
CREATE OR REPLACE FUNCTION @extschema@.add_retention_policy(relation regclass,
                                                 drop_after anyelement,
                                                 if_not_exists boolean DEFAULT false,
                                                 schedule_interval interval DEFAULT NULL,
                                                 initial_start timestamptz DEFAULT NULL,
                                                 timezone text DEFAULT NULL)
    RETURNS integer
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _tally_internal.add_retention_policy($1, $2::text, pg_catalog.pg_typeof($2), $3, $4, $5, $6)
$$;

CREATE OR REPLACE FUNCTION @extschema@.add_retention_policy(relation regclass,
                                                 drop_after text,
                                                 if_not_exists boolean DEFAULT false,
                                                 schedule_interval interval DEFAULT NULL,
                                                 initial_start timestamptz DEFAULT NULL,
                                                 timezone text DEFAULT NULL)
    RETURNS integer
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _tally_internal.add_retention_policy($1, $2, 'text', $3, $4, $5, $6)
$$;

CREATE OR REPLACE FUNCTION @extschema@.remove_retention_policy(relation regclass, if_exists boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(relation);
BEGIN
    PERFORM _tally_internal.check_owner(relation);
    DELETE FROM _tally_catalog.bgw_job WHERE hypertable_id = ht.id AND proc_name = 'policy_retention';
    IF NOT FOUND THEN
        IF if_exists THEN
            RAISE NOTICE 'retention policy not found for hypertable "%", skipping', relation;
        ELSE
            RAISE EXCEPTION 'retention policy not found for hypertable "%"', relation
                USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
END
$$;
