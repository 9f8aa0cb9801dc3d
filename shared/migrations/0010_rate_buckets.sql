-- Token buckets shared by every replica of a service (issue 19): a limit per client holds across
-- replicas, which an in-process bucket cannot (N replicas gave a client N × the rate). One row per
-- (limit, client key); rows of buckets that have refilled carry nothing and are pruned.
CREATE TABLE IF NOT EXISTS rate_buckets (
    name     text             NOT NULL,
    key      text             NOT NULL,
    tokens   double precision NOT NULL,
    at       double precision NOT NULL,  -- seconds since the epoch, by the clock that last took
    allowed  boolean          NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE INDEX IF NOT EXISTS rate_buckets_at ON rate_buckets (at);
