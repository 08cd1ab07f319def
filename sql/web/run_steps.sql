-- The steps of run $1 as show_detail(job_id) returns them, in step order.
SELECT d.step_id, d.action, d.start_time, d.end_time, d.elapsed_time, d.status, d.message
  FROM @extschema@.job_detail d
 WHERE d.job_id = $1::bigint
 ORDER BY d.step_id
