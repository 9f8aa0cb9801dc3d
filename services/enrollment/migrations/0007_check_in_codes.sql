-- Issue 15: check-in codes (扫码报到) redeemed, per enrollment: a re-sent scan of the same code is
-- refused `code_replayed` (domain/enrollment.decide_check_in). Written from TeacherCheckedIn's
-- code_nonce by the guards (guards.py), so a rebuild restores it.
CREATE TABLE IF NOT EXISTS check_in_codes_used (
    nonce          text NOT NULL,
    enrollment_id  uuid NOT NULL,
    PRIMARY KEY (nonce, enrollment_id)
);
