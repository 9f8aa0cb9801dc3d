-- The last FundingAssessed recorded per org and year (services/funding/projector/assessments.py),
-- kept in the transaction that appends it. `version` is the assessment stream's version: the
-- expected version of the next append (handlers/assess.py), and `assessment` the event's data,
-- which a fresh judgement is compared with so that an unchanged verdict is never published twice.
-- Rebuilt from the FundingAssessed events like every inline table.

CREATE TABLE IF NOT EXISTS funding_assessments (
    org_code    text    NOT NULL,
    year        integer NOT NULL,
    version     integer NOT NULL,
    assessment  jsonb   NOT NULL,
    PRIMARY KEY (org_code, year)
);
