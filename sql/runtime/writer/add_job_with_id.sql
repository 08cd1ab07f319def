-- add_job with jobmon.wait_for_commit off: $4 is the job_id the caller already took
-- from the sequence (and returned).
INSERT INTO @extschema@.job_log (job_id, owner, job_name, start_time, pid)
VALUES ($4, current_user, pg_catalog.upper($1), $3, $2)
RETURNING job_id
