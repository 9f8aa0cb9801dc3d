-- Issue 20: close-out materials (总结材料, 004 §3.3) as enrollment recorded them
-- (CloseOutMaterialDelivered), judged against the host duties in domain/obligations.py.
CREATE TABLE IF NOT EXISTS close_out_materials (
    material_id  uuid PRIMARY KEY,
    project_id   uuid NOT NULL,
    kind         text NOT NULL,
    kind_label   text NOT NULL,
    title        text NOT NULL,
    count        integer NOT NULL,
    reference    text,
    received_on  date NOT NULL  -- the day enrollment received them: what the 30 days are judged on
);
CREATE INDEX IF NOT EXISTS close_out_materials_project ON close_out_materials (project_id, received_on);

-- Issue 20: a city's split of its places to its counties (QuotaSplit, 004 §2.2). A county's
-- row names the city it came from; the city's cell counts what it kept (its places less those
-- of the rows split from it, queries.py), so a subtree's quota counts every place once.
ALTER TABLE quotas ADD COLUMN IF NOT EXISTS split_from text;
