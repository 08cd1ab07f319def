INSERT INTO jobmon.job_detail (job_id, action, start_time) VALUES (1, 'bench step', now());
