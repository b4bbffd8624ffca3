"""Lock files (uv.lock, poetry.lock, pdm.lock, PEP 751 pylock.toml): name and version of each package.

Why: DW501 pins to the version the image really has, and a lock file tells which versions the project meant;
the usage rules also need to know that a locked-but-undeclared package is transitive, not forgotten.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from deadweight import safetoml
from deadweight.errors import ParseError
from deadweight.model.project import LockedPackage
from deadweight.project.files import read_text

LOCK_FILE_NAMES = ("uv.lock", "poetry.lock", "pylock.toml", "pdm.lock")


def find_lock_files(directory: str | Path) -> list[Path]:
    """Lock files directly in ``directory`` (pylock.<name>.toml included), sorted by name."""
    d = Path(directory)
    found = [d / name for name in LOCK_FILE_NAMES if (d / name).is_file()]
    found.extend(sorted(p for p in d.glob("pylock.*.toml") if p.is_file()))
    return found


def parse_lock_file(path: str | Path) -> list[LockedPackage]:
    """Packages of one lock file; malformed TOML raises ParseError naming file:line."""
    p = Path(path)
    return parse_lock_text(read_text(p, "lock file"), str(p))


def parse_lock_text(text: str, path: str) -> list[LockedPackage]:
    try:
        data = safetoml.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"{path}:{getattr(exc, 'lineno', 1)}: invalid TOML lock file") from None
    # uv.lock / poetry.lock / pdm.lock use [[package]]; PEP 751 uses [[packages]]
    entries = data.get("packages") if "packages" in data else data.get("package")
    if not isinstance(entries, list):
        return []
    out: list[LockedPackage] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        version = entry.get("version")
        version_text = str(version) if version is not None else ""
        out.append(
            LockedPackage(
                name=canonicalize_name(entry["name"]),
                version=version_text + _local_label(entry, version_text),
                source_file=path,
                source=_source_of(entry),
            )
        )
    return sorted(out, key=lambda p: (p.name, p.version))


def _local_label(entry: dict[str, Any], version: str) -> str:
    """pdm.lock writes ``version = "2.13.0"`` for ``2.13.0+cpu`` and keeps the label only in the file names:
    the label every one of the entry's wheels carries (``torch-2.13.0+cpu-cp311-...whl``), or ""."""
    files = entry.get("files")
    if "+" in version or not version or not isinstance(files, list) or not files:
        return ""
    labels = set()
    for item in files:
        name = item.get("file") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.endswith(".whl"):
            return ""
        parts = name.split("-")
        if len(parts) < 5 or not parts[1].startswith(version + "+"):
            return ""
        labels.add(parts[1][len(version):])
    return labels.pop() if len(labels) == 1 else ""


def _source_of(entry: dict[str, Any]) -> str | None:
    source = entry.get("source")
    if isinstance(source, dict):
        for key in ("registry", "url", "git", "path", "editable", "directory", "virtual", "reference"):
            if isinstance(source.get(key), str):
                return f"{key}:{source[key]}"
        if isinstance(source.get("type"), str):
            return str(source["type"])
    for key in ("index", "vcs", "directory", "archive"):  # PEP 751
        value = entry.get(key)
        if isinstance(value, str):
            return f"{key}:{value}"
        if isinstance(value, dict) and isinstance(value.get("url") or value.get("path"), str):
            return f"{key}:{value.get('url') or value.get('path')}"
    return None
