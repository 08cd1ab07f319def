-- add_step with jobmon.wait_for_commit off: $4 is the step_id the caller already took.
INSERT INTO @extschema@.job_detail (job_id, step_id, action, start_time)
VALUES ($1, $4, $2, $3)
RETURNING step_id
