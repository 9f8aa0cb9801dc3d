-- Issue 15: a no-show's place filled by a substitute nomination (缺额调整补充选派, 004 二(四)),
-- once: the guard's primary key is the backstop of domain/nomination.check_vacancy (guards.py).
CREATE TABLE IF NOT EXISTS vacancies_filled (
    enrollment_id  uuid PRIMARY KEY,  -- the no-show whose place was filled
    substitute_id  uuid NOT NULL      -- the substitute's enrollment
);
