-- Keep the catalog in step with DROP TABLE: a dropped hypertable or chunk
-- leaves no catalog row behind.

CREATE FUNCTION _tally_internal.on_sql_drop() RETURNS event_trigger
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

CREATE EVENT TRIGGER tally_sql_drop ON sql_drop
    EXECUTE FUNCTION _tally_internal.on_sql_drop();
