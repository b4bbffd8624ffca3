"""Imports every command module so that each registers itself on the ``cli`` group."""

from deadweight.cli import inspect  # noqa: F401
