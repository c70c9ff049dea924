"""Batch grading for instructors (see grader.batch.cli)."""
