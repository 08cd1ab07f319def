-- The rule engine's input: for each tracked job $1[i] (job_log name; only runs owned by
-- source $2[i] when that is not NULL) the messages of its three latest runs by start time,
-- at most $3 of them (the latest), oldest first; equal times in queue order. Rows carry the
-- job's position i and the message's source. Marker runs (status DELAYED) hold no messages
-- and are skipped.
SELECT j.ord::integer, e.queued_at, e.event, e.message, e.source
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS j(job_name, owner, ord)
 CROSS JOIN LATERAL (
        SELECT m.queued_at, m.event, m.message, m.source, m.generation, m.queue_id
          FROM (SELECT l.job_id
                  FROM @extschema@.job_log l
                 WHERE l.job_name = j.job_name
                   AND (j.owner IS NULL OR l.owner = j.owner)
                   AND l.status IS DISTINCT FROM 'DELAYED'
                 ORDER BY l.start_time DESC
                 LIMIT 3) r
          JOIN @extschema@.tracker_message m ON m.job_id = r.job_id
         ORDER BY m.queued_at DESC, m.source DESC, m.generation DESC, m.queue_id DESC
         LIMIT $3) e
 ORDER BY j.ord, e.queued_at, e.source, e.generation, e.queue_id
