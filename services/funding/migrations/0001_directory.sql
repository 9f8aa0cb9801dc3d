-- The funding service's own copy of what it needs from the enrollment service, kept by
-- projections of the ENROLLMENT stream (services/funding/projector/directory.py). No foreign
-- keys: events of different streams may arrive in any order, and every table can be emptied
-- and rebuilt from the enrollment feed.

CREATE TABLE IF NOT EXISTS orgs (
    code         text PRIMARY KEY,
    name         text NOT NULL,
    kind         text NOT NULL,
    parent_code  text
);
CREATE INDEX IF NOT EXISTS orgs_parent ON orgs (parent_code);

CREATE TABLE IF NOT EXISTS hosts (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    province_code  text NOT NULL
);

-- Which school a teacher belongs to: decides the county a participant is counted for.
CREATE TABLE IF NOT EXISTS teachers (
    id           uuid PRIMARY KEY,
    school_code  text NOT NULL
);

CREATE TABLE IF NOT EXISTS projects (
    id              uuid PRIMARY KEY,
    code            text NOT NULL,
    name            text NOT NULL,
    level           text NOT NULL,
    year            integer NOT NULL,
    host_id         uuid,
    organizer_code  text NOT NULL
);

-- One row per TeacherCheckedIn (报到): the participants of the per-participant settlement
-- (001 §6.7). Keyed by enrollment, so a redelivered event cannot count twice.
CREATE TABLE IF NOT EXISTS checkins (
    enrollment_id   uuid PRIMARY KEY,
    project_id      uuid NOT NULL,
    teacher_id      uuid NOT NULL,
    region_code     text NOT NULL,
    host_id         uuid,
    checked_in_on   date NOT NULL
);
CREATE INDEX IF NOT EXISTS checkins_project ON checkins (project_id);
