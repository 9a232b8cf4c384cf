"""Stage 1, the scenario: its schema, data generators, drift engine, rows by day and the answer key."""
