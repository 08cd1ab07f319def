-- One batch of the purge of messages whose run is gone (deleted while the job_log trigger
-- did not fire, or before pg_jobmon 2.1.0 added it): the next $2 messages by run after run
-- $1; the messages of those of their runs that job_log no longer has are deleted. Returns
-- the window's size, its last run and how many went.
WITH w AS (
    SELECT m.job_id
      FROM @extschema@.tracker_message m
     WHERE m.job_id > $1
     ORDER BY m.job_id
     LIMIT $2
), gone AS (
    SELECT DISTINCT w.job_id
      FROM w
     WHERE NOT EXISTS (SELECT 1 FROM @extschema@.job_log l WHERE l.job_id = w.job_id)
), deleted AS (
    DELETE FROM @extschema@.tracker_message m
     WHERE m.job_id = ANY (ARRAY(SELECT g.job_id FROM gone g))
    RETURNING 1
)
SELECT (SELECT pg_catalog.count(*) FROM w) AS scanned,
       (SELECT pg_catalog.max(w.job_id) FROM w) AS last_job_id,
       (SELECT pg_catalog.count(*) FROM deleted) AS deleted
