"""Private helpers of ``fixes/compose.py``: where a scalar's text is, where a mapping's block ends, the unit
style of a memory figure, and deadweight's own compose parser run on workspace text.

ruamel.yaml is used to *find* things (the line and column it recorded for a key or value) and to re-read the
result; the edit itself is text: one scalar replaced in its line, or whole lines inserted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from deadweight.errors import ParseError
from deadweight.fixes.refused import FixRefused
from deadweight.project import compose as compose_parser
from deadweight.project.compose import ComposeService, read_dotenv

__all__ = [
    "Scalar",
    "format_like",
    "load",
    "own_keys",
    "parse_services",
    "plain",
    "project_values",
    "scalar_at",
]

# line breaks str.splitlines() knows and YAML does not (or the reverse: a lone CR): line numbers would disagree
_ODD_BREAKS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]|\r(?!\n)")
_STYLE_RE = re.compile(r"^(\d+(?:\.\d+)?)( *)([kmgtpKMGTP]?)([iI]?)([bB]?)$")
_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_MIB = 1 << 20


def load(text: str, display: str) -> Any:
    """The round-trip document (positions recorded); ``FixRefused`` when it cannot be read safely."""
    if _ODD_BREAKS.search(text):
        raise FixRefused(f"{display} has line breaks other than LF and CRLF: line positions would be unsure")
    try:
        return YAML(typ="rt").load(text)
    except (YAMLError, RecursionError, ValueError) as exc:
        raise FixRefused(f"{display} is not valid YAML ({str(exc).splitlines()[0] if str(exc) else 'error'})") \
            from None


def own_keys(node: Any) -> list[Any]:
    """The keys written in this mapping itself, in order (not those a ``<<:`` merge brings)."""
    own = getattr(node, "_ok", None)
    return [k for k in node if own is None or k in own]


def plain(node: Any) -> Any:
    """A round-trip node as plain Python (merged keys included), for comparing documents."""
    if isinstance(node, Mapping):
        return {plain(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


@dataclass(frozen=True)
class Scalar:
    """A one-line scalar as written: 0-based ``line``, columns ``start``..``end`` (quotes included)."""

    line: int
    start: int
    end: int
    quote: str  # "", "'" or '"'
    content: str  # between the quotes

    def raw(self, content: str) -> str:
        return f"{self.quote}{content}{self.quote}"


def scalar_at(lines: list[str], line: int, col: int, *, flow: bool, what: str) -> Scalar:
    """The scalar ruamel recorded at ``line``/``col``; ``FixRefused`` for forms a one-token edit cannot make
    safely (block scalars, aliases, tags, escapes, multi-line quotes)."""
    if not 0 <= line < len(lines):
        raise FixRefused(f"{what}: position outside the file")
    text = lines[line].rstrip("\r\n")
    first = text[col:col + 1]
    if first in ('"', "'"):
        end = _closing_quote(text, col)
        if end < 0:
            raise FixRefused(f"{what} is a quoted scalar over several lines: edit it by hand")
        content = text[col + 1:end]
        if "\\" in content or (first == "'" and "''" in content):
            raise FixRefused(f"{what} has escapes in its quotes: edit it by hand")
        return Scalar(line, col, end + 1, first, content)
    if not first or first in "|>&*!{[#":
        kinds = {"|": "a block scalar", ">": "a block scalar", "&": "anchored", "*": "an alias (shared)",
                 "!": "tagged", "{": "a mapping", "[": "a list", "#": "empty"}
        raise FixRefused(f"{what} is {kinds.get(first, 'empty')}: edit it by hand")
    stop = re.compile(r".*?(?=\s+#|\s*[,\]\}]|\s*$)" if flow else r".*?(?=\s+#|\s*$)")
    match = stop.match(text, col)
    content = match.group(0) if match else ""
    if not content:
        raise FixRefused(f"{what} is empty")
    return Scalar(line, col, col + len(content), "", content)


def _closing_quote(text: str, col: int) -> int:
    quote = text[col]
    i = col + 1
    while i < len(text):
        ch = text[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and text[i + 1:i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


def format_like(model: str, target: int) -> str:
    """``target`` bytes in the unit style of ``model`` (``1g`` -> ``2g``, ``512M`` -> ``768M``,
    ``536870912`` -> bytes): the same suffix case, ``i``/``b``; ``m`` when not a whole number of that unit."""
    match = _STYLE_RE.match(model.strip())
    if match is None:
        raise FixRefused(f"cannot tell the unit style of {model!r}")
    _number, space, unit, binary, byte = match.groups()
    mult = _MULT[unit.lower()]
    if target % mult == 0:
        return f"{target // mult}{space}{unit}{binary}{byte}"
    if target % _MIB:
        return str(target)
    return f"{target // _MIB}{space}{'M' if unit.isupper() else 'm'}{binary}{byte}"


def project_values(compose_path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The interpolation values the project parser uses: ``.env`` beside the file, then the environment."""
    return {**read_dotenv(compose_path.parent / ".env"), **(os.environ if environ is None else environ)}


def parse_services(doc: Any, path: Path, values: Mapping[str, str]) -> dict[str, ComposeService]:
    """deadweight's own compose parser (``project/compose.py``) on a document already read, service by service.

    The same per-service reading ``parse_compose_file`` does (extends, interpolation, both limit forms), on the
    workspace text rather than the disk.
    """
    if not isinstance(doc, Mapping):
        raise FixRefused(f"{path.name} is not a mapping")
    services = doc.get("services")
    if not isinstance(services, Mapping):
        raise FixRefused(f"{path.name} has no services mapping")
    out: dict[str, ComposeService] = {}
    for name in services:
        try:
            out[str(name)] = compose_parser.parse_service(path, str(name), services, values)
        except ParseError as exc:  # pragma: no cover - _service keeps its errors per service
            raise FixRefused(str(exc)) from None
    return out


def iter_scalars(node: Any) -> Iterator[Any]:
    """Every scalar value below ``node``."""
    if isinstance(node, Mapping):
        for value in node.values():
            yield from iter_scalars(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_scalars(value)
    else:
        yield node
