"""Stage 2, the world around the model: scenario clock and run, timeline events, traffic, delayed labels."""
