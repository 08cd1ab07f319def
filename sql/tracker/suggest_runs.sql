-- `config suggest`'s input: every run started since $1, by job and start time. tracked: the
-- tracker stored it (pid 0, owner the source). The tracker's marks of DELAYED jobs (closed
-- runs of their own) are no runs and are left out.
SELECT l.job_name, l.owner, l.pid = 0 AS tracked, l.job_id, l.start_time, l.end_time, l.status
  FROM @extschema@.job_log l
 WHERE l.start_time >= $1
   AND NOT (l.pid = 0 AND l.status IS NOT DISTINCT FROM 'DELAYED')
 ORDER BY l.job_name, l.start_time, l.job_id
