"""The serving layer: a BentoML service that follows MLflow's ``champion`` alias."""
