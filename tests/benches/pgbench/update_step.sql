\set s random(1, 100000)
SELECT jobmon.update_step(:s, 'OK', 'done');
