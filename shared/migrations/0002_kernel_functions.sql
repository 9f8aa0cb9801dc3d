-- Two kernel steps as server-side functions, each one round trip instead of two.
--
-- Both take an advisory lock and then read. That order needs two statements, not one: under
-- READ COMMITTED a statement reads from the snapshot taken when it began, so a statement that
-- waits on a lock and then reads would miss what the previous holder committed meanwhile. A
-- VOLATILE PL/pgSQL function takes a fresh snapshot for each statement inside it, so the read
-- after PERFORM pg_advisory_xact_lock(...) sees everything committed before the lock was won.

-- The event store's append (shared/eventstore.py explains the commit-ordering lock): lock, wake
-- the relay at commit, then insert the events and their outbox rows if the stream is at the
-- expected version. One row per event, or one row with NULLs and the stream's current version
-- when the expectation failed.
CREATE OR REPLACE FUNCTION tt_append(
    p_stream text, p_expected integer, p_ids uuid[], p_types text[], p_schema_versions integer[],
    p_data jsonb[], p_metadata jsonb
) RETURNS TABLE ("position" bigint, version integer, event_id uuid, recorded_at timestamptz, previous integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(128043267286382), pg_notify('outbox', '');  -- COMMIT_ORDER_LOCK
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

-- Idempotency-Key: serialise attempts with the same (principal, key), then return the winner's
-- record if there is one (shared/commands.py).
CREATE OR REPLACE FUNCTION tt_idempotency_claim(p_principal text, p_key text)
RETURNS TABLE (request_hash bytea, status integer, body bytea, headers jsonb)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_principal || E'\n' || p_key, 11));
    RETURN QUERY
    SELECT k.request_hash, k.status, k.body, k.headers FROM idempotency_keys k
    WHERE k.principal = p_principal AND k.key = p_key;
END
$$;
