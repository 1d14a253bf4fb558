-- Helpers of bench/hypertable.sh, loaded once into the benchmark database.
-- Both tables are made by the same function, so their columns are identical;
-- the only difference is that one becomes a hypertable.

-- The time-entries table, empty, with its one index: (started_at DESC),
-- which is the index create_hypertable adds by default.  The hypertable
-- gets that index from create_hypertable itself.
CREATE FUNCTION bench_create_table(name text, chunk_interval interval DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', name);
    EXECUTE format($ddl$
        CREATE TABLE %I (
            id         bigint        NOT NULL,
            staff_id   integer       NOT NULL,
            client_id  integer       NOT NULL,
            task_id    integer       NOT NULL,
            started_at timestamptz   NOT NULL,
            minutes    integer       NOT NULL,
            billable   boolean       NOT NULL,
            rate       numeric(10,2) NOT NULL,
            note       text
        )$ddl$, name);
    IF chunk_interval IS NULL THEN
        EXECUTE format('CREATE INDEX %I ON %I (started_at DESC)', name || '_started_at_idx', name);
    ELSE
        PERFORM create_hypertable(name::regclass, 'started_at', chunk_time_interval => chunk_interval);
    END IF;
END
$$;

-- The indexes of a table (of the hypertable: of its parent), one line each.
CREATE FUNCTION bench_indexes(name text) RETURNS SETOF text
    LANGUAGE sql STABLE
AS $$
    SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = name::regclass ORDER BY 1
$$;

-- The scan nodes of the plan of query (plain EXPLAIN, nothing is run): one
-- row per node that reads a relation, with its node type.
CREATE FUNCTION bench_scans(query text) RETURNS TABLE (node_type text, relation text)
    LANGUAGE plpgsql
AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN QUERY
    SELECT n ->> 'Node Type', n ->> 'Relation Name'
      FROM jsonb_path_query(plan, 'strict $.**') AS n
     WHERE jsonb_typeof(n) = 'object' AND n ? 'Relation Name';
END
$$;

-- A one-line summary of bench_scans: "Seq Scan on a, Index Scan on b".
CREATE FUNCTION bench_plan_summary(query text) RETURNS text
    LANGUAGE sql
AS $$
    SELECT string_agg(node_type || ' on ' || relation, ', ' ORDER BY relation, node_type)
      FROM bench_scans(query)
$$;
