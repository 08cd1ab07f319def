-- The open run (if any) of each of the jobs $1 that source $2 owns, with its error steps.
SELECT DISTINCT ON (l.job_name)
       l.job_name,
       l.job_id,
       (SELECT count(*)::integer
          FROM @extschema@.job_detail d
         WHERE d.job_id = l.job_id AND d.status = 'CRITICAL')
  FROM @extschema@.job_log l
 WHERE l.job_name = ANY ($1)
   AND l.owner = $2
   AND l.end_time IS NULL
 ORDER BY l.job_name, l.job_id DESC
