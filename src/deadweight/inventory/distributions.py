"""Parse installed-distribution metadata: METADATA/PKG-INFO, RECORD, entry points, requires.txt.

Everything here works on bytes already captured from the image and never raises on bad input: a
broken file yields what could be read plus a problem string, so that a distribution with a lying or
malformed RECORD is still reported, with a warning that says what was wrong.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import HeaderParser

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from deadweight.model.image import Platform
from deadweight.model.inventory import EntryPoint, Requirement

_EXTRA_RE = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]""")
#: Extension-module suffixes: ``name.cpython-311-x86_64-linux-gnu.so``, ``name.abi3.so``, ``name.so``.
_EXT_SUFFIXES = (".so", ".pyd")
#: What importable code ends with: a module's source or an extension.
MODULE_SUFFIXES = (".py", *_EXT_SUFFIXES)
_MACHINES = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm": "armv7l",
    "386": "i686",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def decode(data: bytes) -> str:
    """Metadata is UTF-8 by spec; old tools wrote latin-1. Never fail on it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass(frozen=True)
class Metadata:
    """The core-metadata fields the inventory uses."""

    name: str | None
    version: str | None
    requires_dist: tuple[str, ...] = ()
    provides_extra: tuple[str, ...] = ()
    import_names: tuple[str, ...] = ()  # PEP 794 Import-Name (without "; private")
    import_namespaces: tuple[str, ...] = ()  # PEP 794 Import-Namespace


def parse_metadata(data: bytes) -> Metadata:
    """Parse METADATA or PKG-INFO (RFC 822 headers; the body is the description and is ignored)."""
    # the headers end at the first empty line: a long README body need not go through the parser
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    msg = HeaderParser().parsestr(decode(data[: min(ends) + 1] if ends else data), headersonly=True)

    def many(key: str) -> tuple[str, ...]:
        return tuple(str(v).strip() for v in (msg.get_all(key) or []) if str(v).strip())

    def one(key: str) -> str | None:
        value = msg.get(key)
        return str(value).strip() if value is not None and str(value).strip() else None

    return Metadata(
        name=one("Name"),
        version=one("Version"),
        requires_dist=many("Requires-Dist"),
        provides_extra=many("Provides-Extra"),
        import_names=tuple(v.partition(";")[0].strip() for v in many("Import-Name")),
        import_namespaces=tuple(v.partition(";")[0].strip() for v in many("Import-Namespace")),
    )


#: One RECORD row: the path as written (relative to the environment directory, or absolute) and the size
#: it claims, if any. A plain tuple: a CUDA torch image has 10^4-10^5 rows, and building a named tuple or
#: a dataclass per row was half of the parse.
RecordRow = tuple[str, int | None]


@dataclass
class RecordParse:
    rows: list[RecordRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_record(data: bytes) -> RecordParse:
    """Parse a RECORD (CSV: path, hash, size). Bad rows are skipped and counted as problems."""
    text = decode(data).replace("\x00", "")
    out = RecordParse()
    tally = [0, 0]  # malformed rows, bad sizes
    if '"' in text:
        try:
            for row in csv.reader(io.StringIO(text)):
                _add_record_row(out.rows, row, tally)
        except csv.Error as exc:
            out.problems.append(f"RECORD is not valid CSV ({exc}); read {len(out.rows)} rows before the error")
    else:
        # Without quotes a row is its line split on commas. The usual row (three cells, a path without
        # surrounding blanks, a size that is empty or digits) is taken inline, several times faster than
        # csv; any other line goes through ``_add_record_row``'s checks, with the same result.
        rows = out.rows
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        for line in text.split("\n"):
            path, _, rest = line.partition(",")
            _, comma, size_text = rest.partition(",")
            if comma and path and "," not in size_text and not path[0].isspace() and not path[-1].isspace():
                if not size_text:
                    rows.append((path, None))
                    continue
                if size_text.isdigit() and size_text.isascii():
                    rows.append((path, int(size_text)))
                    continue
            _add_record_row(rows, line.split(","), tally)
    if tally[0]:
        out.problems.append(f"RECORD has {tally[0]} malformed row(s) (expected path,hash,size)")
    if tally[1]:
        out.problems.append(f"RECORD has {tally[1]} row(s) with a non-numeric or negative size")
    return out


def _add_record_row(rows: list[RecordRow], row: list[str], tally: list[int]) -> None:
    """Any row, checked: blank rows skipped; malformed rows and bad sizes counted in ``tally``."""
    if not row or not any(cell.strip() for cell in row):
        return
    path = row[0].strip()
    if len(row) != 3 or not path:
        tally[0] += 1
        if not path:
            return
    size: int | None = None
    size_text = row[2].strip() if len(row) >= 3 else ""
    if size_text:
        try:
            size = int(size_text)
            if size < 0:
                raise ValueError(size_text)
        except ValueError:
            tally[1] += 1
            size = None
    rows.append((path, size))


def parse_lines(data: bytes) -> list[str]:
    """top_level.txt, installed-files.txt, SOURCES.txt: one entry per line."""
    return [line.strip() for line in decode(data).splitlines() if line.strip()]


def parse_entry_points(data: bytes) -> list[EntryPoint]:
    """entry_points.txt is INI-like; a small parser keeps names case-sensitive and tolerates junk."""
    out: list[EntryPoint] = []
    group: str | None = None
    for raw in decode(data).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            continue
        if group is None or "=" not in line:
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        if "[" in value:  # "module:attr [extra1,extra2]"
            value = value.partition("[")[0].strip()
        if name.strip() and value:
            out.append(EntryPoint(group, name.strip(), value))
    return sorted(set(out), key=lambda ep: (ep.group, ep.name, ep.value))


def parse_requires_txt(data: bytes) -> list[str]:
    """Turn an egg-info requires.txt into Requires-Dist strings (``[extra:marker]`` sections)."""
    out: list[str] = []
    extra = ""
    marker = ""
    for raw in decode(data).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            extra, marker = extra.strip(), marker.strip()
            continue
        parts = [f"({marker})"] if marker else []
        if extra:
            parts.append(f'extra == "{extra}"')
        out.append(f"{line}; {' and '.join(parts)}" if parts else line)
    return out


def marker_environment(python_version: str | None, platform: Platform) -> dict[str, str]:
    """The PEP 508 marker environment of an environment inside the image, not of this machine."""
    version = python_version or "3"
    parts = version.split(".")
    short = ".".join(parts[:2])
    full = ".".join(([*parts, "0", "0"])[:3])
    system = {"linux": "Linux", "windows": "Windows", "darwin": "Darwin"}.get(platform.os, platform.os)
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "nt" if platform.os == "windows" else "posix",
        "platform_machine": _MACHINES.get(platform.architecture, platform.architecture),
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": full,
        "platform_python_implementation": "CPython",
        "python_version": short,
        "sys_platform": "win32" if platform.os == "windows" else platform.os,
        "extra": "",
    }


@dataclass(frozen=True)
class ParsedRequirement:
    """A Requires-Dist entry, parsed once; evaluated later when the requested extras are known."""

    name: str  # canonical
    specifier: str
    extras: tuple[str, ...]
    marker: Marker | None
    extra: str | None  # the extra of the *declaring* distribution this belongs to


def parse_requirements(lines: tuple[str, ...] | list[str]) -> tuple[list[ParsedRequirement], list[str]]:
    out: list[ParsedRequirement] = []
    problems: list[str] = []
    for line in lines:
        parsed = _parse_requirement(line)
        if parsed is None:
            problems.append(f"unparseable Requires-Dist {line!r}")
        else:
            out.append(parsed)
    return out, problems


def _parse_requirement(line: str) -> ParsedRequirement | None:
    head, semicolon, marker_text = line.partition(";")
    name: str | None = None
    marker: Marker | None = None
    if semicolon and "@" not in head and marker_text.strip():
        # "name[extras] spec; marker": parse the marker once per distinct text (CUDA wheels repeat a few
        # dozen of them hundreds of times) and the head alone; anything unusual takes the whole-line parse
        head_parse = _simple_head(head)
        try:
            marker = _marker(marker_text.strip()) if head_parse is not None else None
        except InvalidMarker:
            head_parse = None
        if head_parse is not None:
            name, extras, specifier = head_parse
    elif not semicolon and "@" not in head and (head_parse := _simple_head(head)) is not None:
        name, extras, specifier = head_parse
    if name is None:
        try:
            req = PkgRequirement(line)
        except InvalidRequirement:
            return None
        name, extras, specifier, marker = req.name, tuple(req.extras), str(req.specifier), req.marker
    extra_match = _EXTRA_RE.search(str(marker)) if marker else None
    return ParsedRequirement(
        name=canonicalize_name(name),
        specifier=specifier,
        extras=tuple(sorted(canonicalize_name(e) for e in extras)),
        marker=marker,
        extra=canonicalize_name(extra_match.group(1)) if extra_match else None,
    )


_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_NAME_RE = re.compile(_NAME)
_HEAD_RE = re.compile(rf"\s*({_NAME})\s*(?:\[([^\[\]]*)\])?\s*(\()?([^()\[\];@]*?)(?(3)\))\s*")


def _simple_head(head: str) -> tuple[str, tuple[str, ...], str] | None:
    """``name[extras] specifier`` of a requirement without a URL or marker, as packaging would parse it.

    ``packaging.requirements.Requirement`` tokenizes the whole PEP 508 grammar (about 20 microseconds a
    line); the usual head is name, extras and a version specifier, and a specifier set parses several times
    faster on its own. None where the head is anything else: the caller then lets packaging decide.
    """
    match = _HEAD_RE.fullmatch(head)
    if match is None:
        return None
    extras_text = match.group(2)
    extras: tuple[str, ...] = ()
    if extras_text is not None:
        extras = tuple(e.strip() for e in extras_text.split(","))
        if extras == ("",):
            extras = ()
        elif not all(_NAME_RE.fullmatch(e) for e in extras):
            return None
    try:
        specifier = str(SpecifierSet(match.group(4)))
    except InvalidSpecifier:
        return None
    return match.group(1), extras, specifier


@functools.lru_cache(maxsize=4096)
def _marker(text: str) -> Marker:
    """Markers are immutable once parsed; evaluating one does not change it."""
    return Marker(text)


def marker_true(req: ParsedRequirement, env: dict[str, str], extra: str = "") -> bool:
    """Evaluate ``req.marker`` in ``env``; a marker that cannot be evaluated counts as false."""
    if req.marker is None:
        return True
    try:
        return bool(req.marker.evaluate({**env, "extra": extra}))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def evaluate(req: ParsedRequirement, env: dict[str, str], requested_extras: set[str]) -> Requirement:
    """The model's Requirement: active when its marker holds and its extra (if any) was requested."""
    if req.extra is None:
        active = marker_true(req, env)
    else:
        active = req.extra in requested_extras and marker_true(req, env, req.extra)
    return Requirement(
        name=req.name,
        specifier=req.specifier,
        extras=req.extras,
        marker=str(req.marker) if req.marker is not None else None,
        active=active,
        extra=req.extra,
    )


def module_names(rel_paths: Iterable[str]) -> set[str]:
    """Dotted module names of environment-relative files that are importable code (``.py``, extensions).

    A torch install has 10^4 files in a few hundred directories: whether a directory is an importable
    package path is decided once per directory, not once per file.
    """
    packages: dict[str, str | None] = {}  # directory -> its dotted name ("" at the top), None if not importable
    out: set[str] = set()
    for rel in rel_paths:
        if not rel.endswith(MODULE_SUFFIXES):
            continue
        head, _, base = rel.rpartition("/")
        stem = base[:-3] if base.endswith(".py") else base.partition(".")[0]
        if head in packages:
            dotted = packages[head]
        else:
            parts = head.split("/") if head else []
            importable = all(p.isidentifier() and p != "__pycache__" for p in parts)
            dotted = packages[head] = ".".join(parts) if importable else None
        if dotted is None:
            continue
        if stem == "__init__":
            if dotted:
                out.add(dotted)
        elif stem.isidentifier():
            out.add(f"{dotted}.{stem}" if dotted else stem)
    return out
