-- Issue 20 (004 §3.1, §3.2): a cross-year national project's place takes a slot in every calendar
-- year it spans, so national_slots holds one row per (teacher, year) and may hold several rows of
-- one enrollment; the repeat rule needs to know whether an attended project was cross-year.
ALTER TABLE national_slots DROP CONSTRAINT IF EXISTS national_slots_enrollment_id_key;
CREATE INDEX IF NOT EXISTS national_slots_enrollment ON national_slots (enrollment_id);
ALTER TABLE national_slots ADD COLUMN IF NOT EXISTS cross_year boolean NOT NULL DEFAULT false;
ALTER TABLE national_attended ADD COLUMN IF NOT EXISTS cross_year boolean NOT NULL DEFAULT false;
UPDATE national_slots s SET cross_year = p.cross_year
FROM enrollments e JOIN projects p ON p.id = e.project_id WHERE e.id = s.enrollment_id;
UPDATE national_attended a SET cross_year = p.cross_year FROM projects p WHERE p.id = a.project_id;
INSERT INTO national_slots (teacher_id, year, enrollment_id, category, cross_year)
SELECT s.teacher_id, y, s.enrollment_id, s.category, true
FROM national_slots s JOIN enrollments e ON e.id = s.enrollment_id JOIN projects p ON p.id = e.project_id,
     generate_series(s.year + 1, extract(year FROM p.ends_on)::int) AS y
WHERE p.cross_year AND s.year = e.year
ON CONFLICT DO NOTHING;

-- 002 §4.1.3 "严肃请假制度": leave (请假) requested for a session and approved or refused; an
-- attendance record of status `leave` needs the session's approved leave. A read model of the
-- enrollment stream (projector/enrollments.py), one row per enrollment and session date.
CREATE TABLE IF NOT EXISTS leave_requests (
    enrollment_id    uuid NOT NULL,
    session_date     date NOT NULL,
    status           text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected')),
    reason           text NOT NULL,
    requested_by     text NOT NULL,   -- 'teacher' or 'host' (recorded on the teacher's behalf)
    requested_on     date NOT NULL,
    decided_on       date,
    decision_reason  text,
    PRIMARY KEY (enrollment_id, session_date)
);
