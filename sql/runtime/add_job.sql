-- add_job(p_job_name): runs in the background session under the caller's role, so
-- current_user is the owner to record; $2 is the caller's pg_backend_pid().
INSERT INTO @extschema@.job_log (owner, job_name, start_time, pid)
VALUES (current_user, pg_catalog.upper($1), pg_catalog.now(), $2)
RETURNING job_id
