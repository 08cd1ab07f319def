SELECT jobmon.add_job('bench cycle') AS j \gset
SELECT jobmon.add_step(:j, 'bench step') AS s \gset
SELECT jobmon.update_step(:s, 'OK', 'done');
SELECT jobmon.close_job(:j);
