-- _set_job_status(p_job_id, p_status) at the time of the call ($3).
UPDATE @extschema@.job_log
   SET end_time = $3,
       status = $2
 WHERE job_id = $1
RETURNING job_id
