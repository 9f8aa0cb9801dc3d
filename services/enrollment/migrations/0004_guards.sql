-- Issue 14: every table is a guard (services/enrollment/guards.py) or a read model
-- (services/enrollment/projector/), rebuilt from the event store projection by projection.

-- A rebuild empties each projection's tables with one TRUNCATE, which PostgreSQL refuses for a
-- table another projection's foreign key points at; and a rebuild applies a batch of events to
-- the guards before the read models, so a guard row may come before the row it would point at.
-- The events are the integrity: no foreign key crosses from one projection's tables to another's.
ALTER TABLE project_quotas DROP CONSTRAINT IF EXISTS project_quotas_project_id_fkey,
                           DROP CONSTRAINT IF EXISTS project_quotas_region_code_fkey;
ALTER TABLE teachers DROP CONSTRAINT IF EXISTS teachers_school_code_fkey;
ALTER TABLE projects DROP CONSTRAINT IF EXISTS projects_host_id_fkey,
                     DROP CONSTRAINT IF EXISTS projects_organizer_code_fkey;
ALTER TABLE enrollments DROP CONSTRAINT IF EXISTS enrollments_project_id_fkey,
                        DROP CONSTRAINT IF EXISTS enrollments_teacher_id_fkey,
                        DROP CONSTRAINT IF EXISTS enrollments_region_code_fkey;

-- Written by now() at insert, read by nothing, and different after every rebuild.
ALTER TABLE teachers DROP COLUMN IF EXISTS registered_at;
ALTER TABLE projects DROP COLUMN IF EXISTS created_at;

-- The category of the national enrollment holding the slot: check-in records it as attended
-- (004 §3.1) from the guards' own rows, without reading the enrollments read model.
ALTER TABLE national_slots ADD COLUMN IF NOT EXISTS category text;
UPDATE national_slots s SET category = e.category FROM enrollments e WHERE e.id = s.enrollment_id;
ALTER TABLE national_slots ALTER COLUMN category SET NOT NULL;

-- Who holds a live place in a project (one per teacher), read under the teacher's lock; the
-- unique index enrollments_one_per_project stays on the read model as a backstop.
CREATE TABLE IF NOT EXISTS project_nominees (
    project_id     uuid NOT NULL,
    teacher_id     uuid NOT NULL,
    enrollment_id  uuid NOT NULL UNIQUE,
    PRIMARY KEY (project_id, teacher_id)
);
INSERT INTO project_nominees (project_id, teacher_id, enrollment_id)
SELECT project_id, teacher_id, id FROM enrollments WHERE status <> 'withdrawn' ON CONFLICT DO NOTHING;

-- Project codes (项目编号) taken, read under the code's lock; projects.code UNIQUE stays as a backstop.
CREATE TABLE IF NOT EXISTS project_codes (
    code        text PRIMARY KEY,
    project_id  uuid NOT NULL UNIQUE
);
INSERT INTO project_codes (code, project_id) SELECT code, id FROM projects ON CONFLICT DO NOTHING;
