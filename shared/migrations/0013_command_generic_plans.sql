-- A command's statements run on generic plans (shared/unit_of_work.py, docs/benchmarks.md).
--
-- PostgreSQL plans a prepared statement anew on each execution while it judges a custom plan
-- cheaper than the generic one (plan_cache_mode = auto). For a command's combined write
-- (shared/combine.py: the append, its read models and guards in one statement, arrays unnested)
-- it judged so on every execution: pg_stat_statements showed attendance's write planned 3,000
-- times in 3,000 calls, 301 µs of planning each, more than its execution (205 µs). A command's
-- statements look rows up by key and write a handful: the generic plan is the custom plan.
-- So the first statement of every command sets plan_cache_mode for its own transaction only
-- (set_config's is_local): reads, reports, projections and rebuilds keep the default.
CREATE OR REPLACE FUNCTION tt_begin_command(p_principal text, p_key text, p_locks text[])
RETURNS TABLE (request_hash bytea, status integer, body bytea, headers jsonb)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    lk text;
BEGIN
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
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
