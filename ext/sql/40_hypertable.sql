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

-- Chunk width from the chunk_time_interval argument: an interval (whole
-- months make calendar chunks), an integer (microseconds for time
-- columns), or text meaning whichever of the two the column takes.
CREATE OR REPLACE FUNCTION _tally_internal.chunk_interval_arg(chunk_time_interval anyelement, time_type regtype,
                                                   OUT chunk_interval bigint, OUT chunk_months integer)
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    arg_type regtype := pg_typeof(chunk_time_interval);
    is_integer_time boolean := time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype);
BEGIN
    IF chunk_time_interval IS NULL THEN
        IF is_integer_time THEN
            RAISE EXCEPTION 'chunk_time_interval is required for a time column of type %', time_type
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give it as an integer in the column''s units, for example chunk_time_interval => 100000.';
        END IF;
        SELECT * INTO chunk_interval, chunk_months FROM _tally_internal.interval_to_chunk_width('7 days', time_type);
        RETURN;
    END IF;
    IF arg_type = 'interval'::regtype
       OR (arg_type IN ('text'::regtype, 'unknown'::regtype) AND NOT is_integer_time) THEN
        SELECT * INTO chunk_interval, chunk_months
          FROM _tally_internal.interval_to_chunk_width(chunk_time_interval::text::interval, time_type);
        RETURN;
    ELSIF arg_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'text'::regtype,
                       'unknown'::regtype) THEN
        chunk_interval := chunk_time_interval::text::bigint;
        chunk_months := 0;
        IF chunk_interval <= 0 THEN
            RAISE EXCEPTION 'chunk_time_interval must be greater than zero'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF time_type = 'date'::regtype AND chunk_interval % 86400000000 <> 0 THEN
            RAISE EXCEPTION 'chunk interval for a date column must be whole days'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN;
    END IF;
    RAISE EXCEPTION 'invalid chunk_time_interval of type %', arg_type
        USING ERRCODE = 'datatype_mismatch',
              HINT = 'Give an interval, or an integer for integer time columns.';
END
$$;

-- Refuse unique indexes and constraints that leave out the time column:
-- uniqueness could only be enforced within each chunk.
CREATE OR REPLACE FUNCTION _tally_internal.check_unique_indexes(relation regclass, time_column name)
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
CREATE OR REPLACE FUNCTION _tally_internal.check_convertible(relation regclass) RETURNS void
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
CREATE OR REPLACE FUNCTION _tally_internal.convert_to_partitioned(relation regclass, time_column name,
                                                       time_type regtype, chunk_interval bigint,
                                                       chunk_months integer, migrate_data boolean,
                                                       hypertable_id integer)
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
                                                chunk_interval, chunk_months);

    IF migrate_data THEN
        FOR point IN EXECUTE format(
            'SELECT DISTINCT (_tally_internal.chunk_range(_tally_internal.time_to_internal(%I), %s, %s, %L)).range_start'
            '  FROM %I.%I ORDER BY 1', time_column, chunk_interval, chunk_months, time_type, schema_name, old_name)
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
CREATE OR REPLACE FUNCTION _tally_internal.register_hypertable(hypertable_id integer, relation regclass,
                                                    time_column name, time_type regtype,
                                                    chunk_interval bigint, chunk_months integer)
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
                                           chunk_months, default_partition)
    VALUES (hypertable_id, relation, time_column, time_type, chunk_interval, chunk_months, default_rel);
END
$$;

-- Register the existing partitions of a table already partitioned by range
-- on the time column as its chunks.  Their ranges are recorded exactly: an
-- integer partition bounded by MINVALUE or MAXVALUE reaches the end of its
-- type's range, as the chunks Tally makes do.
CREATE OR REPLACE FUNCTION _tally_internal.adopt_partitions(hypertable_id integer, relation regclass,
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
    domain record := _tally_internal.chunk_domain(time_type);
    is_integer boolean := time_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype);
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
        -- a time partition bounded by MINVALUE or MAXVALUE holds an infinity:
        -- recorded as the ends of int64, where 'infinity' is END_TIMESTAMP
        range_start := CASE WHEN bounds[1] = 'MINVALUE' AND is_integer THEN domain.range_start
                            WHEN bounds[1] IN ('MINVALUE', '''-infinity''') THEN -9223372036854775808
                            ELSE _tally_internal.time_arg_to_internal(trim(both '''' from bounds[1]),
                                                                      'unknown', time_type, 'partition bound') END;
        range_end := CASE WHEN bounds[2] = 'MAXVALUE' AND is_integer THEN domain.range_end
                          WHEN bounds[2] = 'MAXVALUE' THEN 9223372036854775807
                          WHEN bounds[2] = '''infinity''' THEN domain.range_end
                          ELSE _tally_internal.time_arg_to_internal(trim(both '''' from bounds[2]),
                                                                    'unknown', time_type, 'partition bound') END;
        -- in the catalog that end means MAXVALUE, which holds the largest bigint
        IF range_end = 9223372036854775807 AND bounds[2] <> 'MAXVALUE' THEN
            RAISE EXCEPTION 'cannot make "%" a hypertable: partition "%" ends at the largest bigint',
                            relation, part.rel
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'Bound it by MAXVALUE instead.';
        END IF;
        INSERT INTO _tally_catalog.chunk (hypertable_id, relid, range_start, range_end)
        VALUES (hypertable_id, part.rel, range_start, range_end);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.create_hypertable(
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
    width record;
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
    width := _tally_internal.chunk_interval_arg(chunk_time_interval, time_type);
    PERFORM _tally_internal.check_unique_indexes(relation, time_column_name);

    new_id := nextval('_tally_catalog.hypertable_id_seq');
    IF relation_kind = 'p' THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', relation, time_column_name);
        PERFORM _tally_internal.register_hypertable(new_id, relation, time_column_name, time_type,
                                                    width.chunk_interval, width.chunk_months);
        PERFORM _tally_internal.adopt_partitions(new_id, relation, time_column_name, time_type);
    ELSE
        PERFORM _tally_internal.check_convertible(relation);
        rel := _tally_internal.convert_to_partitioned(relation, time_column_name, time_type,
                                                      width.chunk_interval, width.chunk_months,
                                                      migrate_data, new_id);
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

-- The form of TimescaleDB 2.13 on: create_hypertable(relation,
-- by_range(column, interval)).  The dimension keeps the interval as text
-- and type; the form above reads it once the column's type is known.
CREATE OR REPLACE FUNCTION @extschema@.by_range(column_name name,
                                     partition_interval anyelement DEFAULT NULL::bigint,
                                     partition_func regproc DEFAULT NULL)
    RETURNS _tally_internal.dimension_info
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    interval_type regtype := pg_typeof(partition_interval);
BEGIN
    IF column_name IS NULL THEN
        RAISE EXCEPTION 'column_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF partition_func IS NOT NULL THEN
        RAISE EXCEPTION 'by_range: partitioning functions are not supported'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF partition_interval IS NULL THEN
        RETURN ROW(column_name, NULL, NULL)::_tally_internal.dimension_info;
    END IF;
    IF interval_type NOT IN ('interval'::regtype, 'smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
                             'text'::regtype, 'unknown'::regtype) THEN
        RAISE EXCEPTION 'invalid partition_interval of type %', interval_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Give an interval, or an integer for integer time columns.';
    END IF;
    RETURN ROW(column_name, partition_interval::text, interval_type)::_tally_internal.dimension_info;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.create_hypertable(
    relation regclass,
    dimension _tally_internal.dimension_info,
    create_default_indexes boolean DEFAULT true,
    if_not_exists boolean DEFAULT false,
    migrate_data boolean DEFAULT false)
    RETURNS TABLE (hypertable_id integer, created boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF dimension IS NULL OR (dimension).column_name IS NULL THEN
        RAISE EXCEPTION 'dimension must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Give it as by_range(column_name, partition_interval).';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT h.hypertable_id, h.created'
        '  FROM @extschema@.create_hypertable($1, $2, chunk_time_interval => %s,'
        '       create_default_indexes => $3, if_not_exists => $4, migrate_data => $5) h',
        CASE WHEN (dimension).partition_interval IS NULL THEN 'NULL::bigint'
             ELSE format('$6::%s', (dimension).partition_interval_type) END)
        USING relation, (dimension).column_name, create_default_indexes, if_not_exists, migrate_data,
              (dimension).partition_interval;
END
$$;

-- set_chunk_time_interval: the width of the chunks made from now on.  The
-- chunks that exist keep their ranges; a new one is clipped where it would
-- overlap them, whether the widths are calendar months or fixed.
CREATE OR REPLACE FUNCTION @extschema@.set_chunk_time_interval(hypertable regclass,
                                                    chunk_time_interval anyelement,
                                                    dimension_name name DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ht _tally_catalog.hypertable := _tally_internal.hypertable_row(hypertable);
    width record;
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
    width := _tally_internal.chunk_interval_arg(chunk_time_interval, ht.time_type);
    UPDATE _tally_catalog.hypertable
       SET chunk_interval = width.chunk_interval, chunk_months = width.chunk_months
     WHERE id = ht.id;
END
$$;

-- Sizes.  A hypertable's size is that of its chunks and default partition
-- (the partitioned parent itself stores nothing).

CREATE OR REPLACE FUNCTION @extschema@.chunks_detailed_size(hypertable regclass)
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

CREATE OR REPLACE FUNCTION @extschema@.hypertable_detailed_size(hypertable regclass)
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

CREATE OR REPLACE FUNCTION @extschema@.hypertable_size(hypertable regclass) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT total_bytes FROM @extschema@.hypertable_detailed_size(hypertable)
$$;
