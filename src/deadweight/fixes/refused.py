"""The one way a fixer says no."""

from __future__ import annotations

__all__ = ["FixRefused"]


class FixRefused(Exception):
    """This edit cannot be made safely; ``str(exc)`` is the one-line reason shown for the finding."""
