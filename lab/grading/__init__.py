"""Grading: pure functions from evidence and a submission to scored, explained items."""
