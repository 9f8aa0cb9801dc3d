-- Training projects (培训项目), their regional quotas (参训指标) and bulletins (简报).
-- Written only by services/enrollment/projector/projects.py; the event store stays the record.
-- hours and practical_ratio are unscaled numeric so the table holds exactly what the event says
-- (a scale would round 0.4999 up to the 0.5 that 004 §2.3 demands).
CREATE TABLE IF NOT EXISTS projects (
    id                  uuid PRIMARY KEY,
    code                text NOT NULL UNIQUE,
    name                text NOT NULL,
    level               text NOT NULL CHECK (level IN ('national', 'provincial', 'municipal', 'county', 'school')),
    category            text NOT NULL,
    year                integer NOT NULL,
    host_id             uuid REFERENCES hosts (id),
    organizer_code      text NOT NULL REFERENCES orgs (code),
    hours               numeric NOT NULL CHECK (hours > 0),
    hour_category       text NOT NULL,
    starts_on           date NOT NULL,
    ends_on             date NOT NULL,
    cross_year          boolean NOT NULL DEFAULT false,
    first_year_ends_on  date,              -- cross-year projects: end of the first year's training
    practical_ratio     numeric NOT NULL CHECK (practical_ratio BETWEEN 0 AND 1),
    modules             jsonb NOT NULL DEFAULT '[]'::jsonb,
    status              text NOT NULL,     -- drafted, plan_submitted, approved, open, started, closed, cancelled
    plan_submitted_on   date,
    approved_on         date,
    opened_on           date,
    started_on          date,
    closed_on           date,
    cancelled_on        date,
    cancel_reason       text,
    version             integer NOT NULL,  -- the project stream's version: the ETag
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projects_year_level ON projects (year, level);
CREATE INDEX IF NOT EXISTS projects_starts ON projects (starts_on, id);
CREATE INDEX IF NOT EXISTS projects_host ON projects (host_id);
CREATE INDEX IF NOT EXISTS projects_organizer ON projects (organizer_code text_pattern_ops);

-- A region's places in a project. `used` moves in the nominating transaction; the row lock
-- and the CHECK make "at most `places` nominations" race-free. Re-allocation never touches
-- `used` and may not go below it (guarded upsert in the projector).
CREATE TABLE IF NOT EXISTS project_quotas (
    project_id   uuid NOT NULL REFERENCES projects (id),
    region_code  text NOT NULL REFERENCES orgs (code),
    places       integer NOT NULL CHECK (places >= 0),
    used         integer NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= places),
    PRIMARY KEY (project_id, region_code)
);
CREATE INDEX IF NOT EXISTS project_quotas_region ON project_quotas (region_code text_pattern_ops);

CREATE TABLE IF NOT EXISTS bulletins (            -- 简报
    project_id    uuid NOT NULL REFERENCES projects (id),
    issue_no      integer NOT NULL CHECK (issue_no >= 1),
    title         text NOT NULL,
    published_on  date NOT NULL,
    PRIMARY KEY (project_id, issue_no)
);
