"""Frozen data that flows between layers of the program; no I/O here."""
