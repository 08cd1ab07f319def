-- The job and instance of each run $1 as its first stored message spells them (job_log
-- holds the name upper-cased).
SELECT DISTINCT ON (m.job_id) m.job_id, m.job, m.instance
  FROM @extschema@.tracker_message m
 WHERE m.job_id = ANY ($1)
 ORDER BY m.job_id, m.queued_at, m.queue_id
