-- Read model of the kernel tests' projection: per stream, how many events and their sum.
CREATE TABLE IF NOT EXISTS tally (
    projection text    NOT NULL,
    stream_id  text    NOT NULL,
    events     integer NOT NULL,
    total      bigint  NOT NULL,
    seen       uuid[]  NOT NULL DEFAULT '{}',
    PRIMARY KEY (projection, stream_id)
);
