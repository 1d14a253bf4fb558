-- The utility hook hands the statements tally runs itself (a COPY into a
-- hypertable, CREATE, DROP and ALTER of a continuous aggregate) to the
-- hooks of libraries loaded before it, pg_stat_statements and pgaudit, as
-- a CALL of this procedure, which runs the statement (src/utility.c).  It
-- runs nothing but a statement held for it, so anyone may call it.
CREATE OR REPLACE PROCEDURE _tally_internal.run_utility()
    AS 'MODULE_PATHNAME', 'tally_run_utility'
    LANGUAGE C;
