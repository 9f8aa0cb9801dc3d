-- Issue 20 (1): a city splits its places among its counties (004 §2.2, domain/quota_split.py).
-- A county's row names the city it was split from (`split_from`; NULL: allocated by the
-- organizer); the city's row keeps how many of its places it split (`split`). The city's own
-- nominations and its splits share its places: used + split ≤ places, checked in the row, so a
-- nomination and a split racing for the same places meet at the row (guards.py lock 3).
ALTER TABLE project_quotas ADD COLUMN IF NOT EXISTS split integer NOT NULL DEFAULT 0,
                           ADD COLUMN IF NOT EXISTS split_from text;
ALTER TABLE project_quotas DROP CONSTRAINT IF EXISTS project_quotas_used_check,
                           DROP CONSTRAINT IF EXISTS project_quotas_places_used_split;
ALTER TABLE project_quotas ADD CONSTRAINT project_quotas_places_used_split
    CHECK (used >= 0 AND split >= 0 AND used + split <= places);

-- Issue 20 (2): close-out materials (总结材料, 004 §3.3) as delivered, in the order received.
CREATE TABLE IF NOT EXISTS close_out_materials (
    material_id   uuid PRIMARY KEY,
    project_id    uuid NOT NULL,
    kind          text NOT NULL,
    title         text NOT NULL,
    count         integer NOT NULL CHECK (count >= 1),
    reference     text,
    received_on   date NOT NULL,   -- the server's day: what the 30 days are judged on
    version       integer NOT NULL -- the project stream's version that recorded it
);
CREATE INDEX IF NOT EXISTS close_out_materials_project ON close_out_materials (project_id, version);
