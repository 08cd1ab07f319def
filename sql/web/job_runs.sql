-- A job's runs, newest first, one page: $1 job name, $2 page size, $3 offset. Backward
-- along the (job_name, start_time) index; the error count is a probe of job_detail's job_id
-- index per run (steps that ended in a status other than OK).
SELECT l.job_id, l.start_time, l.end_time, l.status, l.owner,
       (SELECT count(*) FROM @extschema@.job_detail d
         WHERE d.job_id = l.job_id
           AND d.status IS NOT NULL AND d.status NOT IN ('OK', 'RUNNING')) AS errors
  FROM @extschema@.job_log l
 WHERE l.job_name = $1::text
 ORDER BY l.start_time DESC, l.job_id DESC
 LIMIT $2::bigint OFFSET $3::bigint
