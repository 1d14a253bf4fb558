-- Helpers added in 0.2.0 for running a table's own code as its owner and
-- for maintenance that skips rows without a chunk.

CREATE FUNCTION _tally_internal.execute_as_owner(relation regclass, command text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_execute_as_owner'
    LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION _tally_internal.time_to_internal_or_null(value anyelement) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_time_to_internal_or_null'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
