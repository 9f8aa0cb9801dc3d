-- Issue 15: the host duties (bulletins, close-out, ranking weights) are enrollment policy data,
-- published with EnrollmentPolicyPublished; reporting keeps every version as published
-- (projector/directory.py) and judges under the one in force (domain/policy.py policy_for).
CREATE TABLE IF NOT EXISTS policies (
    jurisdiction_code  text    NOT NULL,
    version            integer NOT NULL,  -- the policy stream's version: a later one corrects an earlier
    effective_from     date    NOT NULL,
    body               jsonb   NOT NULL,  -- the event's data, as enrollment published it
    PRIMARY KEY (jurisdiction_code, version)
);
