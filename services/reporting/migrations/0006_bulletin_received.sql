-- Issue 20: a bulletin's deadline is judged on the day enrollment received it (BulletinSubmitted
-- received_on), not on the date the host states; earlier events have only the stated date.
ALTER TABLE bulletins ADD COLUMN IF NOT EXISTS received_on date;
UPDATE bulletins SET received_on = published_on WHERE received_on IS NULL;
ALTER TABLE bulletins ALTER COLUMN received_on SET NOT NULL;
