-- Query tables of the enrollment service, kept in the same transaction as the events that
-- change them (so the owner reads its own writes). The event store stays the record.

CREATE TABLE IF NOT EXISTS orgs (
    code         text PRIMARY KEY,          -- GB/T 2260 code, or a school code under a county
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('province', 'city', 'county', 'school')),
    parent_code  text REFERENCES orgs (code),
    version      integer NOT NULL
);
CREATE INDEX IF NOT EXISTS orgs_parent ON orgs (parent_code);

CREATE TABLE IF NOT EXISTS hosts (                 -- 承办单位
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    province_code  text NOT NULL,
    version        integer NOT NULL
);

-- Projected from TeacherRegistered: work facts only, so a rebuild from the event store (which
-- never holds personal data) restores it completely.
CREATE TABLE IF NOT EXISTS teachers (
    id               uuid PRIMARY KEY,
    school_code      text NOT NULL REFERENCES orgs (code),
    subject          text,
    stage            text,
    title            text,
    hired_on         date,
    registered_at    timestamptz NOT NULL DEFAULT now(),
    version          integer NOT NULL
);
CREATE INDEX IF NOT EXISTS teachers_school ON teachers (school_code);

-- The roster's personal data (DESIGN.md: national ID numbers stay in the enrollment service,
-- encrypted or hashed). Not a projection: events must not carry these fields, so this table is
-- their system of record, written by the registering command in the same transaction as the
-- event. The number is never stored in clear: a keyed hash (HMAC-SHA256) for uniqueness and
-- look-ups, AES-GCM ciphertext for the rare lawful need, the masked form for display.
-- No foreign key to `teachers` on purpose: that projection may be truncated and replayed, and a
-- TRUNCATE ... CASCADE must never reach the one table no event can restore.
CREATE TABLE IF NOT EXISTS teacher_identities (
    teacher_id          uuid PRIMARY KEY,
    name                text NOT NULL,
    national_id_hash    bytea NOT NULL,
    national_id_enc     bytea NOT NULL,
    national_id_masked  text NOT NULL,
    birth_date          date NOT NULL,
    CONSTRAINT teacher_identities_national_id UNIQUE (national_id_hash)
);
