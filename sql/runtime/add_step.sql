-- add_step(p_job_id, p_action); a missing job is reported by the foreign key.
INSERT INTO @extschema@.job_detail (job_id, action, start_time)
VALUES ($1, $2, pg_catalog.now())
RETURNING step_id
