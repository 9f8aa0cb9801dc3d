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

-- Appends are plain statements now (shared/eventstore.py), cheaper than these PL/pgSQL functions
-- for PostgreSQL and the client alike; without the outbox they would have had to change anyway.
DROP FUNCTION IF EXISTS tt_append(text, integer, uuid[], text[], integer[], jsonb[], jsonb);
DROP FUNCTION IF EXISTS tt_append_new(text[], integer[], uuid[], text[], integer[], jsonb[], jsonb[]);
