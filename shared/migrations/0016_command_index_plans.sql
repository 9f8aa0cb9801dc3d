-- A command's generic plans look rows up by their indexes, whatever the statistics said when the
-- plan was made (shared/unit_of_work.py, docs/benchmarks.md).
--
-- A command's statements run on generic plans (0013), made once per connection and kept until the
-- statistics of a table they read change. A plan made while a table was analysed empty (a new
-- province's first minutes, `vacuumdb --analyze` after an upgrade or a restore, the bench's settle)
-- reads that table by a sequential scan, and keeps doing so as the table fills, until autovacuum
-- analyses it again. Measured (make bench-profile, 2026-12-06): attendance's facts query read the
-- attendance table whole on every command of the closed-loop run, 164 µs a call against check-in's
-- 76 for the same query, and growing with the table.
-- A command reads and writes its rows by key (a bulk import too: its rows' keys in arrays), so an
-- index is its plan whatever the table's size. The first statement of every command now turns
-- sequential scans off for its own transaction (is_local), as it sets plan_cache_mode. A table with
-- no index to use is still read whole (the planner has no other path). Reads, reports, projections
-- and rebuilds run outside commands and keep the defaults.
-- Measured (pg_stat_statements per call, four `make bench-profile` runs, without and with in
-- turn): attendance's facts 165-175 -> 54-73 µs, check-in's 76-96 -> 60-66 and its write
-- 262-308 -> 221-256; nominate's facts 85-88 -> 96-110 (not looked into); the imports' rates
-- unchanged.
CREATE OR REPLACE FUNCTION tt_begin_command(p_principal text, p_key text, p_locks text[])
RETURNS TABLE (request_hash bytea, status integer, body bytea, headers jsonb)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    lk text;
BEGIN
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    PERFORM set_config('enable_seqscan', 'off', true);
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
