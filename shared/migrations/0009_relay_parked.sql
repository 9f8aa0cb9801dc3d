-- Events the relay could not publish (issue 19): NATS refused the message itself — over its
-- max_payload, or a stream's size limit — on every one of its bounded attempts. The relay parks
-- it here with the reason and moves its cursor past it, so the events behind it flow on; the
-- event stays in the store (the feed serves it, a rebuild applies it) and tt_relay_parked rises.
-- An operator fixes the cause (raise the limit) and re-publishes, or records why not.
CREATE TABLE IF NOT EXISTS relay_parked (
    position     bigint      PRIMARY KEY,
    event_id     uuid        NOT NULL,
    stream_id    text        NOT NULL,
    type         text        NOT NULL,
    size_bytes   integer     NOT NULL,
    attempts     integer     NOT NULL,
    reason       text        NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now()
);
