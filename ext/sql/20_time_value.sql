-- C helpers that map time values to int64 internal time (see
-- src/hypertable/time_value.c), and time arguments to internal time.

CREATE OR REPLACE FUNCTION _tally_internal.time_to_internal(value anyelement) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_time_to_internal'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION _tally_internal.internal_to_bound(internal bigint, time_type regtype) RETURNS text
    AS 'MODULE_PATHNAME', 'tally_internal_to_bound'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION _tally_internal.internal_to_timestamptz(internal bigint) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'tally_internal_to_timestamptz'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Internal time of a value given as text and its type, converted to the
-- time column's type first: how "any" arguments (older_than => ...) reach
-- PL/pgSQL.  An interval means now() minus the interval.
CREATE OR REPLACE FUNCTION _tally_internal.time_arg_to_internal(value text, value_type regtype,
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

-- The internal time of value, or NULL where it has none (maintenance skips
-- such rows rather than failing).
CREATE OR REPLACE FUNCTION _tally_internal.time_to_internal_or_null(value anyelement) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_time_to_internal_or_null'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
