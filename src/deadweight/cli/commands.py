"""Imports every command module so that each registers itself on the ``cli`` group."""

from deadweight.cli import (
    audit,  # noqa: F401
    guard,  # noqa: F401
    inspect,  # noqa: F401
)
