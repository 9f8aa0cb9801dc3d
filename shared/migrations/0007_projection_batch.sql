-- The first statement of every projection batch (shared/projection.py:Applier), one round trip:
-- the projection's lock, then the checkpoints of the batch's source streams. A separate statement
-- after the lock, inside a VOLATILE function, so the read sees what the previous holder committed
-- (see 0002). With no keys (a rebuild that keeps no checkpoints) it only takes the lock.
CREATE OR REPLACE FUNCTION tt_projection_begin(p_projection text, p_streams text[])
RETURNS TABLE (stream_id text, version integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_projection, 7));
    IF cardinality(p_streams) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT c.stream_id, c.version FROM projection_checkpoints c
    WHERE c.projection = p_projection AND c.stream_id = ANY(p_streams);
END
$$;
