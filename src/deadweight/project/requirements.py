"""requirements*.txt parsing with pip's semantics, keeping file:line of every requirement.

Why our own reader: rules cite the exact line (evidence), fixers edit that line, and users silence a line with
``# deadweight: ignore[DW201]``; pip's parser drops all of that. Semantics follow pip's ``req_file.py``:
continuations, comments, ``${VAR}`` expansion, ``-r``/``-c`` includes relative to the including file.
A line we cannot read becomes a warning naming file:line; the rest of the file still counts.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from deadweight import safetoml
from deadweight.infile import read_bounded_text
from deadweight.model.project import DeclaredRequirement, RequirementsOption
from deadweight.project.files import unreadable_reason
from deadweight.project.shellwords import shell_split

_IGNORE_RE = re.compile(r"#\s*deadweight:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)
_ENV_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_EGG_RE = re.compile(r"[#&]egg=([^&\s]+)")
_WHEEL_RE = re.compile(r"^([^-]+)-([^-]+)(-\d[^-]*)?-([^-]+)-([^-]+)-([^-]+)\.whl$")
_SDIST_RE = re.compile(r"^(.+?)-(\d[^-]*)\.(tar\.gz|zip|tar\.bz2)$")

#: Requirements files read for one top-level file (``-r``/``-c`` included): real projects have a handful; a
#: chain of hundreds is hostile input, and following it would exhaust the stack.
MAX_FILES = 100
#: A version number with this many digits is no version (Python refuses to turn 4300 digits into an int).
_ABSURD_NUMBER_RE = re.compile(r"\d{100}")

_GLOBAL_VALUE_OPTS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--trusted-host": "--trusted-host",
    "--no-binary": "--no-binary",
    "--only-binary": "--only-binary",
    "--use-feature": "--use-feature",
}
_GLOBAL_BARE_OPTS = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
_PER_REQ_OPTS = ("--hash", "--config-settings", "--global-option", "--install-option", "-C")


@dataclass
class RequirementsResult:
    """Everything read from one requirements file and the files it includes."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    constraints: list[DeclaredRequirement] = field(default_factory=list)
    options: list[RequirementsOption] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file read, in order
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LogicalLine:
    text: str  # continuations joined, comments removed, env expanded
    raw: str  # continuations joined, as written (comments removed)
    line: int  # first physical line, 1-based
    end_line: int
    ignores: tuple[str, ...]


def parse_requirements_file(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    origin: str = "requirements",
) -> RequirementsResult:
    """Parse a requirements file and its ``-r``/``-c`` includes (cycle-safe)."""
    result = RequirementsResult()
    _parse_into(Path(path), env if env is not None else os.environ, origin, result, set(), constraint=False)
    return result


def _parse_into(
    path: Path,
    env: Mapping[str, str],
    origin: str,
    result: RequirementsResult,
    seen: set[Path],
    *,
    constraint: bool,
    included_from: str | None = None,
) -> None:
    where = included_from or str(path)
    try:
        key = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop, a NUL byte, a name too long
        result.warnings.append(f"{where}: cannot read requirements file {_quoted(str(path))}: {exc}")
        return
    if key in seen:
        return
    if len(seen) >= MAX_FILES:
        result.warnings.append(f"{where}: more than {MAX_FILES} requirements files included: {path} and the files "
                               "it includes are not read")
        return
    seen.add(key)
    refused = unreadable_reason(path)
    if refused is not None:
        result.warnings.append(f"{where}: cannot read requirements file {path}: {refused}")
        return
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        result.warnings.append(f"{where}: cannot read requirements file {path}: {exc.strerror or exc}")
        return
    result.files.append(str(path))
    for logical in logical_lines(text, env):
        _handle_line(
            logical, path, env=env, origin=origin, result=result, seen=seen, constraint=constraint
        )


def logical_lines(text: str, env: Mapping[str, str] | None = None) -> list[LogicalLine]:
    """Join ``\\`` continuations, drop comments (keeping deadweight ignores), expand ``${VAR}``."""
    env = env if env is not None else {}
    out: list[LogicalLine] = []
    physical = text.splitlines()
    i = 0
    while i < len(physical):
        start = i
        parts: list[str] = []
        ignores: list[str] = []
        while True:
            line = physical[i]
            ignores.extend(ignores_of(line))
            if parts and line.lstrip().startswith("#"):
                # a comment line inside a continuation ends the logical line (pip's join_lines)
                break
            stripped = strip_comment(line)
            if stripped.endswith("\\") and i + 1 < len(physical):
                parts.append(stripped[:-1])
                i += 1
                continue
            parts.append(stripped.rstrip("\\"))
            break
        raw = "".join(parts).strip()
        end = i
        i += 1
        if not raw:
            continue
        expanded = _ENV_RE.sub(lambda m: env.get(m.group(1), m.group(0)), raw)
        out.append(LogicalLine(expanded, raw, start + 1, end + 1, tuple(dict.fromkeys(ignores))))
    return out


def _quoted(raw: str, limit: int = 80) -> str:
    """A line for a warning: quoted, runs of whitespace shown as one space, cut at ``limit`` characters."""
    text = " ".join(raw.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def strip_comment(line: str) -> str:
    """``line`` without its comment: pip's ``(^|\\s+)#.*$``, in linear time (that regex backtracks
    quadratically on a line of 200,000 spaces that holds no ``#``)."""
    idx = line.find("#")
    while idx != -1:
        if idx == 0 or line[idx - 1].isspace():
            return line[:idx].rstrip()
        idx = line.find("#", idx + 1)
    return line


def ignores_of(line: str) -> list[str]:
    m = _IGNORE_RE.search(line)
    if not m:
        return []
    if m.group(1) is None:
        return ["*"]
    return [part.strip().upper() for part in m.group(1).split(",") if part.strip()]


def _handle_line(
    ll: LogicalLine,
    path: Path,
    *,
    env: Mapping[str, str],
    origin: str,
    result: RequirementsResult,
    seen: set[Path],
    constraint: bool,
) -> None:
    where = f"{path}:{ll.line}"
    text = ll.text
    if text.startswith("-") and not text.startswith(("-e", "--editable")):
        try:
            words = shell_split(text)
        except ValueError:
            result.warnings.append(f"{where}: cannot parse option line {_quoted(ll.raw)}")
            return
        _handle_options(
            words, ll, path=path, env=env, origin=origin, result=result, seen=seen, where=where
        )
        return
    editable = False
    if text.startswith(("-e", "--editable")):
        editable = True
        text = re.sub(r"^(-e|--editable)(=|\s+)?", "", text).strip()
    req = parse_requirement_text(text, str(path), ll, origin, editable=editable, base_dir=path.parent)
    if req is None:
        result.warnings.append(f"{where}: cannot parse requirement {_quoted(ll.raw)}")
        return
    (result.constraints if constraint else result.requirements).append(req)


def _handle_options(
    words: list[str],
    ll: LogicalLine,
    *,
    path: Path,
    env: Mapping[str, str],
    origin: str,
    result: RequirementsResult,
    seen: set[Path],
    where: str,
) -> None:
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, value = word.partition("=")
        if not eq and len(word) > 2 and word[:2] in ("-r", "-c", "-i", "-f") and not word.startswith("--"):
            name, value, eq = word[:2], word[2:], "="
        if name in ("-r", "--requirement", "-c", "--constraint"):
            if not eq:
                value = words[i + 1] if i + 1 < len(words) else ""
                i += 1
            if not value:
                result.warnings.append(f"{where}: {name} without a file")
            else:
                target = _resolve_include(path, value)
                if target is None:
                    result.options.append(RequirementsOption(name, value, str(path), ll.line))
                else:
                    _parse_into(
                        target,
                        env,
                        origin,
                        result,
                        seen,
                        constraint=name in ("-c", "--constraint"),
                        included_from=where,
                    )
        elif name in _GLOBAL_VALUE_OPTS:
            if not eq:
                value = words[i + 1] if i + 1 < len(words) else ""
                i += 1
            result.options.append(RequirementsOption(_GLOBAL_VALUE_OPTS[name], value, str(path), ll.line))
        elif name in _GLOBAL_BARE_OPTS:
            result.options.append(RequirementsOption(name, "", str(path), ll.line))
        else:
            result.warnings.append(f"{where}: unknown option {name}")
            return
        i += 1


def _resolve_include(path: Path, value: str) -> Path | None:
    """Includes are relative to the including file; URLs are not fetched (None)."""
    if "://" in value:
        return None
    target = Path(value)
    return target if target.is_absolute() else path.parent / target


def parse_requirement_text(
    text: str,
    source_file: str,
    ll: LogicalLine | None = None,
    origin: str = "requirements",
    *,
    editable: bool = False,
    base_dir: Path | None = None,
) -> DeclaredRequirement | None:
    """One requirement (PEP 508, URL, VCS, path, wheel file) with per-requirement options removed."""
    spec = text
    for opt in _PER_REQ_OPTS:
        idx = _find_option(spec, opt)
        if idx >= 0:
            spec = spec[:idx]
    spec = spec.strip()
    if not spec or _ABSURD_NUMBER_RE.search(spec):
        return None
    line = ll.line if ll else 0
    raw = ll.raw if ll else text
    ignores = ll.ignores if ll else ()
    end_line = ll.end_line if ll else 0
    name: str | None = None
    specifier = ""
    extras: tuple[str, ...] = ()
    marker: str | None = None
    url: str | None = None
    if _looks_like_url_or_path(spec):
        url_part, _, marker_part = spec.partition(" ;")
        if not marker_part:
            url_part, _, marker_part = spec.partition("; ")
        url = url_part.strip()
        marker = marker_part.strip() or None
        name = _name_from_url(url, base_dir)
        if name is None:
            name = ""  # a local project whose name we do not know (e.g. "-e ." without reading setup files)
        extras_m = re.search(r"\[([^\]]+)\]$", url.split("#")[0])
        if extras_m:
            extras = tuple(sorted(e.strip() for e in extras_m.group(1).split(",")))
    else:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            return None
        name = req.name
        specifier = str(req.specifier)
        extras = tuple(sorted(req.extras))
        marker = str(req.marker) if req.marker else None
        url = req.url
    return DeclaredRequirement(
        name=canonicalize_name(name) if name else "",
        specifier=specifier,
        extras=extras,
        marker=marker,
        source_file=source_file,
        line=line,
        raw=raw,
        ignores=ignores,
        origin=origin,
        url=url,
        editable=editable,
        end_line=end_line,
    )


def _find_option(spec: str, opt: str) -> int:
    m = re.search(r"(^|\s)" + re.escape(opt) + r"(=|\s)", spec)
    return m.start() if m else -1


def _looks_like_url_or_path(spec: str) -> bool:
    head = spec.split(";", maxsplit=1)[0].strip()
    if " @ " in head or re.match(r"^[A-Za-z0-9._-]+(\[[^\]]*\])?\s*@", head):
        return False  # PEP 508 direct reference: packaging parses it
    if "://" in head or head.startswith(("git+", "hg+", "svn+", "bzr+")):
        return True
    if head in (".", "..") or head.startswith(("./", "../", "/", "~", "file:")):
        return True
    return head.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2")) or "/" in head or "\\" in head


def _name_from_url(url: str, base_dir: Path | None) -> str | None:
    egg = _EGG_RE.search(url)
    if egg:
        return egg.group(1).split("[")[0]
    last = url.split("#", maxsplit=1)[0].split("?", maxsplit=1)[0].rstrip("/").rsplit("/", 1)[-1]
    wheel = _WHEEL_RE.match(last)
    if wheel:
        return wheel.group(1)
    sdist = _SDIST_RE.match(last)
    if sdist:
        return sdist.group(1)
    if base_dir is not None and "://" not in url:
        local = Path(os.path.expanduser(url.split("[", maxsplit=1)[0]))
        target = local if local.is_absolute() else base_dir / local
        return _local_project_name(target)
    return None


def _local_project_name(directory: Path) -> str | None:
    """The [project] name of a local directory install (``-e .``), when its pyproject says so."""
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = safetoml.loads(read_bounded_text(pyproject))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    project = data.get("project")
    if isinstance(project, dict) and isinstance(project.get("name"), str):
        return str(project["name"])
    poetry = safetoml.table_at(data, "tool", "poetry")
    if isinstance(poetry, dict) and isinstance(poetry.get("name"), str):
        return str(poetry["name"])
    return None
