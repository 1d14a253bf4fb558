-- Chunks: the partitions of a hypertable, one per interval of time.
--
-- A chunk is created as a plain table and then attached, under a SHARE ROW
-- EXCLUSIVE lock on the hypertable (itself alone, not its chunks): queries
-- go on while a chunk is added, writers wait for it.  They must: a statement
-- plans its routing when it starts, and one that started before a chunk
-- was attached and then sends a row of the chunk's range to the default
-- partition fails PostgreSQL's check of the default's new constraint.  The
-- lock waits for the transactions that write the hypertable and keeps new
-- ones out until the chunk is there.  It is self-exclusive, so it also
-- serializes chunk creators: whoever waits sees the winner's chunk.  Rows
-- that arrived before their chunk existed sit in the default partition;
-- creating their chunk moves them in.

-- Runs command as the owner of relation: a table's own code (constraints,
-- generated columns, triggers) runs with its owner's rights, never the
-- extension's (src/hypertable/owner_exec.c).
CREATE OR REPLACE FUNCTION _tally_internal.execute_as_owner(relation regclass, command text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_execute_as_owner'
    LANGUAGE C VOLATILE STRICT;

-- The hypertable behind relation, or an error naming it.
CREATE OR REPLACE FUNCTION _tally_internal.hypertable_row(relation regclass)
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

-- A chunk width is chunk_interval internal units (a fixed width), or
-- chunk_months calendar months with chunk_interval 0; the one width
-- gives a column of time_type (src/hypertable/chunk_range.c).
CREATE OR REPLACE FUNCTION _tally_internal.interval_to_chunk_width(width interval, time_type regtype,
                                                                   OUT chunk_interval bigint,
                                                                   OUT chunk_months integer)
    AS 'MODULE_PATHNAME', 'tally_interval_to_chunk_width'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The aligned chunk holding point, clipped to the time column's type.  A
-- range_end of 9223372036854775807 is inclusive: such a chunk is bounded by
-- MAXVALUE and holds the largest bigint, which no exclusive int64 end can.
CREATE OR REPLACE FUNCTION _tally_internal.chunk_range(point bigint, chunk_interval bigint, chunk_months integer,
                                                       time_type regtype,
                                                       OUT range_start bigint, OUT range_end bigint)
    AS 'MODULE_PATHNAME', 'tally_chunk_range'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The internal times that chunks of a time_type column can cover: where a
-- partition bounded by MINVALUE or MAXVALUE starts or ends.
CREATE OR REPLACE FUNCTION _tally_internal.chunk_domain(time_type regtype,
                                                        OUT range_start bigint, OUT range_end bigint)
    AS 'MODULE_PATHNAME', 'tally_chunk_domain_of'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The number of the aligned chunk holding point, counted from the alignment
-- origin: how many chunks a range spans, before creating them.
CREATE OR REPLACE FUNCTION _tally_internal.chunk_number(point bigint, chunk_interval bigint, chunk_months integer,
                                                        time_type regtype)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'tally_chunk_number'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Names of the insertable columns of relation, quoted and comma-separated.
CREATE OR REPLACE FUNCTION _tally_internal.column_list(relation regclass) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
      FROM pg_attribute
     WHERE attrelid = relation AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
$$;

-- A WHERE condition selecting the rows of [range_start, range_end) of
-- internal time, either end NULL for unbounded.  Exact for every value of
-- the column: a bound beyond the type's range is no condition at all.
CREATE OR REPLACE FUNCTION _tally_internal.range_condition(time_column name, time_type regtype,
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

-- The range a new chunk holding point gets: its aligned interval, clipped
-- where it would overlap an existing chunk (after set_chunk_time_interval,
-- or partitions registered by create_hypertable).
CREATE OR REPLACE FUNCTION _tally_internal.new_chunk_range(ht _tally_catalog.hypertable, point bigint,
                                                          OUT range_start bigint, OUT range_end bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT GREATEST(r.range_start, (SELECT max(k.range_end) FROM _tally_catalog.chunk k
                                     WHERE k.hypertable_id = ht.id AND k.range_end <= point)),
           LEAST(r.range_end, (SELECT min(k.range_start) FROM _tally_catalog.chunk k
                                WHERE k.hypertable_id = ht.id AND k.range_start > point))
      FROM _tally_internal.chunk_range(point, ht.chunk_interval, ht.chunk_months, ht.time_type) r
$$;

-- A table made to become a chunk of ht, owned by ht's owner, not attached.
CREATE OR REPLACE FUNCTION _tally_internal.create_chunk_table(ht _tally_catalog.hypertable,
                                                             OUT chunk_id integer, OUT chunk_rel regclass)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    chunk_name name;
BEGIN
    chunk_id := nextval('_tally_catalog.chunk_id_seq');
    chunk_name := format('_hyper_%s_%s_chunk', ht.id, chunk_id);
    EXECUTE format('CREATE TABLE _tally_internal.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION)',
                   chunk_name, ht.relid);
    chunk_rel := format('_tally_internal.%I', chunk_name)::regclass;
    EXECUTE format('ALTER TABLE %s OWNER TO %I', chunk_rel,
                   (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = ht.relid));
END
$$;

-- Attaches chunk_rel to ht over [range_start, range_end) and enters it in
-- the catalog; rows of the range waiting in the default partition move
-- into it first.  The caller holds SHARE ROW EXCLUSIVE on the hypertable.
CREATE OR REPLACE FUNCTION _tally_internal.attach_chunk(ht _tally_catalog.hypertable, chunk_id integer,
                                                       chunk_rel regclass, range_start bigint,
                                                       range_end bigint, nowait boolean)
    RETURNS _tally_catalog.chunk
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.chunk;
    low text := _tally_internal.internal_to_bound(range_start, ht.time_type);
    high text := CASE WHEN range_end = 9223372036854775807 THEN 'MAXVALUE'
                      ELSE _tally_internal.internal_to_bound(range_end, ht.time_type) END;
    range_condition text := _tally_internal.range_condition(ht.time_column, ht.time_type, range_start,
                                                            nullif(range_end, 9223372036854775807));
    has_stray_rows boolean;
BEGIN
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
    VALUES (chunk_id, ht.id, chunk_rel, range_start, range_end)
    RETURNING * INTO c;
    RETURN c;
END
$$;

-- The chunk holding point, created if missing, with the range of
-- new_chunk_range.  Rows of that range in the default partition are moved
-- into the new chunk in the same transaction.  With nowait, a lock that is
-- not free at once raises lock_not_available instead of waiting.
CREATE OR REPLACE FUNCTION _tally_internal.chunk_for_point(hypertable_id integer, point bigint,
                                                nowait boolean DEFAULT false)
    RETURNS _tally_catalog.chunk
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable;
    c _tally_catalog.chunk;
    r record;
    t record;
BEGIN
    SELECT * INTO STRICT ht FROM _tally_catalog.hypertable h WHERE h.id = hypertable_id;
    -- the common case, a chunk that exists, takes no lock that writers wait for
    SELECT * INTO c FROM _tally_catalog.chunk k
     WHERE k.hypertable_id = ht.id AND k.range_start <= point
       AND (point < k.range_end OR k.range_end = 9223372036854775807);
    IF FOUND THEN
        RETURN c;
    END IF;
    EXECUTE format('LOCK TABLE ONLY %s IN SHARE ROW EXCLUSIVE MODE%s', ht.relid,
                   CASE WHEN nowait THEN ' NOWAIT' ELSE '' END);
    -- a creator we waited for may have made it
    SELECT * INTO c FROM _tally_catalog.chunk k
     WHERE k.hypertable_id = ht.id AND k.range_start <= point
       AND (point < k.range_end OR k.range_end = 9223372036854775807);
    IF FOUND THEN
        RETURN c;
    END IF;

    r := _tally_internal.new_chunk_range(ht, point);
    t := _tally_internal.create_chunk_table(ht);
    RETURN _tally_internal.attach_chunk(ht, t.chunk_id, t.chunk_rel, r.range_start, r.range_end, nowait);
END
$$;

-- Chunks made by a load (src/hypertable/copy.c).  A COPY that meets a row
-- no chunk covers cannot attach a chunk while it runs: PostgreSQL refuses
-- to change a table that a running statement is writing.  So it makes the
-- chunk's table at once, writes the range's rows straight into it, and
-- attaches it when the COPY has read its last row.  Both functions run as
-- the extension's owner, called by the COPY, which has checked the user's
-- privileges.

-- A table for the rows of the load around point, with a CHECK of its range
-- so that ATTACH need not scan it; NULL where a chunk covers point, or
-- point can have no chunk.
CREATE OR REPLACE FUNCTION _tally_internal.create_pending_chunk(hypertable_id integer, point bigint,
                                                               OUT chunk_id integer, OUT chunk_rel regclass,
                                                               OUT range_start bigint, OUT range_end bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable;
    r record;
    t record;
BEGIN
    SELECT * INTO STRICT ht FROM _tally_catalog.hypertable h WHERE h.id = hypertable_id;
    IF EXISTS (SELECT FROM _tally_catalog.chunk k
                WHERE k.hypertable_id = ht.id AND k.range_start <= point
                  AND (point < k.range_end OR k.range_end = 9223372036854775807)) THEN
        RETURN;
    END IF;
    BEGIN
        r := _tally_internal.new_chunk_range(ht, point);
    EXCEPTION WHEN datetime_field_overflow OR numeric_value_out_of_range THEN
        RETURN;     -- beyond the range chunks can cover: the default partition keeps it
    END;
    t := _tally_internal.create_chunk_table(ht);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT tally_load_range CHECK (%s)', t.chunk_rel,
                   _tally_internal.range_condition(ht.time_column, ht.time_type, r.range_start,
                                                   nullif(r.range_end, 9223372036854775807)));
    chunk_id := t.chunk_id;
    chunk_rel := t.chunk_rel;
    range_start := r.range_start;
    range_end := r.range_end;
END
$$;

-- Attaches a table of create_pending_chunk once the load has written it,
-- and returns true.  It never waits for a lock: waiting for the hypertable's
-- (which other writers hold) while this load holds row locks they may wait
-- for would deadlock them, and a queued request would stall every writer
-- and reader behind it.  So it tries, without waiting, for about a second;
-- when it cannot attach the table (other writers or readers, rows in the
-- default partition that a REPEATABLE READ snapshot cannot move, anything
-- ATTACH refuses), it checks the rows against the hypertable's foreign keys
-- and returns false: the caller moves them into the default partition,
-- where errors such as a duplicate key show as on PostgreSQL's path.  No
-- other chunk can have taken the range meanwhile: attaching one needs the
-- lock this load's ROW EXCLUSIVE conflicts with.  Once attached, the chunk
-- keeps the hypertable locked against other writers until this
-- transaction ends.
CREATE OR REPLACE FUNCTION _tally_internal.attach_pending_chunk(hypertable_id integer, chunk_id integer,
                                                               chunk_rel regclass, range_start bigint,
                                                               range_end bigint)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable;
BEGIN
    SELECT * INTO STRICT ht FROM _tally_catalog.hypertable h WHERE h.id = hypertable_id;
    FOR attempt IN 1 .. 20 LOOP
        BEGIN
            EXECUTE format('LOCK TABLE ONLY %s IN SHARE ROW EXCLUSIVE MODE NOWAIT', ht.relid);
            PERFORM _tally_internal.attach_chunk(ht, chunk_id, chunk_rel, range_start, range_end, true);
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT tally_load_range', chunk_rel);
            RETURN true;
        EXCEPTION
            WHEN lock_not_available THEN
                PERFORM pg_sleep(0.05);
            WHEN OTHERS THEN
                EXIT;
        END;
    END LOOP;
    PERFORM _tally_internal.check_foreign_keys(ht.relid, chunk_rel);
    RETURN false;
END
$$;

-- Drops a table of create_pending_chunk whose rows went elsewhere.
CREATE OR REPLACE FUNCTION _tally_internal.drop_pending_chunk(chunk_rel regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                    WHERE k.conrelid = chunk_rel AND k.conname = 'tally_load_range'
                      AND c.relnamespace = '_tally_internal'::regnamespace AND NOT c.relispartition) THEN
        RAISE EXCEPTION '% is not a table made by a load', chunk_rel
            USING ERRCODE = 'wrong_object_type';
    END IF;
    EXECUTE format('DROP TABLE %s', chunk_rel);
END
$$;

-- Raises foreign_key_violation unless every row of rows (a table with the
-- columns of relation) meets relation's foreign keys, compared with each
-- constraint's own equality operators; the referenced rows are locked FOR
-- KEY SHARE, as PostgreSQL's own checks lock them.
CREATE OR REPLACE FUNCTION _tally_internal.check_foreign_keys(relation regclass, rows regclass)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fk record;
    names text;
    values text;
    matches text;
    all_set text;
    partly_set text;
    missing text;
BEGIN
    FOR fk IN SELECT k.conname, k.conkey, k.confkey, k.conpfeqop, k.confrelid::regclass AS referenced,
                     k.confmatchtype
                FROM pg_constraint k WHERE k.conrelid = relation AND k.contype = 'f' ORDER BY k.conname LOOP
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY u.n),
               string_agg(format('p.%I::text', a.attname), ', ' ORDER BY u.n),
               string_agg(format('r.%I OPERATOR(%I.%s) p.%I', ra.attname, o.nspname, op.oprname, a.attname),
                          ' AND ' ORDER BY u.n),
               string_agg(format('p.%I IS NOT NULL', a.attname), ' AND ' ORDER BY u.n),
               string_agg(format('p.%I IS NOT NULL', a.attname), ' OR ' ORDER BY u.n)
          INTO names, values, matches, all_set, partly_set
          FROM unnest(fk.conkey, fk.confkey, fk.conpfeqop) WITH ORDINALITY u(attnum, refattnum, eqop, n)
          JOIN pg_attribute a ON a.attrelid = relation AND a.attnum = u.attnum
          JOIN pg_attribute ra ON ra.attrelid = fk.referenced AND ra.attnum = u.refattnum
          JOIN pg_operator op ON op.oid = u.eqop
          JOIN pg_namespace o ON o.oid = op.oprnamespace;
        EXECUTE format('SELECT FROM %s r WHERE EXISTS (SELECT FROM %s p WHERE %s AND %s) FOR KEY SHARE OF r',
                       fk.referenced, rows, all_set, matches);
        EXECUTE format('SELECT concat_ws('', '', %s) FROM %s p WHERE %s AND NOT EXISTS (SELECT FROM %s r WHERE %s) LIMIT 1',
                       values, rows,
                       CASE WHEN fk.confmatchtype = 'f' THEN format('(%s)', partly_set) ELSE all_set END,
                       fk.referenced, matches)
            INTO missing;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"',
                            relation, fk.conname
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (%s)=(%s) is not present in table "%s".', names, missing, fk.referenced);
        END IF;
    END LOOP;
END
$$;
-- Chunk maintenance: create the chunks for now and the next interval, and
-- move rows that landed in the default partition into chunks of their own.
-- Returns the number of chunks created.  A row whose time cannot have a
-- chunk (beyond the representable range) stays where it is, with a warning.
CREATE OR REPLACE FUNCTION _tally_internal.maintain_chunks(relation regclass) RETURNS integer
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
    next_point bigint;
    stray_start bigint;
BEGIN
    PERFORM _tally_internal.check_owner(relation);
    SELECT count(*) INTO before_count FROM _tally_catalog.chunk WHERE hypertable_id = ht.id;

    IF ht.time_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        EXECUTE format('SELECT _tally_internal.time_to_internal(now()::%s)', ht.time_type)
            INTO now_point;
        -- the next interval starts where now's aligned chunk ends
        next_point := (_tally_internal.chunk_range(now_point, ht.chunk_interval, ht.chunk_months,
                                                   ht.time_type)).range_end;
        BEGIN
            PERFORM _tally_internal.chunk_for_point(ht.id, now_point);
            PERFORM _tally_internal.chunk_for_point(ht.id, next_point);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'chunks ahead of now for hypertable "%" not created: %', relation, SQLERRM;
        END;
    END IF;

    -- a row whose time has no chunk (a date beyond the range of timestamps)
    -- is skipped, never allowed to stop the others
    FOR stray_start IN EXECUTE format(
        'SELECT DISTINCT (_tally_internal.chunk_range(t, %s, %s, %L)).range_start'
        '  FROM (SELECT _tally_internal.time_to_internal_or_null(%I) AS t FROM ONLY %s) s'
        ' WHERE t IS NOT NULL ORDER BY 1',
        ht.chunk_interval, ht.chunk_months, ht.time_type, ht.time_column, ht.default_partition)
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
-- logical replication apply fires it too), in C (src/hypertable/
-- stray_rows.c), which calls place_stray_point for a range it has not seen
-- covered in this transaction.  At commit the statement that inserted the
-- row has finished, so the hypertable can take a new partition.  It never
-- waits and never fails the commit: if a lock is taken (another session is
-- writing the hypertable, or reading the default partition) or anything
-- else goes wrong, the row stays where it is and chunk maintenance moves it
-- later.
CREATE OR REPLACE FUNCTION _tally_internal.place_stray_row() RETURNS trigger
    AS 'MODULE_PATHNAME', 'tally_place_stray_row'
    LANGUAGE C;

-- The chunk of a row at point waiting in default_partition: found, or
-- created without waiting.  Returns its range, or NULLs where the row
-- stays.  Called by place_stray_row() as the extension's owner.
CREATE OR REPLACE FUNCTION _tally_internal.place_stray_point(hypertable_id integer,
                                                            default_partition regclass, point bigint,
                                                            OUT range_start bigint, OUT range_end bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _tally_catalog.chunk;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM _tally_catalog.hypertable h
                    WHERE h.id = place_stray_point.hypertable_id
                      AND h.default_partition = place_stray_point.default_partition) THEN
        RAISE EXCEPTION 'place_stray_row() is only a trigger of a hypertable''s default partition'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    BEGIN
        SELECT * INTO c FROM _tally_catalog.chunk k
         WHERE k.hypertable_id = place_stray_point.hypertable_id AND k.range_start <= point
           AND (point < k.range_end OR k.range_end = 9223372036854775807);
        IF NOT FOUND THEN
            c := _tally_internal.chunk_for_point(place_stray_point.hypertable_id, point, nowait => true);
        END IF;
        range_start := c.range_start;
        range_end := c.range_end;
    EXCEPTION
        WHEN lock_not_available THEN
            NULL;
        WHEN datetime_field_overflow OR numeric_value_out_of_range THEN
            RAISE WARNING 'row of hypertable % stays in its default partition: %',
                          (SELECT relid FROM _tally_catalog.hypertable h
                            WHERE h.id = place_stray_point.hypertable_id), SQLERRM
                USING DETAIL = 'Its time is beyond the range that chunks can cover.';
        WHEN OTHERS THEN
            RAISE WARNING 'row of hypertable % left in its default partition: %',
                          (SELECT relid FROM _tally_catalog.hypertable h
                            WHERE h.id = place_stray_point.hypertable_id), SQLERRM
                USING HINT = 'Chunk maintenance will move it.';
    END;
END
$$;

-- ensure_chunks(relation, range_start, range_end): create every chunk that
-- covers [range_start, range_end] before a bulk load, so no row of the load
-- lands in the default partition.  Returns those chunks in time order.
CREATE OR REPLACE FUNCTION @extschema@.ensure_chunks(relation regclass, range_start anyelement,
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
    IF _tally_internal.chunk_number(last_point, ht.chunk_interval, ht.chunk_months, ht.time_type)::numeric
       - _tally_internal.chunk_number(point, ht.chunk_interval, ht.chunk_months, ht.time_type) >= 1000 THEN
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
-- it; created_before/after compare creation times.  A chunk bounded by
-- MAXVALUE (range_end 9223372036854775807) holds the largest bigint, which
-- is older than nothing.
CREATE OR REPLACE FUNCTION _tally_internal.select_chunks(ht _tally_catalog.hypertable,
                                              older_than bigint, newer_than bigint,
                                              created_before timestamptz, created_after timestamptz)
    RETURNS SETOF _tally_catalog.chunk
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT *
      FROM _tally_catalog.chunk c
     WHERE c.hypertable_id = ht.id
       AND (older_than IS NULL OR (c.range_end <= older_than AND c.range_end < 9223372036854775807))
       AND (newer_than IS NULL OR c.range_start >= newer_than)
       AND (created_before IS NULL OR c.created_at < created_before)
       AND (created_after IS NULL OR c.created_at > created_after)
     ORDER BY c.range_start
$$;

-- Arguments of show_chunks and drop_chunks arrive from their C front ends
-- (src/hypertable/chunk_api.c) as text and type, since PL/pgSQL cannot take
-- "any".  Creation-time bounds must be timestamps or intervals.
CREATE OR REPLACE FUNCTION _tally_internal.creation_bound(value text, value_type regtype, arg_name text)
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

CREATE OR REPLACE FUNCTION _tally_internal.show_chunks(relation regclass,
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
        PERFORM _tally_internal.execute_as_owner(ht.relid,
            format('DELETE FROM ONLY %s WHERE %s', ht.default_partition, condition));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.show_chunks(relation regclass,
                                        older_than "any" DEFAULT NULL,
                                        newer_than "any" DEFAULT NULL,
                                        created_before "any" DEFAULT NULL,
                                        created_after "any" DEFAULT NULL)
    RETURNS SETOF regclass
    AS 'MODULE_PATHNAME', 'tally_show_chunks'
    LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION @extschema@.drop_chunks(relation regclass,
                                        older_than "any" DEFAULT NULL,
                                        newer_than "any" DEFAULT NULL,
                                        verbose boolean DEFAULT false,
                                        created_before "any" DEFAULT NULL,
                                        created_after "any" DEFAULT NULL)
    RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'tally_drop_chunks'
    LANGUAGE C VOLATILE;
