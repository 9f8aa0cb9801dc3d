-- Reporting's own copy of what it needs from the enrollment stream. Written only by the
-- projections in services/reporting/projector; every table is emptied and refilled by a rebuild.
-- No names of people: enrollment events carry internal ids only.

CREATE TABLE IF NOT EXISTS orgs (
    code         text PRIMARY KEY,
    name         text NOT NULL,
    kind         text NOT NULL,
    parent_code  text
);
CREATE INDEX IF NOT EXISTS orgs_parent ON orgs (parent_code);

CREATE TABLE IF NOT EXISTS hosts (
    host_id        uuid PRIMARY KEY,
    name           text NOT NULL,
    province_code  text
);

CREATE TABLE IF NOT EXISTS projects (
    project_id      uuid PRIMARY KEY,
    code            text NOT NULL,
    name            text NOT NULL,
    level           text NOT NULL,
    category        text,
    year            integer NOT NULL,
    host_id         uuid,
    organizer_code  text NOT NULL,
    starts_on       date NOT NULL,
    ends_on         date NOT NULL,
    status          text NOT NULL,
    status_on       date,       -- the day of the latest lifecycle event
    version         integer NOT NULL  -- the project stream's version last applied
);
CREATE INDEX IF NOT EXISTS projects_year ON projects (year, level);
CREATE INDEX IF NOT EXISTS projects_host ON projects (host_id, year);

-- QuotaAllocated sets a region's places (the latest wins).
CREATE TABLE IF NOT EXISTS quotas (
    project_id   uuid NOT NULL,
    region_code  text NOT NULL,
    places       integer NOT NULL,
    PRIMARY KEY (project_id, region_code)
);

CREATE TABLE IF NOT EXISTS bulletins (
    project_id    uuid NOT NULL,
    issue_no      integer NOT NULL,
    title         text NOT NULL,
    published_on  date NOT NULL,
    PRIMARY KEY (project_id, issue_no)
);

-- One row per enrollment (a place in a project); status follows the enrollment stream.
CREATE TABLE IF NOT EXISTS enrollments (
    enrollment_id  uuid PRIMARY KEY,
    project_id     uuid NOT NULL,
    teacher_id     uuid NOT NULL,
    region_code    text NOT NULL,
    level          text,
    year           integer,
    status         text NOT NULL,   -- nominated, checked_in, completed, failed, no_show, withdrawn
    nominated_on   date,
    checked_in_on  date,
    finished_on    date,            -- completed, failed, withdrawn or no-show recorded
    reason         text,            -- why failed / withdrawn
    replaced       integer NOT NULL DEFAULT 0,
    satisfied      boolean,         -- the learner's evaluation, once
    score          smallint,
    version        integer NOT NULL -- the enrollment stream's version last applied
);
CREATE INDEX IF NOT EXISTS enrollments_project_region ON enrollments (project_id, region_code);
CREATE INDEX IF NOT EXISTS enrollments_year_region ON enrollments (year, region_code);
