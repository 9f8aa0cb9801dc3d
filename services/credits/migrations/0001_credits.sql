-- Query tables of the credits service. The event store stays the record: every table here is
-- rebuilt from events (projector/rebuild.py). Hours are integer tenths of an hour.

-- Copies of enrollment's facts (IntakeProjection, from the ENROLLMENT stream): the org tree and
-- each teacher's school and hiring date. No names, no ID numbers: the events carry none.
CREATE TABLE IF NOT EXISTS org_tree (
    code         text PRIMARY KEY,
    kind         text NOT NULL,
    parent_code  text
);

CREATE TABLE IF NOT EXISTS teacher_schools (
    teacher_id   uuid PRIMARY KEY,
    school_code  text NOT NULL,
    hired_on     date
);
-- Subtree look-ups are prefix matches on GB/T 2260 codes.
CREATE INDEX IF NOT EXISTS teacher_schools_school ON teacher_schools (school_code text_pattern_ops);

-- Inline projector of our own events (projector/ledger.py).
CREATE TABLE IF NOT EXISTS policies (
    jurisdiction_code  text    NOT NULL,
    version            integer NOT NULL,            -- stream version: later corrects earlier
    effective_from     date    NOT NULL,
    published_on       date    NOT NULL,
    body               jsonb   NOT NULL,            -- the PolicyPublished data
    PRIMARY KEY (jurisdiction_code, version)
);

CREATE TABLE IF NOT EXISTS entries (
    entry_id       uuid PRIMARY KEY,
    teacher_id     uuid    NOT NULL,
    kind           text    NOT NULL CHECK (kind IN ('award', 'claim')),
    stream_id      text    NOT NULL,
    org_code       text,                            -- the teacher's school when recorded (scope checks)
    hours_tenths   integer NOT NULL CHECK (hours_tenths > 0),
    category       text    NOT NULL,
    earned_on      date    NOT NULL,
    school_year    integer NOT NULL,
    recorded_on    date    NOT NULL,
    source         jsonb   NOT NULL DEFAULT '{}'::jsonb,
    revoked_on     date,                            -- set by EntryRevoked; the row is never deleted
    revoke_reason  text
);
CREATE INDEX IF NOT EXISTS entries_teacher ON entries (teacher_id);

CREATE TABLE IF NOT EXISTS claims (
    claim_id       uuid PRIMARY KEY,
    teacher_id     uuid    NOT NULL,
    org_code       text,
    hours_tenths   integer NOT NULL,
    category       text    NOT NULL,
    source         text    NOT NULL,
    earned_on      date    NOT NULL,
    evidence       text    NOT NULL,
    school_year    integer NOT NULL,
    submitted_on   date    NOT NULL,
    status         text    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_on     date,
    reason         text,
    revoked        boolean NOT NULL DEFAULT false,
    version        integer NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_review ON claims (status, org_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS claims_teacher ON claims (teacher_id);

CREATE TABLE IF NOT EXISTS certificates (
    certificate_no     text PRIMARY KEY,
    teacher_id         uuid    NOT NULL,
    kind               text    NOT NULL CHECK (kind IN ('year', 'cycle')),
    start_year         integer NOT NULL,
    end_year           integer NOT NULL,
    label              text    NOT NULL,
    hours_tenths       integer NOT NULL,
    credits            numeric,
    target_tenths      integer NOT NULL,
    jurisdiction_code  text    NOT NULL,
    entry_ids          uuid[]  NOT NULL,
    issued_on          date    NOT NULL,
    credential         jsonb   NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_teacher ON certificates (teacher_id, kind, start_year);

-- ComplianceProjection (follows our own CREDITS stream): active hours per teacher and school
-- year, by category, for the per-org roll-ups. Incremental, exactly once by checkpoints.
CREATE TABLE IF NOT EXISTS teacher_years (
    teacher_id    uuid    NOT NULL,
    school_year   integer NOT NULL,
    hours_tenths  bigint  NOT NULL DEFAULT 0,
    by_category   jsonb   NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (teacher_id, school_year)
);
