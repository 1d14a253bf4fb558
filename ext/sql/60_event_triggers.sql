-- Keep the catalog in step with DROP TABLE: a dropped hypertable or chunk
-- leaves no catalog row behind.

CREATE OR REPLACE FUNCTION _tally_internal.on_sql_drop() RETURNS event_trigger
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

-- replaced on every upgrade: an event trigger has no CREATE OR REPLACE
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'tally_sql_drop') THEN
        DROP EVENT TRIGGER tally_sql_drop;
    END IF;
END $$;
CREATE EVENT TRIGGER tally_sql_drop ON sql_drop
    EXECUTE FUNCTION _tally_internal.on_sql_drop();

-- A chunk detached by hand (ALTER TABLE ... DETACH PARTITION) is an
-- ordinary table from then on: it leaves the catalog, so that drop_chunks
-- never drops it and its interval can have a new chunk.

CREATE OR REPLACE FUNCTION _tally_internal.on_alter_table() RETURNS event_trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hypertable_ids integer[];
BEGIN
    -- a chunk is detached by a statement on its hypertable: any other ALTER
    -- TABLE costs a probe of the hypertable catalog, however many chunks
    -- there are
    SELECT array_agg(h.id) INTO hypertable_ids
      FROM pg_event_trigger_ddl_commands() d
      JOIN _tally_catalog.hypertable h ON h.relid = d.objid
     WHERE d.classid = 'pg_class'::regclass;
    IF hypertable_ids IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM _tally_catalog.chunk c
     WHERE c.hypertable_id = ANY (hypertable_ids)
       AND NOT EXISTS (SELECT 1 FROM _tally_catalog.hypertable h
                         JOIN pg_inherits i ON i.inhparent = h.relid
                        WHERE h.id = c.hypertable_id AND i.inhrelid = c.relid);
END
$$;

-- replaced on every upgrade: an event trigger has no CREATE OR REPLACE
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'tally_alter_table') THEN
        DROP EVENT TRIGGER tally_alter_table;
    END IF;
END $$;
CREATE EVENT TRIGGER tally_alter_table ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION _tally_internal.on_alter_table();
