-- tt_begin_command with the command's own advisory locks (shared/unit_of_work.py): a handler
-- that knows before it starts which facts it must read under a lock (a nomination: its teacher)
-- has them taken here, in the first statement, instead of one round trip each after it.
-- Order: INLINE_LOCK shared; the Idempotency-Key's lock and look-up; then, only when this is no
-- replay, `p_locks` in the order given (services keep their locks in one documented order, e.g.
-- services/enrollment/guards.py). The handler's facts query is the next statement: under READ
-- COMMITTED its snapshot includes whatever the locks' previous holders committed.
-- The two-argument form (0004) stays for code that does not pass locks.
CREATE OR REPLACE FUNCTION tt_begin_command(p_principal text, p_key text, p_locks text[])
RETURNS TABLE (request_hash bytea, status integer, body bytea, headers jsonb)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    lk text;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(128043333872750);  -- INLINE_LOCK
    IF p_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended(p_principal || E'\n' || p_key, 11));
        RETURN QUERY
        SELECT k.request_hash, k.status, k.body, k.headers FROM idempotency_keys k
        WHERE k.principal = p_principal AND k.key = p_key;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    FOREACH lk IN ARRAY coalesce(p_locks, '{}'::text[]) LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(lk, 31));  -- COMMAND_LOCK_SEED
    END LOOP;
END
$$;
