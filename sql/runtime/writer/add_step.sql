-- add_step(p_job_id, p_action) at the time of the call ($3); a missing job is reported
-- by the foreign key.
INSERT INTO @extschema@.job_detail (job_id, action, start_time)
VALUES ($1, $2, $3)
RETURNING step_id
