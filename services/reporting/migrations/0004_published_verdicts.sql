-- Reporting stops judging credits and funding compliance itself (issue 14: one home per rule).
-- Credit compliance is asked of credits' published read model at query time (peers.py); funding's
-- verdicts arrive as FundingAssessed events and are kept as published, the latest per org and year.

DROP TABLE IF EXISTS credit_policies;
DROP TABLE IF EXISTS credit_years;
DROP TABLE IF EXISTS teachers;
DROP TABLE IF EXISTS fund_policies;
DROP TABLE IF EXISTS fund_accounts;

CREATE TABLE IF NOT EXISTS fund_assessments (
    org_code    text    NOT NULL,
    year        integer NOT NULL,
    version     integer NOT NULL,  -- the assessment stream's version: later replaces earlier
    assessment  jsonb   NOT NULL,  -- the FundingAssessed data, as funding published it
    PRIMARY KEY (org_code, year)
);
