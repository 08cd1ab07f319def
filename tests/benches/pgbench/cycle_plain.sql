INSERT INTO jobmon.job_log (owner, job_name, start_time, pid)
VALUES (current_user, 'BENCH CYCLE', now(), pg_backend_pid()) RETURNING job_id AS j \gset
INSERT INTO jobmon.job_detail (job_id, action, start_time)
VALUES (:j, 'bench step', now()) RETURNING step_id AS s \gset
UPDATE jobmon.job_detail
   SET end_time = now(), elapsed_time = date_part('epoch', now() - start_time)::real,
       status = 'OK', message = 'done'
 WHERE step_id = :s;
UPDATE jobmon.job_log SET end_time = now(), status = 'OK' WHERE job_id = :j;
