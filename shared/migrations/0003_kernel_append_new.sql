-- The first events of many new streams in one round trip (CSV imports, a projection recording a
-- batch of reactions): the commit-ordering lock, then events and outbox rows, each event with its
-- own metadata. NO_STREAM semantics come from UNIQUE (stream_id, version): a stream that already
-- exists fails the insert and the caller's transaction rolls back. See 0002 for why the lock and
-- the insert are two statements inside a function rather than one statement.
CREATE OR REPLACE FUNCTION tt_append_new(
    p_streams text[], p_versions integer[], p_ids uuid[], p_types text[], p_schema_versions integer[],
    p_data jsonb[], p_metadata jsonb[]
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(128043267286382), pg_notify('outbox', '');  -- COMMIT_ORDER_LOCK
    WITH ins AS (
        INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata)
        SELECT e.stream_id, e.version, e.event_id, e.type, e.schema_version, e.data, e.metadata
        FROM unnest(p_streams, p_versions, p_ids, p_types, p_schema_versions, p_data, p_metadata)
             WITH ORDINALITY AS e(stream_id, version, event_id, type, schema_version, data, metadata, ord)
        ORDER BY e.ord
        RETURNING events.position
    )
    INSERT INTO outbox (position) SELECT ins.position FROM ins;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
