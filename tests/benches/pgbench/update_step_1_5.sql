\set s random(1, 100000)
SELECT bench.update_step_1_5(:s, 'OK', 'done');
