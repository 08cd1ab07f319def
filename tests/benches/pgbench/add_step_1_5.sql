SELECT bench.add_step_1_5(1, 'bench step');
