"""Copied-work report: which submissions of one exercise share code, renaming and formatting aside.

Rooms: ``fingerprint`` (tokens -> winnowed k-gram hashes, as MOSS), ``sources`` (each
student's file per exercise, found and read as text, never run), ``compare`` (pairs that
share fingerprints, through an inverted index), ``html`` (the report section),
``report`` (the library entry point and similarity.csv), ``cli`` (``grade similarity``).
"""
