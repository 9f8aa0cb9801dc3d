-- A command's BEGIN rides with its first statement (shared/unit_of_work.py, docs/benchmarks.md).
--
-- asyncpg sends BEGIN as a statement of its own and waits for the answer: a round trip per
-- command, ~60 µs of the service's CPU and ~20 of PostgreSQL's, for no information. The kernel
-- now sends `BEGIN; SELECT tt_open_command(...)` as one simple-protocol message instead. Such a
-- message carries no parameters (its arguments are spelled as hex literals, which leave nothing
-- to escape) and returns no rows, so tt_open_command answers the one question the first
-- statement has, "did this Idempotency-Key already run?", by raising: SQLSTATE TT409 when the
-- key's record exists. The kernel then rolls back and reads the record (a replay costs two more
-- round trips; a first attempt, the common case, none).
-- The claim itself stays tt_begin_command's (0013): generic plans for the command's own
-- statements, INLINE_LOCK shared, the key's lock and look-up — a replay returns its record there,
-- before `p_locks` — then `p_locks`.
CREATE OR REPLACE FUNCTION tt_open_command(p_principal text, p_key text, p_locks text[])
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM tt_begin_command(p_principal, p_key, p_locks)) THEN
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'TT409';
    END IF;
END
$$;
