\set s random(1, 100000)
UPDATE jobmon.job_detail
   SET end_time = now(), elapsed_time = date_part('epoch', now() - start_time)::real,
       status = 'OK', message = 'done'
 WHERE step_id = :s;
