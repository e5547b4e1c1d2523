"""pattern_probe: complexity and maintainability, and the mistake learner."""
