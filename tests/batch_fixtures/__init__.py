"""Generators of synthetic classes for the batch grading tests and benchmark."""
