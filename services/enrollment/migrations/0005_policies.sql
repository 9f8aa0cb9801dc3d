-- Issue 15: enrollment policy versions per jurisdiction (domain/policy.py), one row per
-- EnrollmentPolicyPublished (projector/policies.py); a later version of the same effective_from
-- corrects it. Read with the project's facts by every command that decides under a policy.
CREATE TABLE IF NOT EXISTS enrollment_policies (
    jurisdiction_code  text NOT NULL,
    version            integer NOT NULL,  -- the policy stream's version that published it
    effective_from     date NOT NULL,
    published_on       date NOT NULL,
    body               jsonb NOT NULL,
    PRIMARY KEY (jurisdiction_code, version)
);
CREATE INDEX IF NOT EXISTS enrollment_policies_province ON enrollment_policies (left(jurisdiction_code, 2));
