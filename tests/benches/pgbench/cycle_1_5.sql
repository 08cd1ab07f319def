SELECT bench.add_job_1_5('bench cycle') AS j \gset
SELECT bench.add_step_returning_1_5(:j, 'bench step') AS s \gset
SELECT bench.update_step_1_5(:s, 'OK', 'done');
SELECT bench.close_job_1_5(:j);
