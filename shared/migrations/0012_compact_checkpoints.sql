-- Compact checkpoints (issue 19). A projection keeps one checkpoint per source stream, for every
-- aggregate of its source: exactly-once and per-stream order need it (see shared/projection.py
-- and docs/reliability.md "Checkpoint compaction" for why a per-projection high-water cannot
-- replace it soundly). The old rows repeated the projection's name and the full
-- '<source>:<stream id>' text in the heap and again in the primary key's index: ~235 B a row,
-- 40 % of a service database. Here a row is a small projection number, a 16-byte digest of the
-- key (md5 of '<source>:<stream id>', the same digest shared/projection.py computes) and the
-- version: fixed width, about a third of the bytes.

CREATE TABLE IF NOT EXISTS projection_ids (
    id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text    NOT NULL UNIQUE
);

-- No foreign key to projection_ids: it would cost a lookup per inserted row, and only the kernel
-- writes here, always with an id it just read from projection_ids (tt_projection_id).
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    projection  integer NOT NULL,
    stream      uuid    NOT NULL,  -- md5('<source>:<stream id>')::uuid
    version     integer NOT NULL,
    PRIMARY KEY (projection, stream)
);

-- The projection's number, made on first use. Writers of one projection hold its lock
-- (tt_projection_begin), so two never race to make the same one; ON CONFLICT covers the rest.
CREATE OR REPLACE FUNCTION tt_projection_id(p_projection text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found integer;
BEGIN
    SELECT id INTO found FROM projection_ids WHERE name = p_projection;
    IF found IS NULL THEN
        INSERT INTO projection_ids (name) VALUES (p_projection) ON CONFLICT (name) DO NOTHING;
        SELECT id INTO found FROM projection_ids WHERE name = p_projection;
    END IF;
    RETURN found;
END
$$;

-- Upgrade: every old row, carried over with its version, so no projection applies anything twice
-- or skips anything after the upgrade.
DO $$
BEGIN
    IF to_regclass('projection_checkpoints') IS NOT NULL
       AND (SELECT relkind FROM pg_class WHERE oid = to_regclass('projection_checkpoints')) = 'r' THEN
        INSERT INTO projection_ids (name)
        SELECT DISTINCT projection FROM projection_checkpoints ORDER BY projection
        ON CONFLICT (name) DO NOTHING;
        INSERT INTO stream_checkpoints (projection, stream, version)
        SELECT i.id, md5(c.stream_id)::uuid, c.version
        FROM projection_checkpoints c JOIN projection_ids i ON i.name = c.projection;
        DROP TABLE projection_checkpoints;
    END IF;
END
$$;

-- The old name stays, read-only but for DELETE, for operators and their queries: a stream's
-- checkpoint is found by its digest, e.g.
--   SELECT version FROM projection_checkpoints
--   WHERE projection = 'credits_hours' AND stream = md5('/enrollment:enrollment-42')::uuid;
CREATE OR REPLACE VIEW projection_checkpoints AS
SELECT i.name AS projection, c.stream, c.version
FROM stream_checkpoints c JOIN projection_ids i ON i.id = c.projection;

-- Deleting from the view forgets those checkpoints (a replay from scratch, a support fix).
CREATE OR REPLACE FUNCTION tt_projection_checkpoints_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM stream_checkpoints c USING projection_ids i
    WHERE i.name = OLD.projection AND c.projection = i.id AND c.stream = OLD.stream;
    RETURN OLD;
END
$$;
DROP TRIGGER IF EXISTS projection_checkpoints_delete ON projection_checkpoints;
CREATE TRIGGER projection_checkpoints_delete INSTEAD OF DELETE ON projection_checkpoints
FOR EACH ROW EXECUTE FUNCTION tt_projection_checkpoints_delete();

-- The first statement of every projection batch (0007), on the compact rows: the projection's
-- lock, then the checkpoints of the batch's streams (by digest).
DROP FUNCTION IF EXISTS tt_projection_begin(text, text[]);
CREATE OR REPLACE FUNCTION tt_projection_begin(p_projection text, p_streams uuid[])
RETURNS TABLE (stream uuid, version integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_projection, 7));
    IF cardinality(p_streams) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT c.stream, c.version FROM stream_checkpoints c JOIN projection_ids i ON i.id = c.projection
    WHERE i.name = p_projection AND c.stream = ANY(p_streams);
END
$$;
