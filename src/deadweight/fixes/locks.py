"""Lock files regenerated after an edit of pyproject.toml: ``uv lock``, ``poetry lock``, ``pdm lock``.

The tool runs in a scratch copy of the project holding the workspace's edited text, never in the user's
directory, and the new lock is read back into the workspace, so nothing on disk changes before the
transaction writes everything at once.
"""

from __future__ import annotations

from pathlib import Path

from deadweight.fixes.base import FixContext, FixRefused

__all__ = ["lock_file_of", "regenerate"]


def lock_file_of(project_dir: Path) -> Path | None:
    """The lock file next to ``pyproject.toml`` (uv.lock, poetry.lock, pdm.lock), if there is one."""
    for name in ("uv.lock", "poetry.lock", "pdm.lock"):
        if (project_dir / name).is_file():
            return project_dir / name
    return None


def regenerate(project_dir: Path, ctx: FixContext) -> None:
    """Regenerate the lock of the project at ``project_dir`` from the workspace's pyproject text.

    No lock file: nothing to do. ``ctx.settings.lock`` False (--no-lock): a note that the lock must be
    regenerated. The tool missing or failing: ``FixRefused`` naming it.
    """
    lock = lock_file_of(project_dir)
    if lock is None:
        return
    if not ctx.settings.lock:
        ctx.notes.append(f"{ctx.workspace.display(lock)} must be regenerated ({lock.name})")
        return
    raise FixRefused(f"regenerating {lock.name} is not implemented yet")
