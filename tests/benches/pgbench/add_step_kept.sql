SELECT bench.add_step_kept(1, 'bench step');
