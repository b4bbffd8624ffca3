"""Which editor a file needs, from its name: the same names the project loader reads files by."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

FileKind = Literal["requirements", "dockerfile", "pyproject", "compose", "dockerignore", "unknown"]

__all__ = ["FileKind", "file_kind"]


def file_kind(path: str | None) -> FileKind:
    if not path:
        return "unknown"
    name = PurePath(path).name
    lower = name.lower()
    if lower == ".dockerignore" or lower.endswith(".dockerignore"):
        return "dockerignore"
    if lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.", "containerfile.")) \
            or lower.endswith((".dockerfile", ".containerfile")):
        return "dockerfile"
    if lower == "pyproject.toml":
        return "pyproject"
    if lower.endswith((".yml", ".yaml")):
        return "compose"
    if lower.endswith((".txt", ".in")) or "requirements" in lower or "constraints" in lower:
        return "requirements"
    return "unknown"
