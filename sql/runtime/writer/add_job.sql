-- add_job in a writer process, under the caller's role (current_user is the owner);
-- $2 is the caller's pid, $3 the time of the call.
INSERT INTO @extschema@.job_log (owner, job_name, start_time, pid)
VALUES (current_user, pg_catalog.upper($1), $3, $2)
RETURNING job_id
