-- update_step(p_step_id, p_status, p_message) at the time of the call ($4):
-- elapsed_time in seconds, as 1.5.0.
UPDATE @extschema@.job_detail
   SET end_time = $4,
       elapsed_time = pg_catalog.date_part('epoch', $4 - start_time)::real,
       status = $2,
       message = $3
 WHERE step_id = $1
RETURNING step_id
