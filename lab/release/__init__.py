"""Stage 3, the model's releases: recipes, training, the MLflow registry, promotion, rollback, shadow reports, alias audit."""
