SELECT jobmon.add_step(1, 'bench step');
