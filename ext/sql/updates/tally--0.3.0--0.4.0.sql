-- tally 0.3.0 -> 0.4.0: the catalog changes of this step.  The Makefile
-- appends every file of sql/ (functions, views, event triggers and
-- privileges, all replaceable), so a function changes by editing its file.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tally UPDATE TO '0.4.0'" to load this file. \quit

-- A refresh policy's aggregate is a column of its job, no longer read from
-- its config, which alter_job lets the job's owner change.  A 0.3.0 job
-- keeps its aggregate only if its owner could refresh it.
ALTER TABLE _tally_catalog.bgw_job
    ADD COLUMN continuous_aggregate_id integer REFERENCES _tally_catalog.continuous_agg ON DELETE CASCADE;
UPDATE _tally_catalog.bgw_job j
   SET continuous_aggregate_id = a.id
  FROM _tally_catalog.continuous_agg a
  JOIN pg_catalog.pg_class v ON v.oid = a.user_view
 WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
   AND a.id = (j.config->>'continuous_aggregate_id')::integer
   AND pg_catalog.pg_has_role(j.owner, v.relowner, 'USAGE');
