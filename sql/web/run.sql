-- One run (job_log row) by its job_id.
SELECT l.job_id, l.start_time, l.end_time, l.status, l.owner, l.job_name, l.pid
  FROM @extschema@.job_log l
 WHERE l.job_id = $1::bigint
