-- _set_job_status(p_job_id, p_status): the status text was resolved by the caller
-- (e.g. from a user's config table).
UPDATE @extschema@.job_log
   SET end_time = pg_catalog.now(),
       status = $2
 WHERE job_id = $1
RETURNING job_id
