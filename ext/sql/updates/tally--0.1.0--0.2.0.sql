-- tally 0.1.0 -> 0.2.0: the job scheduler, retention policies and chunk
-- maintenance as a job (the rest of this script is sql/70_jobs.sql and
-- sql/80_policies.sql, appended by the Makefile); drop_chunks drops all
-- selected chunks in one statement; ownership checks use session_user, as
-- current_user is the definer inside the SECURITY DEFINER callers.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tally UPDATE TO '0.2.0'" to load this file. \quit

-- Raise an error unless the user of this session may act as the owner of
-- relation.  The callers are SECURITY DEFINER, where current_user is the
-- extension's owner, so the check must use session_user.
CREATE OR REPLACE FUNCTION _tally_internal.check_owner(relation regclass) RETURNS void
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

-- Drop the selected chunks.  Rows of the default partition that match the
-- same bounds are deleted too, so that "drop everything older than X"
-- holds for rows that never had a chunk.
CREATE OR REPLACE FUNCTION _tally_internal.drop_chunks(relation regclass,
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
        EXECUTE format('DELETE FROM ONLY %s WHERE %s', ht.default_partition, condition);
    END IF;
END
$$;

