-- One batch of job_log_clear, committed on its own: deletes up to $3 of the oldest runs that
-- started at or after $4 (where the last batch ended) and at or before $1 (their job_detail
-- rows by the foreign key's cascade, their tracker messages by trigger), never run $2 (the
-- purge's own job); returns how many, and the start of the last one.
WITH doomed AS (
    SELECT l.job_id
      FROM @extschema@.job_log l
     WHERE l.start_time <= $1
       AND l.start_time >= $4
       AND l.job_id <> $2
     ORDER BY l.start_time
     LIMIT $3
), deleted AS (
    DELETE FROM @extschema@.job_log l
     USING doomed d
     WHERE l.job_id = d.job_id
    RETURNING l.start_time
)
SELECT pg_catalog.count(*), pg_catalog.max(deleted.start_time) FROM deleted
