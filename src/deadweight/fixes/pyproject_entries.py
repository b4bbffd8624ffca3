"""The dependency entries of a pyproject.toml with their spans: every table deadweight's parser reads
(PEP 621 dependencies and optional-dependencies, PEP 735 dependency-groups, uv and PDM dev groups, Poetry's
dependencies, dev-dependencies and groups), plus the entries that name a dependency elsewhere
(``[tool.poetry.extras]``, ``[tool.uv.sources]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from packaging.utils import canonicalize_name

from deadweight.fixes.pyproject_scan import Array, Header, InlineTable, KeyValue, Scanned, String, Value

__all__ = ["Entry", "container_of_declared", "dependency_entries", "extras_entries", "requirement_name",
           "source_entries"]

_NAME_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")

Path = tuple[str, ...]


@dataclass
class Entry:
    """One declaration: an array element (a requirement string), a Poetry ``key = value`` line or a Poetry
    ``[tool.poetry.dependencies.key]`` table."""

    kind: Literal["element", "key", "table"]
    container: Path  # the array's path, or the Poetry dependency table's path
    name: str  # canonical
    start: int  # offsets of the element token / the key / the header
    end: int  # end of the element token / the value / the table's last value
    array: Array | None = None
    index: int = -1
    string: String | None = None
    pair: KeyValue | None = None  # kind "key"
    header: Header | None = None  # kind "table"
    pairs: list[KeyValue] = field(default_factory=list)  # kind "table": its key/values

    @property
    def key(self) -> str:
        """The dependency's key as written in the TOML (Poetry), or the requirement string (arrays)."""
        if self.pair is not None:
            return self.pair.path[-1]
        if self.header is not None:
            return self.header.path[-1]
        return self.string.value if self.string else ""


def requirement_name(requirement: str) -> str | None:
    m = _NAME_RE.match(requirement)
    return canonicalize_name(m.group(1)) if m else None


def _is_array_container(path: Path) -> bool:
    match path:
        case ("project", "dependencies") | ("tool", "uv", "dev-dependencies"):
            return True
        case ("project", "optional-dependencies", _) | ("dependency-groups", _):
            return True
        case ("tool", "pdm", "dev-dependencies", _):
            return True
    return False


def _is_poetry_table(path: Path) -> bool:
    match path:
        case ("tool", "poetry", "dependencies") | ("tool", "poetry", "dev-dependencies"):
            return True
        case ("tool", "poetry", "group", _, "dependencies"):
            return True
    return False


def _flatten(path: Path, value: Value) -> Iterator[tuple[Path, Value]]:
    """The value at ``path`` and, through inline tables, every value below it."""
    yield path, value
    if isinstance(value, InlineTable):
        for sub in value.entries:
            yield from _flatten((*path, *sub.path), sub.value)


def _header_of(scanned: Scanned, pair: KeyValue) -> Header | None:
    found = None
    for header in scanned.headers:
        if header.start > pair.key_start:
            break
        found = header
    return found


def dependency_entries(scanned: Scanned) -> list[Entry]:
    """Every declaration in the tables the parser reads, in file order."""
    out: list[Entry] = []
    tables: dict[Path, Entry] = {}
    for pair in scanned.pairs:
        for path, value in _flatten(pair.path, pair.value):
            if _is_array_container(path) and isinstance(value, Array):
                for index, item in enumerate(value.items):
                    if isinstance(item, String):
                        name = requirement_name(item.value)
                        if name:
                            out.append(Entry("element", path, name, item.start, item.end, array=value, index=index,
                                             string=item))
        if _is_poetry_table(pair.path[:-1]) and pair.path[-1].lower() != "python":
            out.append(Entry("key", pair.path[:-1], canonicalize_name(pair.path[-1]), pair.key_start,
                             _end(pair.value), pair=pair))
        elif len(pair.path) > 2 and _is_poetry_table(pair.path[:-2]):
            header = _header_of(scanned, pair)
            if header is None or header.path != pair.path[:-1] or pair.dotted != 1:
                continue  # a dotted key (foo.version = ...) or inside an inline table: not an entry we edit
            entry = tables.get(header.path)
            if entry is None:
                entry = Entry("table", header.path[:-1], canonicalize_name(header.path[-1]), header.start,
                              _end(pair.value), header=header)
                tables[header.path] = entry
                out.append(entry)
            entry.pairs.append(pair)
            entry.end = _end(pair.value)
    return out


def extras_entries(scanned: Scanned, package: str) -> list[tuple[Path, Array, int]]:
    """``[tool.poetry.extras]`` elements naming ``package``: the extra's path, its array, the index."""
    out: list[tuple[Path, Array, int]] = []
    for pair in scanned.pairs:
        for path, value in _flatten(pair.path, pair.value):
            if len(path) == 4 and path[:3] == ("tool", "poetry", "extras") and isinstance(value, Array):
                for index, item in enumerate(value.items):
                    if isinstance(item, String) and requirement_name(item.value) == package:
                        out.append((path, value, index))
    return out


def source_entries(scanned: Scanned, package: str) -> tuple[list[KeyValue], list[Header]]:
    """``[tool.uv.sources]`` entries for ``package``: ``pkg = {...}`` lines and ``[tool.uv.sources.pkg]`` tables."""
    def named(path: Path) -> bool:
        return len(path) == 4 and path[:3] == ("tool", "uv", "sources") and canonicalize_name(path[3]) == package

    pairs = [p for p in scanned.pairs if named(p.path)]
    headers = [h for h in scanned.headers if named(h.path)]
    return pairs, headers


def _end(value: Value) -> int:
    return value.end


def container_of_declared(origin: str, group: str | None) -> list[Path]:
    """The containers a parsed requirement of ``origin``/``group`` can come from (project/pyproject.py)."""
    match origin, group:
        case "pyproject", None:
            return [("project", "dependencies")]
        case "pyproject", str(extra):
            return [("project", "optional-dependencies", extra)]
        case "dependency-groups", str(name):
            return [("dependency-groups", name)]
        case "uv", _:
            return [("tool", "uv", "dev-dependencies")]
        case "pdm", str(name):
            return [("tool", "pdm", "dev-dependencies", name)]
        case "poetry", None | "optional":
            return [("tool", "poetry", "dependencies")]
        case "poetry", "dev":
            return [("tool", "poetry", "dev-dependencies"), ("tool", "poetry", "group", "dev", "dependencies")]
        case "poetry", str(name):
            return [("tool", "poetry", "group", name, "dependencies")]
    return []
