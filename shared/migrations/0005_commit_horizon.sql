-- The feed, rebuilds and every reader tailing the store are ordered by a commit horizon, not by a
-- lock that serialised every append (shared/eventstore.py explains why this never skips a late
-- commit). Each event records the transaction that wrote it; rows written before this migration
-- get 0, which sorts them first and in position order, as they were read before.
ALTER TABLE events ADD COLUMN IF NOT EXISTS tx xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS events_tx_position ON events (tx, position);

-- The append of one stream (tt_append) and of many (tt_append_new), each one round trip: events
-- and their outbox rows, and a NOTIFY that wakes the relay at COMMIT. No lock: appends of one
-- service do not wait for each other's COMMIT (0002 and 0003 held one until then).
-- tt_append inserts only if the stream is at the expected version (checked in the same
-- statement), answering one row per event, or one row of NULLs with the stream's current version
-- when the expectation failed; tt_append_new writes explicit versions, and UNIQUE
-- (stream_id, version) turns a stream that moved on into an error that rolls the caller back.
CREATE OR REPLACE FUNCTION tt_append(
    p_stream text, p_expected integer, p_ids uuid[], p_types text[], p_schema_versions integer[],
    p_data jsonb[], p_metadata jsonb
) RETURNS TABLE ("position" bigint, version integer, event_id uuid, recorded_at timestamptz, previous integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_notify('outbox', '');  -- delivered at commit: wakes the relay wherever it runs
    RETURN QUERY
    WITH cur AS (
        SELECT coalesce(max(e.version), 0) AS v FROM events e WHERE e.stream_id = p_stream
    ), ok AS (
        SELECT v FROM cur WHERE p_expected < 0 OR v = p_expected
    ), ins AS (
        INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata)
        SELECT p_stream, ok.v + n.ord, n.event_id, n.type, n.schema_version, n.data, p_metadata
        FROM ok, unnest(p_ids, p_types, p_schema_versions, p_data)
             WITH ORDINALITY AS n(event_id, type, schema_version, data, ord)
        ORDER BY n.ord
        RETURNING events.position, events.version, events.event_id, events.recorded_at
    ), queued AS (
        INSERT INTO outbox (position) SELECT ins.position FROM ins
    )
    SELECT ins.position, ins.version, ins.event_id, ins.recorded_at, (SELECT v FROM cur) FROM ins
    UNION ALL
    SELECT NULL::bigint, NULL::integer, NULL::uuid, NULL::timestamptz, (SELECT v FROM cur)
    WHERE NOT EXISTS (SELECT 1 FROM ok)
    ORDER BY 1;
END
$$;

CREATE OR REPLACE FUNCTION tt_append_new(
    p_streams text[], p_versions integer[], p_ids uuid[], p_types text[], p_schema_versions integer[],
    p_data jsonb[], p_metadata jsonb[]
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_notify('outbox', '');
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

-- Superseded by tt_begin_command (0004).
DROP FUNCTION IF EXISTS tt_idempotency_claim(text, text);
