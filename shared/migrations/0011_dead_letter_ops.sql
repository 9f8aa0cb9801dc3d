-- Dead letters for operators (issue 19).
--
-- Handler failures per (projection, event), counted apart from NATS deliveries: an event handed
-- back early (its predecessor not applied yet) is delivered again and again without its handler
-- ever running, so a delivery count would park a good event on its first real failure. Written in
-- the batch's transaction after the failed apply's savepoint rolled back; deleted when the event
-- applies or is dead-lettered.
CREATE TABLE IF NOT EXISTS projection_failures (
    projection  text        NOT NULL,
    event_id    uuid        NOT NULL,
    failures    integer     NOT NULL CHECK (failures > 0),
    last_error  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, event_id)
);

-- A dead letter ends replayed (applied, or found already applied) or discarded by an operator
-- with a reason; either way it stays as a record. A rebuild deletes only pending ones (it parks
-- again what still fails), so one event may have several records but one pending at most.
ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS failures       integer,
    ADD COLUMN IF NOT EXISTS replay_result  text CHECK (replay_result IN ('applied', 'already_applied')),
    ADD COLUMN IF NOT EXISTS discarded_at   timestamptz,
    ADD COLUMN IF NOT EXISTS discarded_by   text,
    ADD COLUMN IF NOT EXISTS discard_reason text;
UPDATE dead_letters SET failures = deliveries WHERE failures IS NULL;
UPDATE dead_letters SET replay_result = 'applied' WHERE replayed_at IS NOT NULL AND replay_result IS NULL;
ALTER TABLE dead_letters ALTER COLUMN failures SET NOT NULL;
ALTER TABLE dead_letters
    ADD CONSTRAINT dead_letters_replayed_whole CHECK ((replayed_at IS NULL) = (replay_result IS NULL)),
    ADD CONSTRAINT dead_letters_discarded_whole CHECK (
        (discarded_at IS NULL) = (discarded_by IS NULL) AND (discarded_at IS NULL) = (discard_reason IS NULL)),
    ADD CONSTRAINT dead_letters_discard_says_who_and_why CHECK (
        discarded_at IS NULL OR (btrim(discarded_by) <> '' AND btrim(discard_reason) <> '')),
    ADD CONSTRAINT dead_letters_settled_once CHECK (replayed_at IS NULL OR discarded_at IS NULL);
ALTER TABLE dead_letters DROP CONSTRAINT IF EXISTS dead_letters_projection_event_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_pending ON dead_letters (projection, event_id)
    WHERE replayed_at IS NULL AND discarded_at IS NULL;
-- A stream's pending dead letters in version order (ordered replay, the hold-back check).
CREATE INDEX IF NOT EXISTS dead_letters_pending_stream ON dead_letters (projection, stream_id, version)
    WHERE replayed_at IS NULL AND discarded_at IS NULL;
