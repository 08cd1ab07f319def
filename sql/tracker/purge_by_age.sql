-- One batch of the age purge of source $1 (global.retention): the next $5 messages after
-- key ($2, $3) in storing order. Of those stored before $4, the ones that are not in a run
-- the rule engine still reads are deleted: job_events.sql reads each job's three latest
-- runs (by job name, of one owner or of all), so runs with fewer than three later runs of
-- the same job and owner keep their messages. Returns the window's size, how many of it
-- were stored at or after $4 (then the rest of the source is newer: storing order is time
-- order), how many went, and the window's last key.
WITH w AS (
    SELECT m.generation, m.queue_id, m.stored_at, m.job_id
      FROM @extschema@.tracker_message m
     WHERE m.source = $1
       AND (m.generation, m.queue_id) > ($2, $3)
     ORDER BY m.generation, m.queue_id
     LIMIT $5
), doomed AS (
    SELECT w.generation, w.queue_id
      FROM w
     WHERE w.stored_at < $4
       AND NOT EXISTS (
            SELECT 1
              FROM @extschema@.job_log l
             WHERE l.job_id = w.job_id
               AND (SELECT pg_catalog.count(*)
                      FROM (SELECT 1
                              FROM @extschema@.job_log n
                             WHERE n.job_name = l.job_name
                               AND n.owner = l.owner
                               AND n.start_time > l.start_time
                               AND n.status IS DISTINCT FROM 'DELAYED'
                             LIMIT 3) later) < 3)
), deleted AS (
    DELETE FROM @extschema@.tracker_message m
     USING doomed d
     WHERE m.source = $1 AND m.generation = d.generation AND m.queue_id = d.queue_id
    RETURNING 1
)
SELECT (SELECT pg_catalog.count(*) FROM w) AS scanned,
       (SELECT pg_catalog.count(*) FROM w WHERE w.stored_at >= $4) AS newer,
       (SELECT pg_catalog.count(*) FROM deleted) AS deleted,
       last.generation, last.queue_id
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (SELECT w.generation, w.queue_id
                       FROM w
                      ORDER BY w.generation DESC, w.queue_id DESC
                      LIMIT 1) AS last ON true
