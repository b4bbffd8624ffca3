"""verify: build before/after, compare the images, run checks in them, bisect a failing set of edits.

Runs containers, never edits the user's files (``pipeline/verify.py`` writes, once everything passed)."""
