-- The relay reads the event store itself, in the store's order up to the commit horizon, and keeps
-- one cursor: the (tx, position) of the last event it published. Since 0005 that order never
-- skips a late commit, so an outbox table — an extra row written per event, deleted per publish,
-- and a join the relay had to sort on every poll — holds nothing the store does not.
-- `outbox` stays as the name operators and dashboards know: a view of the events after the cursor.
CREATE TABLE IF NOT EXISTS relay_cursor (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    tx        xid8    NOT NULL,
    position  bigint  NOT NULL
);

-- Start where the outbox table stood: just before its first waiting row in the store's order
-- (rows after it that were already published go again; JetStream's duplicate window and the
-- projections' checkpoints drop the copies), or after the last event when nothing waited.
INSERT INTO relay_cursor (tx, position)
SELECT tx, position FROM (
    (SELECT e.tx, e.position - 1 AS position, 1 AS choice
     FROM outbox o JOIN events e ON e.position = o.position ORDER BY e.tx, e.position LIMIT 1)
    UNION ALL
    (SELECT tx, position, 2 FROM events ORDER BY tx DESC, position DESC LIMIT 1)
    UNION ALL
    SELECT '0'::xid8, 0, 3
) start ORDER BY choice LIMIT 1
ON CONFLICT (only_row) DO NOTHING;

DROP TABLE outbox;

CREATE VIEW outbox AS
SELECT e.position, e.recorded_at AS enqueued_at, e.tx
FROM events e
WHERE (e.tx, e.position) > (SELECT c.tx, c.position FROM relay_cursor c);

-- Removing a row from the outbox means "published": the cursor moves past it — and so past every
-- row before it, which is what the relay has already published when a row it cannot publish
-- blocks the head. `DELETE FROM outbox` empties it.
CREATE OR REPLACE FUNCTION tt_outbox_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE relay_cursor SET tx = OLD.tx, position = OLD.position
    WHERE (tx, position) < (OLD.tx, OLD.position);
    RETURN OLD;
END
$$;
CREATE TRIGGER outbox_delete INSTEAD OF DELETE ON outbox FOR EACH ROW EXECUTE FUNCTION tt_outbox_delete();

-- The appends of 0005, without the outbox rows.
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
    INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata)
    SELECT e.stream_id, e.version, e.event_id, e.type, e.schema_version, e.data, e.metadata
    FROM unnest(p_streams, p_versions, p_ids, p_types, p_schema_versions, p_data, p_metadata)
         WITH ORDINALITY AS e(stream_id, version, event_id, type, schema_version, data, metadata, ord)
    ORDER BY e.ord;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
