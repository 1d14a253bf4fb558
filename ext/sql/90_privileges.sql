-- Internal functions are not for PUBLIC: some run as the extension's owner,
-- and one is a trigger that must not be attached to other tables.  PUBLIC
-- keeps only what the user-facing functions and views call on its behalf;
-- each of those checks ownership itself where it changes anything.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA _tally_internal FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    _tally_internal.hypertable_row(regclass),
    _tally_internal.job_owner(_tally_catalog.bgw_job),
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
    _tally_internal.cagg_offset_bound(text, regtype),
    _tally_internal.cagg_stddev(numeric)
TO PUBLIC;
GRANT EXECUTE ON PROCEDURE _tally_internal.run_utility() TO PUBLIC;
