-- Continuous aggregates (see src/cagg/README.md).  CREATE MATERIALIZED VIEW
-- ... WITH (tally.continuous) is taken apart in C (src/cagg/), which writes
-- the SQL that keeps the aggregate into this catalog; refreshes run it.

CREATE OR REPLACE FUNCTION _tally_internal.cagg_capture() RETURNS trigger
    AS 'MODULE_PATHNAME', 'tally_cagg_capture'
    LANGUAGE C;

-- The standard deviation of a variance kept by sums, as stddev() prints it:
-- the square root rounded once, at the variance's scale (src/cagg/sql.c).
CREATE OR REPLACE FUNCTION _tally_internal.cagg_stddev(variance numeric) RETURNS numeric
    AS 'MODULE_PATHNAME', 'tally_cagg_stddev'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A window bound given as (text, type), as the bucket's type.  Only built-in
-- types are accepted: a user's cast must never run here.
CREATE OR REPLACE FUNCTION _tally_internal.cagg_window_value(value text, value_type regtype,
                                                  bucket_type regtype, what text)
    RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
    integer_bucket boolean := bucket_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype);
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    IF value_type IN ('unknown'::regtype, 'text'::regtype) THEN
        value_type := 'text';
    ELSIF integer_bucket AND value_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
       OR NOT integer_bucket AND value_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
    THEN
        RAISE EXCEPTION '% must be of type %, not %', what, bucket_type, value_type
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    EXECUTE format('SELECT (%L::%s)::%s::text', value, value_type, bucket_type) INTO result;
    RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION _tally_internal.refresh_continuous_aggregate(cagg regclass,
                                                             start_value text, start_type regtype,
                                                             end_value text, end_type regtype)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.continuous_agg;
    window_start text;
    window_end text;
    ordered boolean;
    work boolean;
    stmt text;
BEGIN
    SELECT * INTO c FROM _tally_catalog.continuous_agg WHERE user_view = cagg;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation "%" is not a continuous aggregate', cagg
            USING ERRCODE = 'wrong_object_type';
    END IF;
    -- the C front end has checked the caller and switched to the owner
    IF (SELECT relowner FROM pg_class WHERE oid = c.mat_table) IS DISTINCT FROM
       (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'refresh continuous aggregate "%" with CALL refresh_continuous_aggregate()', cagg
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    window_start := _tally_internal.cagg_window_value(start_value, start_type, c.bucket_type, 'window_start');
    window_end := _tally_internal.cagg_window_value(end_value, end_type, c.bucket_type, 'window_end');
    IF window_start IS NOT NULL AND window_end IS NOT NULL THEN
        EXECUTE format('SELECT %L::%s < %L::%s', window_start, c.bucket_type, window_end, c.bucket_type)
           INTO ordered;
        IF NOT ordered THEN
            RAISE EXCEPTION 'refresh window is empty: window_start % is not before window_end %',
                            window_start, window_end
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    -- the invalidation table, then the delta table, against writers'
    -- captures, which take them in the same order (capture.c); nothing else
    -- is held while it waits
    EXECUTE c.refresh_lock;
    EXECUTE c.refresh_invalidated_probe USING window_start, window_end INTO work;
    IF work THEN
        FOREACH stmt IN ARRAY c.refresh_invalidated LOOP
            EXECUTE stmt USING window_start, window_end;
        END LOOP;
    END IF;
    IF c.refresh_deltas_probe IS NOT NULL THEN
        EXECUTE c.refresh_deltas_probe USING window_start, window_end INTO work;
        IF work THEN
            FOREACH stmt IN ARRAY c.refresh_deltas LOOP
                EXECUTE stmt USING window_start, window_end;
            END LOOP;
        END IF;
    END IF;
END
$$;

-- CALL refresh_continuous_aggregate(cagg, window_start, window_end): brings
-- the buckets that start in [window_start, window_end) up to date; NULL is
-- unbounded.  The C front end passes the "any" bounds on as text and type.
CREATE OR REPLACE PROCEDURE @extschema@.refresh_continuous_aggregate(continuous_aggregate regclass,
                                                          window_start "any", window_end "any")
    AS 'MODULE_PATHNAME', 'tally_refresh_continuous_aggregate'
    LANGUAGE C;

-- Drops what a continuous aggregate made, whatever of it is left.
CREATE OR REPLACE FUNCTION _tally_internal.drop_cagg_objects(c _tally_catalog.continuous_agg) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event text;
    rel regclass;
BEGIN
    DELETE FROM _tally_catalog.bgw_job WHERE continuous_aggregate_id = c.id;
    FOR rel IN DELETE FROM _tally_catalog.continuous_agg_source s WHERE s.cagg_id = c.id RETURNING s.source LOOP
        IF EXISTS (SELECT FROM pg_class WHERE oid = rel) THEN
            FOREACH event IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
                EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', format('tally_cagg_%s_%s', c.id, event), rel);
            END LOOP;
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM pg_class WHERE oid = c.final_view) THEN
        EXECUTE format('DROP VIEW %s', c.final_view);
    END IF;
    EXECUTE format('DROP FUNCTION IF EXISTS _tally_internal.%I()', format('_pending_%s', c.id));
    FOREACH rel IN ARRAY ARRAY[c.mat_table, c.delta_table, c.inval_table] LOOP
        IF EXISTS (SELECT FROM pg_class WHERE oid = rel) THEN
            EXECUTE format('DROP TABLE %s', rel);
        END IF;
    END LOOP;
END
$$;

-- DROP MATERIALIZED VIEW of a continuous aggregate (run as the extension's
-- owner, once the C side has checked that the user owns the view).
CREATE OR REPLACE FUNCTION _tally_internal.drop_continuous_aggregate(cagg_id integer, cascade boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.continuous_agg;
BEGIN
    DELETE FROM _tally_catalog.continuous_agg WHERE id = cagg_id RETURNING * INTO c;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    EXECUTE format('DROP VIEW %s%s', c.user_view, CASE WHEN cascade THEN ' CASCADE' ELSE '' END);
    PERFORM _tally_internal.drop_cagg_objects(c);
END
$$;

-- A continuous aggregate whose view, source or tables were dropped some
-- other way (DROP VIEW, DROP TABLE ... CASCADE, DROP SCHEMA) leaves nothing.
CREATE OR REPLACE FUNCTION _tally_internal.on_cagg_drop() RETURNS event_trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.continuous_agg;
BEGIN
    FOR c IN
        DELETE FROM _tally_catalog.continuous_agg a
         USING pg_event_trigger_dropped_objects() d
         WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
           AND (d.objid IN (a.user_view, a.final_view, a.mat_table, a.delta_table, a.inval_table)
                OR EXISTS (SELECT FROM _tally_catalog.continuous_agg_source s
                            WHERE s.cagg_id = a.id AND s.source = d.objid))
        RETURNING a.*
    LOOP
        PERFORM _tally_internal.drop_cagg_objects(c);
    END LOOP;
END
$$;

-- replaced on every upgrade: an event trigger has no CREATE OR REPLACE
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'tally_cagg_sql_drop') THEN
        DROP EVENT TRIGGER tally_cagg_sql_drop;
    END IF;
END $$;
CREATE EVENT TRIGGER tally_cagg_sql_drop ON sql_drop
    EXECUTE FUNCTION _tally_internal.on_cagg_drop();

CREATE OR REPLACE VIEW tally_information.continuous_aggregates AS
SELECT sn.nspname AS hypertable_schema,
       sc.relname AS hypertable_name,
       vn.nspname AS view_schema,
       vc.relname AS view_name,
       pg_catalog.pg_get_userbyid(vc.relowner) AS view_owner,
       a.materialized_only,
       false AS compression_enabled,
       mn.nspname AS materialization_hypertable_schema,
       mc.relname AS materialization_hypertable_name,
       pg_catalog.pg_get_viewdef(a.user_view) AS view_definition,
       true AS finalized
  FROM _tally_catalog.continuous_agg a
  JOIN pg_catalog.pg_class vc ON vc.oid = a.user_view
  JOIN pg_catalog.pg_namespace vn ON vn.oid = vc.relnamespace
  JOIN pg_catalog.pg_class sc ON sc.oid = a.source
  JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace
  JOIN pg_catalog.pg_class mc ON mc.oid = a.mat_table
  JOIN pg_catalog.pg_namespace mn ON mn.oid = mc.relnamespace;
GRANT SELECT ON tally_information.continuous_aggregates TO PUBLIC;

-- Refresh policies ---------------------------------------------------------

-- A window bound now() - offset, as the bucket's type; NULL is unbounded.
CREATE OR REPLACE FUNCTION _tally_internal.cagg_offset_bound(offset_text text, bucket_type regtype) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    IF offset_text IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT (now() - %L::interval)::%s::text', offset_text, bucket_type) INTO result;
    RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION _tally_internal.policy_refresh_continuous_aggregate(job_id integer, config jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.continuous_agg;
BEGIN
    -- the aggregate is the job's own, fixed when its owner added the
    -- policy; config cannot point the job at another
    SELECT a.* INTO c FROM _tally_catalog.bgw_job j
      JOIN _tally_catalog.continuous_agg a ON a.id = j.continuous_aggregate_id
     WHERE j.id = job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'refresh job % has no continuous aggregate', job_id
            USING ERRCODE = 'undefined_table';
    END IF;
    -- the job runs as its owner (refresh_continuous_aggregate checks it again)
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = c.user_view), 'USAGE') THEN
        RAISE EXCEPTION 'refresh job %: role % must be owner of continuous aggregate %',
                        job_id, current_user, c.user_view
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    CALL @extschema@.refresh_continuous_aggregate(
        c.user_view,
        _tally_internal.cagg_offset_bound(config->>'start_offset', c.bucket_type),
        _tally_internal.cagg_offset_bound(config->>'end_offset', c.bucket_type));
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.add_continuous_aggregate_policy(continuous_aggregate regclass,
                                                            start_offset interval,
                                                            end_offset interval,
                                                            schedule_interval interval,
                                                            if_not_exists boolean DEFAULT false,
                                                            initial_start timestamptz DEFAULT NULL,
                                                            timezone text DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.continuous_agg;
    existing _tally_catalog.bgw_job;
    config jsonb;
    new_id integer;
BEGIN
    SELECT * INTO c FROM _tally_catalog.continuous_agg WHERE user_view = continuous_aggregate;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation "%" is not a continuous aggregate', continuous_aggregate
            USING ERRCODE = 'wrong_object_type';
    END IF;
    PERFORM _tally_internal.check_owner(continuous_aggregate);
    PERFORM _tally_internal.require_scheduler();
    IF timezone IS NOT NULL THEN
        RAISE EXCEPTION 'add_continuous_aggregate_policy: timezone is not supported'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF c.bucket_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        RAISE EXCEPTION 'refresh policies on integer time are not supported yet'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Call refresh_continuous_aggregate() from your own job.';
    END IF;
    IF start_offset IS NOT NULL AND end_offset IS NOT NULL AND start_offset <= end_offset THEN
        RAISE EXCEPTION 'policy refresh window is empty: start_offset % must be greater than end_offset %',
                        start_offset, end_offset
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    config := jsonb_build_object('continuous_aggregate_id', c.id,
                                 'start_offset', start_offset::text, 'end_offset', end_offset::text);
    SELECT * INTO existing FROM _tally_catalog.bgw_job
     WHERE proc_name = 'policy_refresh_continuous_aggregate' AND continuous_aggregate_id = c.id;
    IF FOUND THEN
        IF if_not_exists THEN
            IF existing.config IS DISTINCT FROM config THEN
                RAISE WARNING 'continuous aggregate policy already exists for "%" with different arguments',
                              continuous_aggregate;
            ELSE
                RAISE NOTICE 'continuous aggregate policy already exists for "%", skipping', continuous_aggregate;
            END IF;
            RETURN existing.id;
        END IF;
        RAISE EXCEPTION 'continuous aggregate policy already exists for "%"', continuous_aggregate
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Remove it with remove_continuous_aggregate_policy() first, or pass if_not_exists => true.';
    END IF;
    new_id := _tally_internal.add_job(format('Refresh Continuous Aggregate Policy [%s]', c.id)::name,
                                      '_tally_internal.policy_refresh_continuous_aggregate'::regproc,
                                      schedule_interval, coalesce(schedule_interval, interval '5 minutes'),
                                      config, NULL, initial_start,
                                      (SELECT relowner::regrole FROM pg_class WHERE oid = continuous_aggregate));
    UPDATE _tally_catalog.bgw_job SET continuous_aggregate_id = c.id WHERE id = new_id;
    RETURN new_id;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.remove_continuous_aggregate_policy(continuous_aggregate regclass,
                                                               if_exists boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _tally_internal.check_owner(continuous_aggregate);
    DELETE FROM _tally_catalog.bgw_job j
     USING _tally_catalog.continuous_agg c
     WHERE c.user_view = continuous_aggregate AND j.proc_name = 'policy_refresh_continuous_aggregate'
       AND j.continuous_aggregate_id = c.id;
    IF NOT FOUND THEN
        IF if_exists THEN
            RAISE NOTICE 'continuous aggregate policy not found for "%", skipping', continuous_aggregate;
        ELSE
            RAISE EXCEPTION 'continuous aggregate policy not found for "%"', continuous_aggregate
                USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
END
$$;
