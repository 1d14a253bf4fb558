-- Schemas: user-facing functions live in the extension's schema; catalog
-- tables in _tally_catalog; helpers and chunks in _tally_internal; views for
-- users in tally_information.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION tally" to load this file. \quit

CREATE SCHEMA _tally_catalog;
CREATE SCHEMA _tally_internal;
CREATE SCHEMA tally_information;

GRANT USAGE ON SCHEMA _tally_catalog, _tally_internal, tally_information TO PUBLIC;
-- time_bucket(): TimescaleDB's signatures and argument names.

CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz, origin timestamptz)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz_origin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz, "offset" interval)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamptz, timezone text,
                                        origin timestamptz DEFAULT NULL,
                                        "offset" interval DEFAULT NULL)
    RETURNS timestamptz AS 'MODULE_PATHNAME', 'tally_time_bucket_tstz_timezone'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamp)
    RETURNS timestamp AS 'MODULE_PATHNAME', 'tally_time_bucket_ts'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamp, origin timestamp)
    RETURNS timestamp AS 'MODULE_PATHNAME', 'tally_time_bucket_ts_origin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts timestamp, "offset" interval)
    RETURNS timestamp AS 'MODULE_PATHNAME', 'tally_time_bucket_ts_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts date)
    RETURNS date AS 'MODULE_PATHNAME', 'tally_time_bucket_date'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts date, origin date)
    RETURNS date AS 'MODULE_PATHNAME', 'tally_time_bucket_date_origin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width interval, ts date, "offset" interval)
    RETURNS date AS 'MODULE_PATHNAME', 'tally_time_bucket_date_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.time_bucket(bucket_width smallint, ts smallint)
    RETURNS smallint AS 'MODULE_PATHNAME', 'tally_time_bucket_int16'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width smallint, ts smallint, "offset" smallint)
    RETURNS smallint AS 'MODULE_PATHNAME', 'tally_time_bucket_int16_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width integer, ts integer)
    RETURNS integer AS 'MODULE_PATHNAME', 'tally_time_bucket_int32'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width integer, ts integer, "offset" integer)
    RETURNS integer AS 'MODULE_PATHNAME', 'tally_time_bucket_int32_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width bigint, ts bigint)
    RETURNS bigint AS 'MODULE_PATHNAME', 'tally_time_bucket_int64'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.time_bucket(bucket_width bigint, ts bigint, "offset" bigint)
    RETURNS bigint AS 'MODULE_PATHNAME', 'tally_time_bucket_int64_offset'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- Catalog of hypertables and chunks, and the C helpers that map time values
-- to int64 internal time (see src/hypertable/time_value.c).

CREATE TABLE _tally_catalog.hypertable (
    id              serial PRIMARY KEY,
    relid           regclass NOT NULL UNIQUE,
    time_column     name NOT NULL,
    time_type       regtype NOT NULL,
    -- chunk width in internal units: microseconds for time types, the
    -- column's own units for integers
    chunk_interval  bigint NOT NULL CHECK (chunk_interval > 0),
    -- catches rows that no chunk covers, until maintenance moves them
    default_partition regclass NOT NULL UNIQUE
);

-- A chunk covers [range_start, range_end) of internal time.  Ranges of one
-- hypertable never overlap: PostgreSQL's partitioning enforces it.
CREATE TABLE _tally_catalog.chunk (
    id              serial PRIMARY KEY,
    hypertable_id   integer NOT NULL REFERENCES _tally_catalog.hypertable ON DELETE CASCADE,
    relid           regclass NOT NULL UNIQUE,
    range_start     bigint NOT NULL,
    range_end       bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (range_start < range_end)
);
CREATE INDEX chunk_hypertable_range_idx
    ON _tally_catalog.chunk (hypertable_id, range_start);

SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.hypertable', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.hypertable_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.chunk', '');
SELECT pg_catalog.pg_extension_config_dump('_tally_catalog.chunk_id_seq', '');

GRANT SELECT ON ALL TABLES IN SCHEMA _tally_catalog TO PUBLIC;

CREATE FUNCTION _tally_internal.time_to_internal(value anyelement) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_time_to_internal'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION _tally_internal.internal_to_bound(internal bigint, time_type regtype) RETURNS text
    AS 'MODULE_PATHNAME', 'tally_internal_to_bound'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION _tally_internal.internal_to_timestamptz(internal bigint) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'tally_internal_to_timestamptz'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION _tally_internal.interval_to_internal(chunk_interval interval, time_type regtype)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_interval_to_internal'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Internal time of a value given as text and its type, converted to the
-- time column's type first: how "any" arguments (older_than => ...) reach
-- PL/pgSQL.  An interval means now() minus the interval.
CREATE FUNCTION _tally_internal.time_arg_to_internal(value text, value_type regtype,
                                                     time_type regtype, arg_name text)
    RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result bigint;
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    IF value_type = 'interval'::regtype THEN
        IF time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
            RAISE EXCEPTION 'invalid value for %: an interval cannot be compared with an integer time column', arg_name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Give %s as a value of type %s.', arg_name, time_type);
        END IF;
        EXECUTE format('SELECT _tally_internal.time_to_internal((now() - $1::interval)::%s)', time_type)
            INTO result USING value;
        RETURN result;
    END IF;
    -- only built-in types: a cast from a user's type would run the user's
    -- function inside the SECURITY DEFINER callers
    IF value_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype,
                          'smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
                          'unknown'::regtype, 'text'::regtype) THEN
        RAISE EXCEPTION 'invalid value for %: type % cannot be compared with a % time column',
                        arg_name, value_type, time_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = format('Give %s as an interval or a value of type %s.', arg_name, time_type);
    END IF;
    IF (value_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype))
       <> (time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)) THEN
        RAISE EXCEPTION 'invalid value for %: type % cannot be compared with a % time column',
                        arg_name, value_type, time_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = format('Give %s as an interval or a value of type %s.', arg_name, time_type);
    END IF;
    IF value_type IN ('unknown'::regtype, 'text'::regtype) THEN
        EXECUTE format('SELECT _tally_internal.time_to_internal($1::%s)', time_type)
            INTO result USING value;
    ELSE
        EXECUTE format('SELECT _tally_internal.time_to_internal($1::%s::%s)', value_type, time_type)
            INTO result USING value;
    END IF;
    RETURN result;
END
$$;
-- Chunks: the partitions of a hypertable, one per interval of time.
--
-- A chunk is created as a plain table and then attached, because ATTACH
-- PARTITION takes only SHARE UPDATE EXCLUSIVE on the hypertable: inserts and
-- queries go on while chunks are added.  That lock is self-exclusive, so it
-- also serializes chunk creators: whoever waits sees the winner's chunk.
-- Rows that arrived before their chunk existed sit in the hypertable's
-- default partition; creating their chunk moves them in.

-- The hypertable behind relation, or an error naming it.
CREATE FUNCTION _tally_internal.hypertable_row(relation regclass)
    RETURNS _tally_catalog.hypertable
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable;
BEGIN
    SELECT * INTO ht FROM _tally_catalog.hypertable h WHERE h.relid = relation;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not a hypertable', relation
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Make it one with create_hypertable().';
    END IF;
    RETURN ht;
END
$$;

-- Raise an error unless the user of this session may act as the owner of
-- relation.  The callers are SECURITY DEFINER, where current_user is the
-- extension's owner, so the check must use session_user.
CREATE FUNCTION _tally_internal.check_owner(relation regclass) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = relation), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', relation
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- Chunk boundaries are aligned on the Unix epoch for time types (as
-- TimescaleDB's are) and on zero for integers.
CREATE FUNCTION _tally_internal.chunk_alignment(time_type regtype) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
                THEN 0::bigint
                ELSE -946684800000000::bigint END
$$;

-- The aligned interval start that holds point.
CREATE FUNCTION _tally_internal.chunk_start(point bigint, chunk_interval bigint, time_type regtype)
    RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (floor((point::numeric - _tally_internal.chunk_alignment(time_type)) / chunk_interval)
            * chunk_interval + _tally_internal.chunk_alignment(time_type))::bigint
$$;

-- Names of the insertable columns of relation, quoted and comma-separated.
CREATE FUNCTION _tally_internal.column_list(relation regclass) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
      FROM pg_attribute
     WHERE attrelid = relation AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
$$;

-- A WHERE condition selecting the rows of [range_start, range_end) of
-- internal time, either end NULL for unbounded.
CREATE FUNCTION _tally_internal.range_condition(time_column name, time_type regtype,
                                                range_start bigint, range_end bigint)
    RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(nullif(concat_ws(' AND ',
               CASE WHEN low = 'MAXVALUE' THEN 'false'
                    WHEN low <> 'MINVALUE' THEN format('%I >= %s::%s', time_column, low, time_type) END,
               CASE WHEN high = 'MINVALUE' THEN 'false'
                    WHEN high <> 'MAXVALUE' THEN format('%I < %s::%s', time_column, high, time_type) END),
           ''), 'true')
      FROM (SELECT coalesce(_tally_internal.internal_to_bound(range_start, time_type), 'MINVALUE') AS low,
                   coalesce(_tally_internal.internal_to_bound(range_end, time_type), 'MAXVALUE') AS high) b
$$;

-- The chunk holding point, created if missing.  Its range is the aligned
-- interval around point, clipped where it would overlap an existing chunk
-- (after set_chunk_time_interval, or partitions registered by
-- create_hypertable).  Rows of that range in the default partition are moved
-- into the new chunk in the same transaction.  With nowait, a lock that is
-- not free at once raises lock_not_available instead of waiting.
CREATE FUNCTION _tally_internal.chunk_for_point(hypertable_id integer, point bigint,
                                                nowait boolean DEFAULT false)
    RETURNS _tally_catalog.chunk
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable;
    c _tally_catalog.chunk;
    new_start bigint;
    new_end bigint;
    chunk_id integer;
    chunk_name name;
    chunk_rel regclass;
    low text;
    high text;
    range_condition text;
    has_stray_rows boolean;
BEGIN
    SELECT * INTO STRICT ht FROM _tally_catalog.hypertable h WHERE h.id = hypertable_id;
    EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE%s', ht.relid,
                   CASE WHEN nowait THEN ' NOWAIT' ELSE '' END);

    SELECT * INTO c FROM _tally_catalog.chunk k
     WHERE k.hypertable_id = ht.id AND k.range_start <= point AND point < k.range_end;
    IF FOUND THEN
        RETURN c;
    END IF;

    new_start := _tally_internal.chunk_start(point, ht.chunk_interval, ht.time_type);
    new_end := LEAST(new_start::numeric + ht.chunk_interval, 9223372036854775807)::bigint;
    new_start := GREATEST(new_start, (SELECT max(k.range_end) FROM _tally_catalog.chunk k
                                       WHERE k.hypertable_id = ht.id AND k.range_end <= point));
    new_end := LEAST(new_end, (SELECT min(k.range_start) FROM _tally_catalog.chunk k
                                WHERE k.hypertable_id = ht.id AND k.range_start > point));

    low := _tally_internal.internal_to_bound(new_start, ht.time_type);
    high := _tally_internal.internal_to_bound(new_end, ht.time_type);
    range_condition := _tally_internal.range_condition(ht.time_column, ht.time_type, new_start, new_end);

    chunk_id := nextval('_tally_catalog.chunk_id_seq');
    chunk_name := format('_hyper_%s_%s_chunk', ht.id, chunk_id);
    EXECUTE format('CREATE TABLE _tally_internal.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION)',
                   chunk_name, ht.relid);
    chunk_rel := format('_tally_internal.%I', chunk_name)::regclass;
    EXECUTE format('ALTER TABLE %s OWNER TO %I', chunk_rel,
                   (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = ht.relid));

    -- ATTACH locks the default partition too; taking the lock first makes
    -- nowait cover it and keeps the stray rows from changing under us
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE%s', ht.default_partition,
                   CASE WHEN nowait THEN ' NOWAIT' ELSE '' END);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE %s)',
                   ht.default_partition, range_condition)
        INTO has_stray_rows;
    IF has_stray_rows THEN
        -- the table's own code (constraints, generated columns) runs as its owner
        PERFORM _tally_internal.execute_as_owner(ht.relid, format(
            'WITH moved AS (DELETE FROM ONLY %s WHERE %s RETURNING *)'
            ' INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved',
            ht.default_partition, range_condition, chunk_rel,
            _tally_internal.column_list(ht.relid), _tally_internal.column_list(ht.relid)));
    END IF;

    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%s) TO (%s)',
                   ht.relid, chunk_rel, low, high);

    INSERT INTO _tally_catalog.chunk (id, hypertable_id, relid, range_start, range_end)
    VALUES (chunk_id, ht.id, chunk_rel, new_start, new_end)
    RETURNING * INTO c;
    RETURN c;
END
$$;

-- Chunk maintenance: create the chunks for now and the next interval, and
-- move rows that landed in the default partition into chunks of their own.
-- Returns the number of chunks created.  A row whose time cannot have a
-- chunk (beyond the representable range) stays where it is, with a warning.
CREATE FUNCTION _tally_internal.maintain_chunks(relation regclass) RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- queued behind a long reader, a chunk creator would hold up every
    -- reader after it: give up after a while, the next run tries again
    SET lock_timeout = '2s'
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(relation);
    before_count bigint;
    now_point bigint;
    stray_start bigint;
BEGIN
    PERFORM _tally_internal.check_owner(relation);
    SELECT count(*) INTO before_count FROM _tally_catalog.chunk WHERE hypertable_id = ht.id;

    IF ht.time_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        EXECUTE format('SELECT _tally_internal.time_to_internal(now()::%s)', ht.time_type)
            INTO now_point;
        BEGIN
            PERFORM _tally_internal.chunk_for_point(ht.id, now_point);
            PERFORM _tally_internal.chunk_for_point(ht.id, now_point + ht.chunk_interval);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'chunks ahead of now for hypertable "%" not created: %', relation, SQLERRM;
        END;
    END IF;

    -- a row whose time has no chunk (a date beyond the range of internal
    -- time) is skipped, never allowed to stop the others
    FOR stray_start IN EXECUTE format(
        'SELECT DISTINCT _tally_internal.chunk_start(t, %s, %L)'
        '  FROM (SELECT _tally_internal.time_to_internal_or_null(%I) AS t FROM ONLY %s) s'
        ' WHERE t IS NOT NULL ORDER BY 1',
        ht.chunk_interval, ht.time_type, ht.time_column, ht.default_partition)
    LOOP
        BEGIN
            PERFORM _tally_internal.chunk_for_point(ht.id, stray_start);
        EXCEPTION WHEN datetime_field_overflow OR numeric_value_out_of_range OR lock_not_available THEN
            RAISE WARNING 'rows of hypertable "%" near internal time % cannot be moved into a chunk: %',
                          relation, stray_start, SQLERRM;
        END;
    END LOOP;

    RETURN (SELECT count(*) FROM _tally_catalog.chunk WHERE hypertable_id = ht.id) - before_count;
END
$$;

-- Rows that land in the default partition are moved into their own chunk
-- when their transaction commits: a deferred constraint trigger on the
-- default partition (created by register_hypertable, enabled ALWAYS so that
-- logical replication apply fires it too).  At commit the statement that
-- inserted the row has finished, so the hypertable can take a new
-- partition.  It never waits and never fails the commit: if a lock is taken
-- (another session is writing stray rows of its own, or reading the
-- default partition) or anything else goes wrong, the row stays where it is
-- and chunk maintenance moves it later.
CREATE FUNCTION _tally_internal.place_stray_row() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht_id integer := TG_ARGV[0]::integer;
    point bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM _tally_catalog.hypertable h
                    WHERE h.id = ht_id AND h.default_partition = TG_RELID) THEN
        RAISE EXCEPTION 'place_stray_row() is only a trigger of a hypertable''s default partition'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    BEGIN
        EXECUTE format('SELECT _tally_internal.time_to_internal(($1).%I)', TG_ARGV[1])
            INTO point USING NEW;
        IF NOT EXISTS (SELECT 1 FROM _tally_catalog.chunk k
                        WHERE k.hypertable_id = ht_id
                          AND k.range_start <= point AND point < k.range_end) THEN
            PERFORM _tally_internal.chunk_for_point(ht_id, point, nowait => true);
        END IF;
    EXCEPTION
        WHEN lock_not_available THEN
            NULL;
        WHEN datetime_field_overflow THEN
            RAISE WARNING 'row of hypertable % stays in its default partition: %',
                          (SELECT relid FROM _tally_catalog.hypertable WHERE id = ht_id), SQLERRM
                USING DETAIL = 'Its time is beyond the range that chunks can cover.';
        WHEN OTHERS THEN
            RAISE WARNING 'row of hypertable % left in its default partition: %',
                          (SELECT relid FROM _tally_catalog.hypertable WHERE id = ht_id), SQLERRM
                USING HINT = 'Chunk maintenance will move it.';
    END;
    RETURN NULL;
END
$$;

-- ensure_chunks(relation, range_start, range_end): create every chunk that
-- covers [range_start, range_end] before a bulk load, so no row of the load
-- lands in the default partition.  Returns those chunks in time order.
CREATE FUNCTION @extschema@.ensure_chunks(relation regclass, range_start anyelement,
                                          range_end anyelement)
    RETURNS SETOF regclass
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(relation);
    point bigint;
    last_point bigint;
    c _tally_catalog.chunk;
BEGIN
    PERFORM _tally_internal.check_owner(relation);
    point := _tally_internal.time_arg_to_internal(range_start::text, pg_typeof(range_start),
                                                  ht.time_type, 'range_start');
    last_point := _tally_internal.time_arg_to_internal(range_end::text, pg_typeof(range_end),
                                                       ht.time_type, 'range_end');
    IF point IS NULL OR last_point IS NULL THEN
        RAISE EXCEPTION 'range_start and range_end must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF point > last_point THEN
        RAISE EXCEPTION 'range_start must not be after range_end'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (last_point::numeric - point) / ht.chunk_interval > 1000 THEN
        RAISE EXCEPTION 'ensure_chunks would create more than 1000 chunks'
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Use a narrower range or a larger chunk_time_interval.';
    END IF;
    LOOP
        c := _tally_internal.chunk_for_point(ht.id, point);
        RETURN NEXT c.relid;
        EXIT WHEN c.range_end > last_point OR c.range_end = 9223372036854775807;
        point := c.range_end;
    END LOOP;
END
$$;

-- The chunks of relation selected by internal-time bounds: older_than keeps
-- chunks that end at or before it, newer_than those that start at or after
-- it; created_before/after compare creation times.
CREATE FUNCTION _tally_internal.select_chunks(ht _tally_catalog.hypertable,
                                              older_than bigint, newer_than bigint,
                                              created_before timestamptz, created_after timestamptz)
    RETURNS SETOF _tally_catalog.chunk
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT *
      FROM _tally_catalog.chunk c
     WHERE c.hypertable_id = ht.id
       AND (older_than IS NULL OR c.range_end <= older_than)
       AND (newer_than IS NULL OR c.range_start >= newer_than)
       AND (created_before IS NULL OR c.created_at < created_before)
       AND (created_after IS NULL OR c.created_at > created_after)
     ORDER BY c.range_start
$$;

-- Arguments of show_chunks and drop_chunks arrive from their C front ends
-- (src/hypertable/chunk_api.c) as text and type, since PL/pgSQL cannot take
-- "any".  Creation-time bounds must be timestamps or intervals.
CREATE FUNCTION _tally_internal.creation_bound(value text, value_type regtype, arg_name text)
    RETURNS timestamptz
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    ELSIF value_type = 'interval'::regtype THEN
        RETURN now() - value::interval;
    ELSIF value_type IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype,
                         'unknown'::regtype, 'text'::regtype) THEN
        RETURN value::timestamptz;
    END IF;
    RAISE EXCEPTION 'invalid value for %: expected an interval or a timestamp, not %', arg_name, value_type
        USING ERRCODE = 'datatype_mismatch';
END
$$;

CREATE FUNCTION _tally_internal.show_chunks(relation regclass,
                                            older_than text, older_than_type regtype,
                                            newer_than text, newer_than_type regtype,
                                            created_before text, created_before_type regtype,
                                            created_after text, created_after_type regtype)
    RETURNS SETOF regclass
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(relation);
BEGIN
    RETURN QUERY
    SELECT c.relid
      FROM _tally_internal.select_chunks(
               ht,
               _tally_internal.time_arg_to_internal(older_than, older_than_type, ht.time_type, 'older_than'),
               _tally_internal.time_arg_to_internal(newer_than, newer_than_type, ht.time_type, 'newer_than'),
               _tally_internal.creation_bound(created_before, created_before_type, 'created_before'),
               _tally_internal.creation_bound(created_after, created_after_type, 'created_after')) c;
END
$$;

-- Drop the selected chunks.  Rows of the default partition that match the
-- same bounds are deleted too, so that "drop everything older than X"
-- holds for rows that never had a chunk.
CREATE FUNCTION _tally_internal.drop_chunks(relation regclass,
                                            older_than text, older_than_type regtype,
                                            newer_than text, newer_than_type regtype,
                                            be_verbose boolean,
                                            created_before text, created_before_type regtype,
                                            created_after text, created_after_type regtype)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(relation);
    older bigint;
    newer bigint;
    dropped text[];
    condition text;
BEGIN
    PERFORM _tally_internal.check_owner(relation);
    IF older_than IS NULL AND newer_than IS NULL AND created_before IS NULL AND created_after IS NULL THEN
        RAISE EXCEPTION 'invalid call to drop_chunks: give older_than, newer_than, created_before or created_after'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    older := _tally_internal.time_arg_to_internal(older_than, older_than_type, ht.time_type, 'older_than');
    newer := _tally_internal.time_arg_to_internal(newer_than, newer_than_type, ht.time_type, 'newer_than');

    -- one DROP for all: one lock on the hypertable, one catalog clean-up
    SELECT array_agg(c.relid::text ORDER BY c.range_start) INTO dropped
      FROM _tally_internal.select_chunks(
               ht, older, newer,
               _tally_internal.creation_bound(created_before, created_before_type, 'created_before'),
               _tally_internal.creation_bound(created_after, created_after_type, 'created_after')) c;
    IF dropped IS NOT NULL THEN
        IF be_verbose THEN
            RAISE INFO 'dropping chunks %', array_to_string(dropped, ', ');
        END IF;
        EXECUTE 'DROP TABLE ' || array_to_string(dropped, ', ');
        RETURN QUERY SELECT unnest(dropped);
    END IF;

    IF created_before IS NULL AND created_after IS NULL THEN
        condition := _tally_internal.range_condition(ht.time_column, ht.time_type, newer, older);
        PERFORM _tally_internal.execute_as_owner(ht.relid,
            format('DELETE FROM ONLY %s WHERE %s', ht.default_partition, condition));
    END IF;
END
$$;

CREATE FUNCTION @extschema@.show_chunks(relation regclass,
                                        older_than "any" DEFAULT NULL,
                                        newer_than "any" DEFAULT NULL,
                                        created_before "any" DEFAULT NULL,
                                        created_after "any" DEFAULT NULL)
    RETURNS SETOF regclass
    AS 'MODULE_PATHNAME', 'tally_show_chunks'
    LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.drop_chunks(relation regclass,
                                        older_than "any" DEFAULT NULL,
                                        newer_than "any" DEFAULT NULL,
                                        verbose boolean DEFAULT false,
                                        created_before "any" DEFAULT NULL,
                                        created_after "any" DEFAULT NULL)
    RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'tally_drop_chunks'
    LANGUAGE C VOLATILE;
-- create_hypertable() and the functions that change or measure a hypertable.
--
-- A hypertable is a table partitioned by range on its time column, with a
-- default partition and chunks registered in _tally_catalog.  A plain table
-- cannot become partitioned in place, so create_hypertable builds the
-- partitioned table beside it, moves the rows, drops the original and gives
-- the new table its name, indexes, constraints, triggers, grants and
-- sequences.  It all happens in one transaction: any error leaves the
-- original table exactly as it was.  The rows are copied as the table's
-- owner (see src/hypertable/owner_exec.c).

-- Chunk interval in internal units from the chunk_time_interval argument,
-- which may be an interval or an integer (microseconds for time columns).
CREATE FUNCTION _tally_internal.chunk_interval_arg(chunk_time_interval anyelement, time_type regtype)
    RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    arg_type regtype := pg_typeof(chunk_time_interval);
    is_integer_time boolean := time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype);
    result bigint;
BEGIN
    IF chunk_time_interval IS NULL THEN
        IF is_integer_time THEN
            RAISE EXCEPTION 'chunk_time_interval is required for a time column of type %', time_type
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give it as an integer in the column''s units, for example chunk_time_interval => 100000.';
        END IF;
        RETURN _tally_internal.interval_to_internal('7 days', time_type);
    END IF;
    IF arg_type = 'interval'::regtype THEN
        RETURN _tally_internal.interval_to_internal(chunk_time_interval::text::interval, time_type);
    ELSIF arg_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        result := chunk_time_interval::text::bigint;
        IF result <= 0 THEN
            RAISE EXCEPTION 'chunk_time_interval must be greater than zero'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF time_type = 'date'::regtype AND result % 86400000000 <> 0 THEN
            RAISE EXCEPTION 'chunk interval for a date column must be whole days'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN result;
    END IF;
    RAISE EXCEPTION 'invalid chunk_time_interval of type %', arg_type
        USING ERRCODE = 'datatype_mismatch',
              HINT = 'Give an interval, or an integer for integer time columns.';
END
$$;

-- Refuse unique indexes and constraints that leave out the time column:
-- uniqueness could only be enforced within each chunk.
CREATE FUNCTION _tally_internal.check_unique_indexes(relation regclass, time_column name)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad_index regclass;
    time_attnum smallint := (SELECT attnum FROM pg_attribute
                              WHERE attrelid = relation AND attname = time_column);
BEGIN
    SELECT i.indexrelid INTO bad_index
      FROM pg_index i
     WHERE i.indrelid = relation AND i.indisunique
       AND NOT (time_attnum = ANY (i.indkey::smallint[]))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: unique index "%" does not include the time column "%"',
                        relation, bad_index, time_column
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = 'A unique index on a hypertable is enforced per chunk, so it must contain the column that chunks are split on.',
                  HINT = format('Add "%s" to the index or constraint: %s', time_column, pg_get_indexdef(bad_index));
    END IF;
END
$$;

-- Objects that would be lost by replacing relation are refused with their names.
CREATE FUNCTION _tally_internal.check_convertible(relation regclass) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dependent text;
BEGIN
    SELECT string_agg(DISTINCT r.ev_class::regclass::text, ', ') INTO dependent
      FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
     WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = relation
       AND r.ev_class <> relation;
    IF dependent IS NOT NULL THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: views depend on it', relation
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Dependent views: %s.', dependent),
                  HINT = 'Drop the views, create the hypertable, then create them again.';
    END IF;
    SELECT string_agg(format('%s on %s', conname, conrelid::regclass), ', ') INTO dependent
      FROM pg_constraint WHERE contype = 'f' AND confrelid = relation AND conrelid <> relation;
    IF dependent IS NOT NULL THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: foreign keys reference it', relation
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Referencing foreign keys: %s.', dependent),
                  HINT = 'Drop the foreign keys first.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = relation OR inhparent = relation) THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: it takes part in table inheritance', relation
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = relation)
       OR (SELECT relrowsecurity OR relforcerowsecurity FROM pg_class WHERE oid = relation) THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: it uses row-level security', relation
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Disable row-level security and drop its policies first, then enable them again on the hypertable.';
    END IF;
END
$$;

-- Rebuild the plain table relation as a table partitioned by range on
-- time_column, with the same name, and return it.  Rows are copied into
-- chunks when migrate_data; otherwise the table must be empty.
CREATE FUNCTION _tally_internal.convert_to_partitioned(relation regclass, time_column name,
                                                       time_type regtype, chunk_interval bigint,
                                                       migrate_data boolean, hypertable_id integer)
    RETURNS regclass
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    schema_name name;
    table_name name;
    owner name;
    old_name name;
    new_rel regclass;
    constraint_defs text[];
    index_defs text[];
    trigger_defs text[];
    grant_defs text[];
    owned_sequences text[];
    identity_columns text[];
    replica_identity "char";
    replica_index name;
    table_comment text;
    stmt text;
    col text;
    seq text;
    point bigint;
BEGIN
    SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), c.relreplident,
           obj_description(c.oid, 'pg_class')
      INTO schema_name, table_name, owner, replica_identity, table_comment
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = relation;

    -- Everything to recreate on the new table, captured before any change.
    SELECT array_agg(format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', schema_name, table_name,
                            conname, pg_get_constraintdef(oid))
                     ORDER BY contype <> 'p', conname)
      INTO constraint_defs
      FROM pg_constraint WHERE conrelid = relation AND contype IN ('p', 'u', 'x', 'f');
    SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid)
      INTO index_defs
      FROM pg_index i
     WHERE i.indrelid = relation
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = relation);
    SELECT array_agg(pg_get_triggerdef(oid) ORDER BY tgname)
      INTO trigger_defs
      FROM pg_trigger WHERE tgrelid = relation AND NOT tgisinternal;
    SELECT array_agg(format('GRANT %s ON %I.%I TO %s%s', a.privilege_type, schema_name, table_name,
                            CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                            CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END))
      INTO grant_defs
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.oid = relation AND a.grantee <> c.relowner;
    -- column privileges too
    grant_defs := coalesce(grant_defs, '{}') || ARRAY(
        SELECT format('GRANT %s (%I) ON %I.%I TO %s%s', a.privilege_type, att.attname, schema_name,
                      table_name,
                      CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                      CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
          FROM pg_attribute att, aclexplode(att.attacl) a
         WHERE att.attrelid = relation AND att.attnum > 0 AND NOT att.attisdropped
           AND att.attacl IS NOT NULL);
    SELECT array_agg(format('ALTER SEQUENCE %s OWNED BY %I.%I.%I', d.objid::regclass, schema_name,
                            table_name, a.attname))
      INTO owned_sequences
      FROM pg_depend d
      JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.refobjid = relation AND d.deptype = 'a';
    SELECT array_agg(attname) INTO identity_columns
      FROM pg_attribute WHERE attrelid = relation AND attidentity <> '' AND NOT attisdropped;
    SELECT ic.relname INTO replica_index
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = relation AND i.indisreplident;

    IF NOT migrate_data THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', relation) INTO STRICT migrate_data;
        IF migrate_data THEN
            RAISE EXCEPTION 'table "%" is not empty', relation
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Use migrate_data => true to move its rows into chunks.';
        END IF;
    END IF;

    old_name := left(table_name, 40) || '_tally_' || hypertable_id || '_old';
    EXECUTE format('ALTER TABLE %s RENAME TO %I', relation, old_name);
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS'
                   ' INCLUDING COMPRESSION INCLUDING STATISTICS) PARTITION BY RANGE (%I)',
                   schema_name, table_name, schema_name, old_name, time_column);
    new_rel := format('%I.%I', schema_name, table_name)::regclass;
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', new_rel, time_column);
    EXECUTE format('ALTER TABLE %s OWNER TO %I', new_rel, owner);
    -- identity sequences of the new table continue where the old ones were
    FOREACH col IN ARRAY coalesce(identity_columns, '{}') LOOP
        EXECUTE format('SELECT setval(%L, last_value, is_called) FROM %s',
                       pg_get_serial_sequence(new_rel::text, col),
                       pg_get_serial_sequence(format('%I.%I', schema_name, old_name), col));
    END LOOP;
    PERFORM _tally_internal.register_hypertable(hypertable_id, new_rel, time_column, time_type,
                                                chunk_interval);

    IF migrate_data THEN
        FOR point IN EXECUTE format(
            'SELECT DISTINCT _tally_internal.chunk_start(_tally_internal.time_to_internal(%I), %s, %L)'
            '  FROM %I.%I ORDER BY 1', time_column, chunk_interval, time_type, schema_name, old_name)
        LOOP
            PERFORM _tally_internal.chunk_for_point(hypertable_id, point);
        END LOOP;
        -- as the owner: the table's constraints and generated columns are its code
        PERFORM _tally_internal.execute_as_owner(new_rel, format(
            'INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %I.%I',
            new_rel, _tally_internal.column_list(new_rel),
            _tally_internal.column_list(new_rel), schema_name, old_name));
    END IF;

    FOREACH stmt IN ARRAY coalesce(owned_sequences, '{}') LOOP
        EXECUTE stmt;
    END LOOP;
    EXECUTE format('DROP TABLE %I.%I', schema_name, old_name);
    -- identity sequences take the names the old ones had
    FOREACH col IN ARRAY coalesce(identity_columns, '{}') LOOP
        seq := pg_get_serial_sequence(new_rel::text, col);
        EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', seq,
                       left(table_name || '_' || col, 59) || '_seq');
    END LOOP;

    FOREACH stmt IN ARRAY coalesce(constraint_defs, '{}') || coalesce(index_defs, '{}')
                          || coalesce(trigger_defs, '{}') || coalesce(grant_defs, '{}') LOOP
        EXECUTE stmt;
    END LOOP;
    IF table_comment IS NOT NULL THEN
        EXECUTE format('COMMENT ON TABLE %s IS %L', new_rel, table_comment);
    END IF;
    IF replica_identity = 'f' THEN
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', new_rel);
    ELSIF replica_identity = 'i' THEN
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY USING INDEX %I', new_rel, replica_index);
    ELSIF replica_identity = 'n' THEN
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY NOTHING', new_rel);
    END IF;
    RETURN new_rel;
END
$$;

-- Enter a partitioned table in the catalog and give it its default partition.
CREATE FUNCTION _tally_internal.register_hypertable(hypertable_id integer, relation regclass,
                                                    time_column name, time_type regtype,
                                                    chunk_interval bigint)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    default_rel regclass;
    default_name name := format('_hyper_%s_default', hypertable_id);
BEGIN
    SELECT i.inhrelid INTO default_rel
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = relation AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    IF NOT FOUND THEN
        EXECUTE format('CREATE TABLE _tally_internal.%I PARTITION OF %s DEFAULT', default_name, relation);
        default_rel := format('_tally_internal.%I', default_name)::regclass;
        EXECUTE format('ALTER TABLE %s OWNER TO %I', default_rel,
                       (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = relation));
    END IF;
    IF time_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        -- infinity can never be moved into a chunk: refuse it at the door
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (isfinite(%I))',
                       default_rel, 'tally_' || left(time_column, 40) || '_finite', time_column);
    END IF;
    EXECUTE format('CREATE CONSTRAINT TRIGGER tally_place_stray_row AFTER INSERT OR UPDATE ON %s'
                   ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW'
                   ' EXECUTE FUNCTION _tally_internal.place_stray_row(%L, %L, %L)',
                   default_rel, hypertable_id, time_column, relation);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER tally_place_stray_row', default_rel);
    INSERT INTO _tally_catalog.hypertable (id, relid, time_column, time_type, chunk_interval,
                                           default_partition)
    VALUES (hypertable_id, relation, time_column, time_type, chunk_interval, default_rel);
END
$$;

-- Register the existing partitions of a table already partitioned by range
-- on the time column as its chunks.
CREATE FUNCTION _tally_internal.adopt_partitions(hypertable_id integer, relation regclass,
                                                 time_column name, time_type regtype)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part record;
    bounds text[];
    range_start bigint;
    range_end bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table p
                    WHERE p.partrelid = relation AND p.partstrat = 'r' AND p.partnatts = 1
                      AND p.partattrs[0] = (SELECT attnum FROM pg_attribute
                                             WHERE attrelid = relation AND attname = time_column)) THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: it is partitioned, but not by range on "%"',
                        relation, time_column
            USING ERRCODE = 'invalid_table_definition';
    END IF;
    FOR part IN SELECT c.oid::regclass AS rel, c.relkind, pg_get_expr(c.relpartbound, c.oid) AS bound
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = relation
    LOOP
        IF part.relkind = 'p' THEN
            RAISE EXCEPTION 'cannot make "%" a hypertable: partition "%" is itself partitioned',
                            relation, part.rel
                USING ERRCODE = 'feature_not_supported';
        END IF;
        CONTINUE WHEN part.bound = 'DEFAULT';
        bounds := regexp_match(part.bound, '^FOR VALUES FROM \((.*)\) TO \((.*)\)$');
        range_start := CASE bounds[1] WHEN 'MINVALUE' THEN -9223372036854775808
                       ELSE _tally_internal.time_arg_to_internal(trim(both '''' from bounds[1]),
                                                                 'unknown', time_type, 'partition bound') END;
        range_end := CASE bounds[2] WHEN 'MAXVALUE' THEN 9223372036854775807
                     ELSE _tally_internal.time_arg_to_internal(trim(both '''' from bounds[2]),
                                                               'unknown', time_type, 'partition bound') END;
        INSERT INTO _tally_catalog.chunk (hypertable_id, relid, range_start, range_end)
        VALUES (hypertable_id, part.rel, range_start, range_end);
    END LOOP;
END
$$;

CREATE FUNCTION @extschema@.create_hypertable(
    relation regclass,
    time_column_name name,
    partitioning_column name DEFAULT NULL,
    number_partitions integer DEFAULT NULL,
    associated_schema_name name DEFAULT NULL,
    associated_table_prefix name DEFAULT NULL,
    chunk_time_interval anyelement DEFAULT NULL::bigint,
    create_default_indexes boolean DEFAULT true,
    if_not_exists boolean DEFAULT false,
    partitioning_func regproc DEFAULT NULL,
    migrate_data boolean DEFAULT false,
    chunk_target_size text DEFAULT NULL,
    chunk_sizing_func regproc DEFAULT NULL,
    time_partitioning_func regproc DEFAULT NULL)
    RETURNS TABLE (hypertable_id integer, schema_name name, table_name name, created boolean)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing _tally_catalog.hypertable;
    relation_kind "char";
    time_type regtype;
    time_attnum smallint;
    interval_internal bigint;
    new_id integer;
    rel regclass := relation;
BEGIN
    IF relation IS NULL OR time_column_name IS NULL THEN
        RAISE EXCEPTION 'relation and time_column_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO existing FROM _tally_catalog.hypertable h WHERE h.relid = relation;
    IF FOUND THEN
        IF if_not_exists THEN
            RAISE NOTICE 'table "%" is already a hypertable, skipping', relation;
            RETURN QUERY SELECT existing.id, n.nspname, c.relname, false
                           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.oid = relation;
            RETURN;
        END IF;
        RAISE EXCEPTION 'table "%" is already a hypertable', relation
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM _tally_internal.check_owner(relation);

    IF partitioning_column IS NOT NULL OR number_partitions IS NOT NULL OR partitioning_func IS NOT NULL
       OR chunk_target_size IS NOT NULL OR chunk_sizing_func IS NOT NULL OR time_partitioning_func IS NOT NULL
       OR associated_schema_name IS NOT NULL OR associated_table_prefix IS NOT NULL THEN
        RAISE EXCEPTION 'create_hypertable: space partitioning, partitioning functions, chunk sizing and associated schemas are not supported'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Give only relation, time_column_name, chunk_time_interval, create_default_indexes, if_not_exists and migrate_data.';
    END IF;

    SELECT c.relkind INTO relation_kind FROM pg_class c WHERE c.oid = relation;
    IF relation_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: it is not a table', relation
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF (SELECT relispartition FROM pg_class WHERE oid = relation) THEN
        RAISE EXCEPTION 'cannot make "%" a hypertable: it is a partition', relation
            USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT a.atttypid::regtype, a.attnum INTO time_type, time_attnum
      FROM pg_attribute a
     WHERE a.attrelid = relation AND a.attname = time_column_name AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" does not exist in table "%"', time_column_name, relation
            USING ERRCODE = 'undefined_column';
    END IF;
    IF time_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype,
                         'smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        RAISE EXCEPTION 'cannot use column "%" of type % as the time column', time_column_name, time_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Use a column of type timestamptz, timestamp, date, smallint, integer or bigint.';
    END IF;
    interval_internal := _tally_internal.chunk_interval_arg(chunk_time_interval, time_type);
    PERFORM _tally_internal.check_unique_indexes(relation, time_column_name);

    new_id := nextval('_tally_catalog.hypertable_id_seq');
    IF relation_kind = 'p' THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', relation, time_column_name);
        PERFORM _tally_internal.register_hypertable(new_id, relation, time_column_name, time_type,
                                                    interval_internal);
        PERFORM _tally_internal.adopt_partitions(new_id, relation, time_column_name, time_type);
    ELSE
        PERFORM _tally_internal.check_convertible(relation);
        rel := _tally_internal.convert_to_partitioned(relation, time_column_name, time_type,
                                                      interval_internal, migrate_data, new_id);
    END IF;

    IF create_default_indexes AND NOT EXISTS (
        SELECT 1 FROM pg_index i
         WHERE i.indrelid = rel
           AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = rel AND attname = time_column_name)) THEN
        EXECUTE format('CREATE INDEX %I ON %s (%I DESC)',
                       left((SELECT relname FROM pg_class WHERE oid = rel) || '_' || time_column_name, 59) || '_idx',
                       rel, time_column_name);
    END IF;
    PERFORM _tally_internal.maintain_chunks(rel);

    RETURN QUERY SELECT new_id, n.nspname, c.relname, true
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.oid = rel;
END
$$;

CREATE FUNCTION @extschema@.set_chunk_time_interval(hypertable regclass,
                                                    chunk_time_interval anyelement,
                                                    dimension_name name DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(hypertable);
BEGIN
    PERFORM _tally_internal.check_owner(hypertable);
    IF dimension_name IS NOT NULL AND dimension_name <> ht.time_column THEN
        RAISE EXCEPTION 'hypertable "%" has no dimension "%"', hypertable, dimension_name
            USING ERRCODE = 'undefined_column';
    END IF;
    IF chunk_time_interval IS NULL THEN
        RAISE EXCEPTION 'chunk_time_interval must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE _tally_catalog.hypertable
       SET chunk_interval = _tally_internal.chunk_interval_arg(chunk_time_interval, ht.time_type)
     WHERE id = ht.id;
END
$$;

-- Sizes.  A hypertable's size is that of its chunks and default partition
-- (the partitioned parent itself stores nothing).

CREATE FUNCTION @extschema@.chunks_detailed_size(hypertable regclass)
    RETURNS TABLE (chunk_schema name, chunk_name name, table_bytes bigint, index_bytes bigint,
                   toast_bytes bigint, total_bytes bigint, node_name name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT n.nspname, c.relname,
           pg_relation_size(c.oid) + pg_relation_size(c.oid, 'fsm') + pg_relation_size(c.oid, 'vm')
               + pg_relation_size(c.oid, 'init'),
           pg_indexes_size(c.oid),
           coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0),
           pg_total_relation_size(c.oid),
           NULL::name
      FROM _tally_catalog.chunk k
      JOIN pg_class c ON c.oid = k.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE k.hypertable_id = (_tally_internal.hypertable_row(hypertable)).id
     ORDER BY k.range_start
$$;

CREATE FUNCTION @extschema@.hypertable_detailed_size(hypertable regclass)
    RETURNS TABLE (table_bytes bigint, index_bytes bigint, toast_bytes bigint, total_bytes bigint,
                   node_name name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH parts AS (
        SELECT k.relid AS oid FROM _tally_catalog.chunk k
         WHERE k.hypertable_id = (_tally_internal.hypertable_row(hypertable)).id
        UNION ALL
        SELECT (_tally_internal.hypertable_row(hypertable)).default_partition
    )
    SELECT sum(pg_relation_size(c.oid) + pg_relation_size(c.oid, 'fsm') + pg_relation_size(c.oid, 'vm')
               + pg_relation_size(c.oid, 'init'))::bigint,
           sum(pg_indexes_size(c.oid))::bigint,
           sum(coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0))::bigint,
           sum(pg_total_relation_size(c.oid))::bigint,
           NULL::name
      FROM parts p JOIN pg_class c ON c.oid = p.oid
$$;

CREATE FUNCTION @extschema@.hypertable_size(hypertable regclass) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT total_bytes FROM @extschema@.hypertable_detailed_size(hypertable)
$$;
-- tally_information: what users look at, with TimescaleDB's column names
-- where the two overlap.

CREATE VIEW tally_information.hypertables AS
SELECT n.nspname AS hypertable_schema,
       c.relname AS hypertable_name,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       1 AS num_dimensions,
       (SELECT count(*) FROM _tally_catalog.chunk k WHERE k.hypertable_id = h.id)::bigint AS num_chunks,
       false AS compression_enabled,
       (SELECT pg_catalog.array_agg(DISTINCT t.spcname)
          FROM _tally_catalog.chunk k
          JOIN pg_catalog.pg_class kc ON kc.oid = k.relid
          JOIN pg_catalog.pg_tablespace t ON t.oid = kc.reltablespace
         WHERE k.hypertable_id = h.id) AS tablespaces
  FROM _tally_catalog.hypertable h
  JOIN pg_catalog.pg_class c ON c.oid = h.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;

CREATE VIEW tally_information.dimensions AS
SELECT n.nspname AS hypertable_schema,
       c.relname AS hypertable_name,
       1 AS dimension_number,
       h.time_column AS column_name,
       h.time_type AS column_type,
       'Time'::text AS dimension_type,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN NULL
            ELSE pg_catalog.justify_hours(pg_catalog.make_interval(secs => h.chunk_interval / 1000000.0))
       END AS time_interval,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN h.chunk_interval END AS integer_interval,
       NULL::name AS integer_now_func,
       NULL::smallint AS num_partitions
  FROM _tally_catalog.hypertable h
  JOIN pg_catalog.pg_class c ON c.oid = h.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;

CREATE VIEW tally_information.chunks AS
SELECT hn.nspname AS hypertable_schema,
       hc.relname AS hypertable_name,
       kn.nspname AS chunk_schema,
       kc.relname AS chunk_name,
       h.time_column AS primary_dimension,
       h.time_type AS primary_dimension_type,
       CASE WHEN h.time_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
             AND k.range_start > -9223372036854775808
            THEN _tally_internal.internal_to_timestamptz(k.range_start) END AS range_start,
       CASE WHEN h.time_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
             AND k.range_end < 9223372036854775807
            THEN _tally_internal.internal_to_timestamptz(k.range_end) END AS range_end,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN k.range_start END AS range_start_integer,
       CASE WHEN h.time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN k.range_end END AS range_end_integer,
       false AS is_compressed,
       t.spcname AS chunk_tablespace,
       k.created_at AS chunk_creation_time
  FROM _tally_catalog.chunk k
  JOIN _tally_catalog.hypertable h ON h.id = k.hypertable_id
  JOIN pg_catalog.pg_class hc ON hc.oid = h.relid
  JOIN pg_catalog.pg_namespace hn ON hn.oid = hc.relnamespace
  JOIN pg_catalog.pg_class kc ON kc.oid = k.relid
  JOIN pg_catalog.pg_namespace kn ON kn.oid = kc.relnamespace
  LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = kc.reltablespace;

GRANT SELECT ON ALL TABLES IN SCHEMA tally_information TO PUBLIC;
-- Keep the catalog in step with DROP TABLE: a dropped hypertable or chunk
-- leaves no catalog row behind.

CREATE FUNCTION _tally_internal.on_sql_drop() RETURNS event_trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM _tally_catalog.hypertable h
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND h.relid = d.objid;
    DELETE FROM _tally_catalog.chunk k
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND k.relid = d.objid;
END
$$;

CREATE EVENT TRIGGER tally_sql_drop ON sql_drop
    EXECUTE FUNCTION _tally_internal.on_sql_drop();
-- Helpers added in 0.2.0 for running a table's own code as its owner and
-- for maintenance that skips rows without a chunk.

CREATE FUNCTION _tally_internal.execute_as_owner(relation regclass, command text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_execute_as_owner'
    LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION _tally_internal.time_to_internal_or_null(value anyelement) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_time_to_internal_or_null'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- A chunk detached by hand (ALTER TABLE ... DETACH PARTITION) is an
-- ordinary table from then on: it leaves the catalog, so that drop_chunks
-- never drops it and its interval can have a new chunk.

CREATE FUNCTION _tally_internal.on_alter_table() RETURNS event_trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM _tally_catalog.chunk c
     WHERE NOT EXISTS (SELECT 1 FROM _tally_catalog.hypertable h
                         JOIN pg_inherits i ON i.inhparent = h.relid
                        WHERE h.id = c.hypertable_id AND i.inhrelid = c.relid);
END
$$;

CREATE EVENT TRIGGER tally_alter_table ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION _tally_internal.on_alter_table();
-- Jobs: the catalog the scheduler (src/scheduler/) runs from, the
-- bookkeeping it calls, and the user-facing alter_job, run_job, delete_job.

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

CREATE FUNCTION _tally_internal.wake_scheduler() RETURNS boolean
    AS 'MODULE_PATHNAME', 'tally_wake_scheduler' LANGUAGE C VOLATILE;
CREATE FUNCTION _tally_internal.scheduler_available() RETURNS boolean
    AS 'MODULE_PATHNAME', 'tally_scheduler_available' LANGUAGE C STABLE;

-- Policies need the scheduler: say so clearly when it cannot run.
CREATE FUNCTION _tally_internal.require_scheduler() RETURNS void
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
CREATE FUNCTION _tally_internal.add_job(application_name name, proc regproc, schedule_interval interval,
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

-- The role a job belongs to: for a policy, whoever owns its hypertable now
-- (ALTER TABLE ... OWNER TO moves the policy along); otherwise its owner.
CREATE FUNCTION _tally_internal.job_owner(job _tally_catalog.bgw_job) RETURNS oid
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT c.relowner FROM _tally_catalog.hypertable h
                       JOIN pg_class c ON c.oid = h.relid
                      WHERE h.id = job.hypertable_id),
                    job.owner)
$$;

-- Scheduler bookkeeping ---------------------------------------------------

CREATE FUNCTION _tally_internal.jobs_due() RETURNS TABLE (job_id integer)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id FROM _tally_catalog.bgw_job j JOIN _tally_catalog.bgw_job_stat s ON s.job_id = j.id
     WHERE j.scheduled AND NOT s.running AND s.next_start <= clock_timestamp()
     ORDER BY s.next_start, j.id
$$;

CREATE FUNCTION _tally_internal.next_job_start() RETURNS timestamptz
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT min(s.next_start) FROM _tally_catalog.bgw_job j JOIN _tally_catalog.bgw_job_stat s ON s.job_id = j.id
     WHERE j.scheduled AND NOT s.running
$$;

-- Mark a job running and return the statement that runs it and its owner.
-- A job row locked by someone's open transaction (alter_job) is skipped
-- this time rather than waited for: one user cannot stall every job.
CREATE FUNCTION _tally_internal.job_started(job_id integer, OUT call text, OUT owner oid)
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
    call := format('SELECT %I.%I(%s, %L::jsonb)', j.proc_schema, j.proc_name, j.id, j.config);
    owner := _tally_internal.job_owner(j);
END
$$;

-- Record how a run ended and when the job runs next: on success at the next
-- point of its schedule; after a failure sooner, with exponential backoff
-- from retry_period, until max_retries failures in a row.
CREATE FUNCTION _tally_internal.job_finished(job_id integer, success boolean,
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
CREATE FUNCTION _tally_internal.jobs_recover_crashed() RETURNS void
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

CREATE FUNCTION _tally_internal.check_job_owner(job_id integer) RETURNS _tally_catalog.bgw_job
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

CREATE FUNCTION _tally_internal.alter_job(
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
    PERFORM _tally_internal.check_job_owner(the_id);
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
CREATE FUNCTION @extschema@.alter_job(
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
AS $$
    SELECT * FROM _tally_internal.alter_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
$$;

CREATE FUNCTION @extschema@.delete_job(job_id integer) RETURNS void
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
-- Jobs call only tally's own policy functions, which check ownership
-- themselves.
CREATE FUNCTION _tally_internal.run_job(job_id integer) RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j _tally_catalog.bgw_job := _tally_internal.check_job_owner(job_id);
    call text := (SELECT s.call FROM _tally_internal.job_started(j.id) s);
BEGIN
    IF call IS NULL THEN
        RAISE EXCEPTION 'job % is being changed or run by another session', j.id
            USING ERRCODE = 'object_in_use';
    END IF;
    EXECUTE call;
    PERFORM _tally_internal.job_finished(j.id, true);
END
$$;

CREATE PROCEDURE @extschema@.run_job(job_id integer)
    LANGUAGE sql
AS $$
    SELECT _tally_internal.run_job(job_id);
$$;

-- Views ---------------------------------------------------------------------

CREATE VIEW tally_information.jobs AS
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

CREATE VIEW tally_information.job_stats AS
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

CREATE VIEW tally_information.job_errors AS
SELECT e.job_id, j.proc_schema, j.proc_name, e.pid, e.start_time, e.finish_time, e.sqlerrcode,
       e.err_message
  FROM _tally_catalog.bgw_job_error e
  LEFT JOIN _tally_catalog.bgw_job j ON j.id = e.job_id;

GRANT SELECT ON tally_information.jobs, tally_information.job_stats, tally_information.job_errors
    TO PUBLIC;
-- Policies: jobs that keep hypertables in shape.  Chunk maintenance runs for
-- every hypertable of the database (job 1, created with the extension);
-- retention runs per hypertable.

CREATE FUNCTION _tally_internal.policy_chunk_maintenance(job_id integer, config jsonb) RETURNS void
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

CREATE FUNCTION _tally_internal.policy_retention(job_id integer, config jsonb) RETURNS void
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
    IF config->>'drop_after' IS NULL OR config->>'drop_after_type' IS NULL THEN
        RAISE EXCEPTION 'retention job %: config needs drop_after and drop_after_type', job_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _tally_internal.drop_chunks(rel, config->>'drop_after', (config->>'drop_after_type')::regtype,
                                        NULL, NULL, false, NULL, NULL, NULL, NULL);
END
$$;

INSERT INTO _tally_catalog.bgw_job (id, application_name, schedule_interval, retry_period,
                                    proc_schema, proc_name, owner)
VALUES (1, 'Chunk Maintenance [1]', interval '1 hour', interval '5 minutes',
        '_tally_internal', 'policy_chunk_maintenance', current_user::regrole);
INSERT INTO _tally_catalog.bgw_job_stat (job_id, next_start) VALUES (1, now());
SELECT _tally_internal.wake_scheduler();

-- drop_after arrives as its text and type, from the two front ends below.
CREATE FUNCTION _tally_internal.add_retention_policy(relation regclass, drop_after text,
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
CREATE FUNCTION @extschema@.add_retention_policy(relation regclass,
                                                 drop_after anyelement,
                                                 if_not_exists boolean DEFAULT false,
                                                 schedule_interval interval DEFAULT NULL,
                                                 initial_start timestamptz DEFAULT NULL,
                                                 timezone text DEFAULT NULL)
    RETURNS integer
    LANGUAGE sql
AS $$
    SELECT _tally_internal.add_retention_policy($1, $2::text, pg_typeof($2), $3, $4, $5, $6)
$$;

CREATE FUNCTION @extschema@.add_retention_policy(relation regclass,
                                                 drop_after text,
                                                 if_not_exists boolean DEFAULT false,
                                                 schedule_interval interval DEFAULT NULL,
                                                 initial_start timestamptz DEFAULT NULL,
                                                 timezone text DEFAULT NULL)
    RETURNS integer
    LANGUAGE sql
AS $$
    SELECT _tally_internal.add_retention_policy($1, $2, 'text', $3, $4, $5, $6)
$$;

CREATE FUNCTION @extschema@.remove_retention_policy(relation regclass, if_exists boolean DEFAULT false)
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
-- Continuous aggregates (see src/cagg/README.md).  CREATE MATERIALIZED VIEW
-- ... WITH (tally.continuous) is taken apart in C (src/cagg/), which writes
-- the SQL that keeps the aggregate into this catalog; refreshes run it.

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
    refresh_deltas      text[] NOT NULL
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

CREATE FUNCTION _tally_internal.cagg_capture() RETURNS trigger
    AS 'MODULE_PATHNAME', 'tally_cagg_capture'
    LANGUAGE C;

-- A window bound given as (text, type), as the bucket's type.  Only built-in
-- types are accepted: a user's cast must never run here.
CREATE FUNCTION _tally_internal.cagg_window_value(value text, value_type regtype,
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

CREATE FUNCTION _tally_internal.refresh_continuous_aggregate(cagg regclass,
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
CREATE PROCEDURE @extschema@.refresh_continuous_aggregate(continuous_aggregate regclass,
                                                          window_start "any", window_end "any")
    AS 'MODULE_PATHNAME', 'tally_refresh_continuous_aggregate'
    LANGUAGE C;

-- Drops what a continuous aggregate made, whatever of it is left.
CREATE FUNCTION _tally_internal.drop_cagg_objects(c _tally_catalog.continuous_agg) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event text;
    rel regclass;
BEGIN
    DELETE FROM _tally_catalog.bgw_job
     WHERE proc_name = 'policy_refresh_continuous_aggregate'
       AND (config->>'continuous_aggregate_id')::integer = c.id;
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
CREATE FUNCTION _tally_internal.drop_continuous_aggregate(cagg_id integer, cascade boolean) RETURNS void
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
CREATE FUNCTION _tally_internal.on_cagg_drop() RETURNS event_trigger
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

CREATE EVENT TRIGGER tally_cagg_sql_drop ON sql_drop
    EXECUTE FUNCTION _tally_internal.on_cagg_drop();

CREATE VIEW tally_information.continuous_aggregates AS
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
CREATE FUNCTION _tally_internal.cagg_offset_bound(offset_text text, bucket_type regtype) RETURNS text
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

CREATE FUNCTION _tally_internal.policy_refresh_continuous_aggregate(job_id integer, config jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.continuous_agg;
BEGIN
    SELECT * INTO c FROM _tally_catalog.continuous_agg
     WHERE id = (config->>'continuous_aggregate_id')::integer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'continuous aggregate % of job % does not exist',
                        config->>'continuous_aggregate_id', job_id;
    END IF;
    CALL @extschema@.refresh_continuous_aggregate(
        c.user_view,
        _tally_internal.cagg_offset_bound(config->>'start_offset', c.bucket_type),
        _tally_internal.cagg_offset_bound(config->>'end_offset', c.bucket_type));
END
$$;

CREATE FUNCTION @extschema@.add_continuous_aggregate_policy(continuous_aggregate regclass,
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
     WHERE proc_name = 'policy_refresh_continuous_aggregate'
       AND (bgw_job.config->>'continuous_aggregate_id')::integer = c.id;
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
    RETURN _tally_internal.add_job(format('Refresh Continuous Aggregate Policy [%s]', c.id)::name,
                                   '_tally_internal.policy_refresh_continuous_aggregate'::regproc,
                                   schedule_interval, coalesce(schedule_interval, interval '5 minutes'),
                                   config, NULL, initial_start,
                                   (SELECT relowner::regrole FROM pg_class WHERE oid = continuous_aggregate));
END
$$;

CREATE FUNCTION @extschema@.remove_continuous_aggregate_policy(continuous_aggregate regclass,
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
       AND (j.config->>'continuous_aggregate_id')::integer = c.id;
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
-- Internal functions are not for PUBLIC: some run as the extension's owner,
-- and one is a trigger that must not be attached to other tables.  PUBLIC
-- keeps only what the user-facing functions and views call on its behalf;
-- each of those checks ownership itself where it changes anything.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA _tally_internal FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    _tally_internal.hypertable_row(regclass),
    _tally_internal.time_to_internal(anyelement),
    _tally_internal.internal_to_timestamptz(bigint),
    _tally_internal.internal_to_bound(bigint, regtype),
    _tally_internal.time_arg_to_internal(text, regtype, regtype, text),
    _tally_internal.creation_bound(text, regtype, text),
    _tally_internal.select_chunks(_tally_catalog.hypertable, bigint, bigint, timestamptz, timestamptz),
    _tally_internal.show_chunks(regclass, text, regtype, text, regtype, text, regtype, text, regtype),
    _tally_internal.drop_chunks(regclass, text, regtype, text, regtype, boolean, text, regtype, text, regtype),
    _tally_internal.add_retention_policy(regclass, text, regtype, boolean, interval, timestamptz, text),
    _tally_internal.alter_job(integer, interval, interval, integer, interval, boolean, jsonb, timestamptz,
                              boolean, regproc, boolean, timestamptz, text),
    _tally_internal.run_job(integer),
    _tally_internal.maintain_chunks(regclass),
    _tally_internal.cagg_window_value(text, regtype, regtype, text),
    _tally_internal.refresh_continuous_aggregate(regclass, text, regtype, text, regtype),
    _tally_internal.cagg_offset_bound(text, regtype)
TO PUBLIC;
