-- funding_entries is a read model rebuilt from the store (services/funding/projector/entries.py).
-- Its identity column numbered rows in the order commands INSERTED them, which is neither the
-- order they commit in nor what a rebuild reproduces (and rolled-back inserts left gaps). Each
-- row now names the event that wrote it; the recorded order is that event's store position.

ALTER TABLE funding_entries ADD COLUMN IF NOT EXISTS stream_id text;
ALTER TABLE funding_entries ADD COLUMN IF NOT EXISTS stream_version integer;

UPDATE funding_entries f SET stream_id = e.stream_id, stream_version = e.version
FROM events e
WHERE f.stream_id IS NULL
  AND e.type IN ('FundsAllocated', 'FundsDisbursed', 'FundsReversed', 'SettlementCalculated')
  AND f.entry_id::text = coalesce(e.data->>'reversal_id', e.data->>'settlement_id', e.data->>'disbursement_id',
                                  e.data->>'allocation_id');

ALTER TABLE funding_entries ALTER COLUMN stream_id SET NOT NULL, ALTER COLUMN stream_version SET NOT NULL;
ALTER TABLE funding_entries DROP COLUMN IF EXISTS position;  -- and its index funding_entries_org_year
CREATE INDEX IF NOT EXISTS funding_entries_org_year ON funding_entries (org_code, year);
CREATE INDEX IF NOT EXISTS funding_entries_to_year ON funding_entries (to_code, year) WHERE to_code IS NOT NULL;
