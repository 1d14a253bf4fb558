-- A chunk detached by hand (ALTER TABLE ... DETACH PARTITION) is an
-- ordinary table from then on: it leaves the catalog, so that drop_chunks
-- never drops it and its interval can have a new chunk.

CREATE FUNCTION _tally_internal.on_alter_table() RETURNS event_trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM _tally_catalog.chunk c
     WHERE NOT EXISTS (SELECT 1 FROM _tally_catalog.hypertable h
                         JOIN pg_inherits i ON i.inhparent = h.relid
                        WHERE h.id = c.hypertable_id AND i.inhrelid = c.relid);
END
$$;

CREATE EVENT TRIGGER tally_alter_table ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION _tally_internal.on_alter_table();
