CREATE TABLE IF NOT EXISTS projects (
    id               uuid PRIMARY KEY,
    code             text NOT NULL UNIQUE,
    name             text NOT NULL,
    level            text NOT NULL CHECK (level IN ('national', 'provincial', 'municipal', 'county', 'school')),
    category         text NOT NULL,
    year             integer NOT NULL,
    host_id          uuid REFERENCES hosts (id),
    organizer_code   text NOT NULL REFERENCES orgs (code),
    hours            numeric(6, 1) NOT NULL,
    hour_category    text NOT NULL,
    starts_on        date NOT NULL,
    ends_on          date NOT NULL,
    cross_year       boolean NOT NULL DEFAULT false,
    practical_ratio  numeric(4, 3) NOT NULL,
    modules          jsonb NOT NULL DEFAULT '[]'::jsonb,
    status           text NOT NULL,     -- drafted, plan_submitted, approved, open, started, closed, cancelled
    version          integer NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projects_year_level ON projects (year, level);

-- A region's places in a project. `used` moves in the nominating transaction; the row lock
-- and the CHECK make "at most `places` nominations" race-free.
CREATE TABLE IF NOT EXISTS project_quotas (
    project_id   uuid NOT NULL REFERENCES projects (id),
    region_code  text NOT NULL REFERENCES orgs (code),
    places       integer NOT NULL CHECK (places >= 0),
    used         integer NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= places),
    PRIMARY KEY (project_id, region_code)
);

CREATE TABLE IF NOT EXISTS bulletins (            -- 简报
    project_id    uuid NOT NULL REFERENCES projects (id),
    issue_no      integer NOT NULL,
    title         text NOT NULL,
    published_on  date NOT NULL,
    PRIMARY KEY (project_id, issue_no)
);
