"""Reference solutions and known-mistake variants. Never shipped in a student kit.

``<module>.py`` has the same interface as the stub in ``exercises/``; ``<module>_mistakes.py``
maps the name of a common mistake to replacements for some of those names, so a check can
tell a student which mistake their output matches. ``hidden/`` holds instructor-only checks.
"""
