-- One row per enrollment stream (enrollment-<id>), written only by
-- services/enrollment/projector/enrollments.py. Dates come from the events, never now(), so a
-- rebuild from the event store reproduces the table exactly.
CREATE TABLE IF NOT EXISTS enrollments (
    id                 uuid PRIMARY KEY,
    project_id         uuid NOT NULL REFERENCES projects (id),
    teacher_id         uuid NOT NULL REFERENCES teachers (id),
    region_code        text NOT NULL REFERENCES orgs (code),
    level              text NOT NULL,   -- copied from the project at nomination (selection rules need them)
    category           text NOT NULL,
    year               integer NOT NULL,
    status             text NOT NULL
        CHECK (status IN ('nominated', 'checked_in', 'completed', 'failed', 'no_show', 'withdrawn')),
    nominated_on       date,
    checked_in_on      date,
    finished_on        date,            -- completed, failed, withdrawn or no-show
    reason             text,            -- withdrawal or failure reason
    special_reason     boolean,         -- no-show only
    barred_until_year  integer,         -- no-show only
    version            integer NOT NULL
);
CREATE INDEX IF NOT EXISTS enrollments_project ON enrollments (project_id, region_code);
CREATE INDEX IF NOT EXISTS enrollments_teacher ON enrollments (teacher_id);
CREATE INDEX IF NOT EXISTS enrollments_region ON enrollments (region_code);
-- A teacher holds at most one live enrollment per project.
CREATE UNIQUE INDEX IF NOT EXISTS enrollments_one_per_project
    ON enrollments (project_id, teacher_id) WHERE status NOT IN ('withdrawn');

-- 004 §3.1: at most one 国培 project per teacher per year. One row per national enrollment
-- holding the year's place, written in the nominating transaction: the primary key is the
-- race-free guard. A withdrawal frees it, a replacement (换人) moves it to the new teacher;
-- completion, failure and no-show keep it (the year's place was used).
CREATE TABLE IF NOT EXISTS national_slots (
    teacher_id     uuid NOT NULL,
    year           integer NOT NULL,
    enrollment_id  uuid NOT NULL UNIQUE,
    PRIMARY KEY (teacher_id, year)
);

-- 004 §3.1: national categories a teacher has attended (checked in), for the repeat rule.
CREATE TABLE IF NOT EXISTS national_attended (
    teacher_id  uuid NOT NULL,
    category    text NOT NULL,
    project_id  uuid NOT NULL,
    PRIMARY KEY (teacher_id, category, project_id)
);

-- 004 §4.1: a no-show without a special reason bars the teacher from 国培 for three years.
CREATE TABLE IF NOT EXISTS national_bars (
    teacher_id     uuid NOT NULL,
    from_year      integer NOT NULL,
    until_year     integer NOT NULL,     -- inclusive
    enrollment_id  uuid NOT NULL UNIQUE,
    PRIMARY KEY (teacher_id, enrollment_id)
);

CREATE TABLE IF NOT EXISTS attendance (
    enrollment_id  uuid NOT NULL REFERENCES enrollments (id),
    session_date   date NOT NULL,
    status         text NOT NULL CHECK (status IN ('present', 'absent', 'leave')),
    hours          numeric(5, 1) NOT NULL DEFAULT 0,
    PRIMARY KEY (enrollment_id, session_date)
);

CREATE TABLE IF NOT EXISTS assessments (
    enrollment_id  uuid NOT NULL REFERENCES enrollments (id),
    kind           text NOT NULL CHECK (kind IN ('process', 'final')),
    score          numeric(5, 1),
    passed         boolean NOT NULL,
    PRIMARY KEY (enrollment_id, kind)
);

CREATE TABLE IF NOT EXISTS evaluations (
    enrollment_id  uuid PRIMARY KEY REFERENCES enrollments (id),
    satisfied      boolean NOT NULL,
    score          integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment        text
);
