-- The first statement of every command (shared/unit_of_work.py), one round trip:
-- 1. INLINE_LOCK (shared/inline.py) shared, so a rebuild of the service's inline tables, which
--    holds it exclusively, never runs while a command projects into them;
-- 2. with an Idempotency-Key: serialise attempts with the same (principal, key), then return the
--    winner's record if there is one. Keys are printable, so the newline joining principal and key
--    cannot be forged. A separate statement after the lock, inside a VOLATILE function, so the
--    look-up sees what the previous holder committed (see 0002).
CREATE OR REPLACE FUNCTION tt_begin_command(p_principal text, p_key text)
RETURNS TABLE (request_hash bytea, status integer, body bytea, headers jsonb)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock_shared(128043333872750);  -- INLINE_LOCK
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_principal || E'\n' || p_key, 11));
    RETURN QUERY
    SELECT k.request_hash, k.status, k.body, k.headers FROM idempotency_keys k
    WHERE k.principal = p_principal AND k.key = p_key;
END
$$;
