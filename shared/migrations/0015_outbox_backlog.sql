-- The outbox's backlog (how many events wait for the relay, and since when) counted by index.
--
-- The relay samples it once a second for its gauges (tt_outbox_depth, tt_outbox_oldest_age_seconds)
-- and `ttadmin outbox` shows it. Counted through the `outbox` view, the cursor is a sub-select the
-- planner cannot see into, so it estimates a third of the events table after it and, on a table
-- whose statistics are not fresh, scans it whole: 6.7 ms at 100,000 events, and 4–16 ms a sample
-- in the command benchmark's profile — a cost that grows with the store, once a second, in every
-- service. The backlog is a few rows in steady state; sequential scans off inside this function
-- leave the planner the (tx, position) index, whatever its estimate.
CREATE OR REPLACE FUNCTION tt_outbox_backlog(OUT n bigint, OUT oldest_position bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
    SELECT count(*), min(o.position), min(o.enqueued_at) FROM outbox o
$$;
