-- Once the first version of tt_append_new (the first events of many streams in one round trip),
-- superseded by the lock-free one of the commit horizon (0005); a new database gets only that.
SELECT 1;
