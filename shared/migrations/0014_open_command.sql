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
-- Everything else is tt_begin_command's (0013), in the same order: generic plans for the
-- command's own statements, INLINE_LOCK shared, the key's lock and look-up, then `p_locks`.
-- tt_begin_command stays for callers that want the record as a row.
CREATE OR REPLACE FUNCTION tt_open_command(p_principal text, p_key text, p_locks text[])
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lk text;
BEGIN
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    PERFORM pg_advisory_xact_lock_shared(128043333872750);  -- INLINE_LOCK
    IF p_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended(p_principal || E'\n' || p_key, 11));
        PERFORM 1 FROM idempotency_keys k WHERE k.principal = p_principal AND k.key = p_key;
        IF FOUND THEN
            RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'TT409';
        END IF;
    END IF;
    FOREACH lk IN ARRAY coalesce(p_locks, '{}'::text[]) LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(lk, 31));  -- COMMAND_LOCK_SEED
    END LOOP;
END
$$;
