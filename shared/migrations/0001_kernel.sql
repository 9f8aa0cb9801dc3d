-- Kernel tables every service database carries: its event store, the transactional outbox,
-- idempotency records, and the bookkeeping of the projections it runs.

CREATE TABLE IF NOT EXISTS events (
    -- Global order of this service's events. Appends take a commit-ordering lock before
    -- drawing a position (see shared/eventstore.py), so positions become visible in order.
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL,
    version         integer     NOT NULL CHECK (version > 0),
    event_id        uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);

-- Rows wait here until the relay has a PubAck for them; written in the command's transaction.
CREATE TABLE IF NOT EXISTS outbox (
    position    bigint PRIMARY KEY REFERENCES events (position),
    enqueued_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal     text        NOT NULL,
    key           text        NOT NULL,
    request_hash  bytea       NOT NULL,
    status        integer     NOT NULL,
    body          bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);

-- Exactly-once in effect: a projection records the last version it applied per source
-- stream in the same transaction as its read-model change.
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection  text    NOT NULL,
    stream_id   text    NOT NULL,
    version     integer NOT NULL,
    PRIMARY KEY (projection, stream_id)
);

CREATE TABLE IF NOT EXISTS projection_state (
    projection     text PRIMARY KEY,
    last_position  bigint      NOT NULL DEFAULT 0,
    applied        bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    projection   text        NOT NULL,
    event_id     uuid        NOT NULL,
    stream_id    text        NOT NULL,
    version      integer     NOT NULL,
    type         text        NOT NULL,
    envelope     jsonb       NOT NULL,
    error        text        NOT NULL,
    deliveries   integer     NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    UNIQUE (projection, event_id)
);
