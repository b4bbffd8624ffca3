"""The ways a fixer says no: ``FixRefused`` (cannot be made safely, exit 4) and ``FixSkipped`` (left alone
on purpose, by a setting the user can change: the row says how, and the exit code does not count it)."""

from __future__ import annotations

__all__ = ["FixRefused", "FixSkipped"]


class FixRefused(Exception):
    """This edit cannot be made safely; ``str(exc)`` is the one-line reason shown for the finding."""


class FixSkipped(FixRefused):
    """This edit is not made by choice (``--pin-pyproject`` not given): the finding's status is ``skipped``,
    not ``refused``. A subclass, so an editor that only knows ``FixRefused`` still stops on it."""
