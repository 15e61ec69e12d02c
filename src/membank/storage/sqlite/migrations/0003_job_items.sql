-- What became of each input item of a job (a batch import's memories), written in the transaction of the
-- chunk it belongs to and paged by GET /api/v1/jobs/{id}/items, so a job's result stays small at any size.
CREATE TABLE job_items (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    memory_id TEXT,
    reason TEXT,
    error TEXT,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
