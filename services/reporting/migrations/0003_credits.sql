-- Reporting's copy of what credit compliance needs: teachers' schools (enrollment stream),
-- credit-hour policy versions and each teacher's active hours per school year (credits stream).

CREATE TABLE IF NOT EXISTS teachers (
    teacher_id   uuid PRIMARY KEY,
    school_code  text NOT NULL,
    hired_on     date
);
CREATE INDEX IF NOT EXISTS teachers_school ON teachers (school_code);

CREATE TABLE IF NOT EXISTS credit_policies (
    jurisdiction_code  text    NOT NULL,
    effective_from     date    NOT NULL,
    annual_hours       numeric,
    cycle_hours        numeric,
    cycle_years        integer NOT NULL,
    school_year_start  text    NOT NULL DEFAULT '09-01',  -- MM-DD
    category_minimums  jsonb   NOT NULL DEFAULT '{}'::jsonb,  -- category → hours per school year
    PRIMARY KEY (jurisdiction_code, effective_from)
);

-- Active hours (tenths of an hour) per teacher and school year: awards and approved claims add,
-- revocations subtract.
CREATE TABLE IF NOT EXISTS credit_years (
    teacher_id    uuid    NOT NULL,
    school_year   integer NOT NULL,
    hours_tenths  bigint  NOT NULL DEFAULT 0,
    by_category   jsonb   NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (teacher_id, school_year)
);
