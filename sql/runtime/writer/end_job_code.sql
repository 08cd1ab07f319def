-- close_job / fail_job at the time of the call ($3): the status text of alert code $2.
-- No row comes back when either the job or the code is missing.
UPDATE @extschema@.job_log AS l
   SET end_time = $3,
       status = t.alert_text
  FROM @extschema@.job_status_text AS t
 WHERE l.job_id = $1
   AND t.alert_code = $2
RETURNING l.job_id
