"""pyproject.toml dependencies: PEP 621, Poetry, PDM, uv and PEP 735 dependency groups.

Why: a service that ``pip install .``s declares its dependencies here, not in requirements.txt. TOML parsers
do not report positions, so each requirement's line is found by searching the text after its table header;
evidence and edits need that line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from deadweight import safetoml
from deadweight.errors import ParseError
from deadweight.model.project import DeclaredRequirement
from deadweight.project.files import read_text
from deadweight.project.requirements import LogicalLine, ignores_of, parse_requirement_text


@dataclass
class PyprojectResult:
    path: str
    name: str | None = None  # canonical project name
    requirements: list[DeclaredRequirement] = field(default_factory=list)  # main dependencies
    optional: list[DeclaredRequirement] = field(default_factory=list)  # extras, groups, dev (group set)
    scripts: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Locator:
    """Finds the physical line of a dependency entry below a TOML table header."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def header(self, table: str) -> int:
        """0-based index of ``[table]`` (or the parent table when the key is inline), -1 when absent."""
        keys = r"\s*\.\s*".join(_quoted_key(p) for p in table.split("."))
        pattern = re.compile(r"^\s*\[\s*" + keys + r"\s*\]")
        for i, line in enumerate(self.lines):
            if pattern.match(line):
                return i
        if "." in table:
            return self.header(table.rsplit(".", 1)[0])
        return -1

    def find_string(self, table: str, value: str, key: str | None = None) -> int:
        """The line of ``"value"`` in the array at ``key`` of ``table`` (from the table header when the key's
        line is not found: a dotted or inline key)."""
        start = max(self.header(table), 0)
        if key is not None:
            at = self.find_key(table, key)
            start = at - 1 if at else start
        for quote in ('"', "'"):
            needle = quote + value + quote
            for i in range(start, len(self.lines)):
                if needle in self.lines[i]:
                    return i + 1
        return 0

    def find_key(self, table: str, key: str) -> int:
        start = self.header(table)
        if start < 0:
            return 0
        pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for i in range(start + 1, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return 0

    def text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


def _quoted_key(part: str) -> str:
    return r"[\"']?" + re.escape(part) + r"[\"']?"


def parse_pyproject_file(path: str | Path) -> PyprojectResult:
    p = Path(path)
    return parse_pyproject(read_text(p, "pyproject.toml"), str(p))


def parse_pyproject(text: str, path: str = "pyproject.toml") -> PyprojectResult:
    """Dependencies of every flavour; a malformed file raises ParseError naming file:line."""
    try:
        data = safetoml.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise ParseError(f"{path}:{line}: invalid TOML: {str(exc).split(' (at')[0]}") from None
    res = PyprojectResult(path)
    loc = _Locator(text)
    project = _table(data, "project")
    tool = _table(data, "tool")
    poetry = _table(tool, "poetry")
    name = project.get("name") or poetry.get("name")
    res.name = canonicalize_name(name) if isinstance(name, str) else None
    _pep621(project, loc, res)
    _poetry(poetry, loc, res)
    pdm_dev = _table(_table(tool, "pdm"), "dev-dependencies")
    for group, items in pdm_dev.items():
        table = "tool.pdm.dev-dependencies"
        _strings(items, table, origin="pdm", group=group, loc=loc, res=res, into=res.optional, key=group)
    uv = _table(tool, "uv")
    if "dev-dependencies" in uv:
        items = uv["dev-dependencies"]
        _strings(items, "tool.uv", origin="uv", group="dev", loc=loc, res=res, into=res.optional,
                 key="dev-dependencies")
    for group, entries in _table(data, "dependency-groups").items():
        # {include-group = ...} entries are references to other groups, read on their own
        items = [i for i in entries if isinstance(i, str)] if isinstance(entries, list) else entries
        origin = "dependency-groups"
        _strings(items, origin, origin=origin, group=group, loc=loc, res=res, into=res.optional, key=group)
    return res


def _line_from_message(message: str) -> int:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else 1


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _pep621(project: dict[str, Any], loc: _Locator, res: PyprojectResult) -> None:
    deps = project.get("dependencies", [])
    _strings(deps, "project", origin="pyproject", group=None, loc=loc, res=res, into=res.requirements,
             key="dependencies")
    for extra, items in _table(project, "optional-dependencies").items():
        table = "project.optional-dependencies"
        _strings(items, table, origin="pyproject", group=extra, loc=loc, res=res, into=res.optional, key=extra)
    for name, target in _table(project, "scripts").items():
        if isinstance(target, str):
            res.scripts[name] = target
    for name, target in _table(project, "gui-scripts").items():
        if isinstance(target, str):
            res.scripts[name] = target


def _strings(
    items: object,
    table: str,
    *,
    origin: str,
    group: str | None,
    loc: _Locator,
    res: PyprojectResult,
    into: list[DeclaredRequirement],
    key: str | None = None,
) -> None:
    if not isinstance(items, list):
        where = f"{table}.{key}" if origin == "pdm" else table  # a PDM group is its own table to the reader
        res.warnings.append(f"{res.path}: [{where}] dependencies is not a list")
        return
    for item in items:
        if not isinstance(item, str):
            continue
        line = loc.find_string(table, item, key)
        ll = LogicalLine(item, item, line, line, tuple(ignores_of(loc.text(line))))
        req = parse_requirement_text(item, res.path, ll, origin)
        if req is None:
            res.warnings.append(f"{res.path}:{line}: cannot parse requirement {item!r}")
            continue
        into.append(_with_group(req, group))


def _with_group(req: DeclaredRequirement, group: str | None) -> DeclaredRequirement:
    if group is None:
        return req
    return replace(req, group=group)


def _poetry(poetry: dict[str, Any], loc: _Locator, res: PyprojectResult) -> None:
    _poetry_table(_table(poetry, "dependencies"), "tool.poetry.dependencies", None, loc, res)
    _poetry_table(_table(poetry, "dev-dependencies"), "tool.poetry.dev-dependencies", "dev", loc, res)
    for group, body in _table(poetry, "group").items():
        if isinstance(body, dict):
            deps = _table(body, "dependencies")
            _poetry_table(deps, f"tool.poetry.group.{group}.dependencies", group, loc, res)
    for name, target in _table(poetry, "scripts").items():
        if isinstance(target, str):
            res.scripts[name] = target
        elif isinstance(target, dict) and isinstance(target.get("callable"), str):
            res.scripts[name] = target["callable"]


def _poetry_table(
    deps: dict[str, Any], table: str, group: str | None, loc: _Locator, res: PyprojectResult
) -> None:
    for key, spec in deps.items():
        if key.lower() == "python":
            continue
        line = loc.find_key(table, key)
        raw = loc.text(line).strip() if line else f"{key} = {spec!r}"
        ignores = tuple(ignores_of(loc.text(line)))
        specs = spec if isinstance(spec, list) else [spec]
        first = specs[0] if specs else "*"
        constraint, marker, url = "", None, None
        extras: tuple[str, ...] = ()
        optional = False
        if isinstance(first, str):
            constraint = poetry_to_pep440(first)
        elif isinstance(first, dict):
            constraint = poetry_to_pep440(str(first.get("version", "*")))
            extras = tuple(sorted(str(e) for e in first.get("extras", [])))
            marker = first.get("markers") if isinstance(first.get("markers"), str) else None
            for kind in ("git", "url", "path", "file"):
                if isinstance(first.get(kind), str):
                    url = str(first[kind])
            optional = bool(first.get("optional", False))
        req_group = group if group is not None else ("optional" if optional else None)
        target = res.optional if req_group is not None else res.requirements
        target.append(
            DeclaredRequirement(
                name=canonicalize_name(key),
                specifier=constraint,
                extras=extras,
                marker=marker,
                source_file=res.path,
                line=line,
                raw=raw,
                ignores=ignores,
                origin="poetry",
                url=url,
                editable=isinstance(first, dict) and bool(first.get("develop", False)),
                group=req_group,
                end_line=line,
            )
        )


def poetry_to_pep440(constraint: str) -> str:
    """Poetry's ``^``/``~``/wildcard/bare-version constraints as a PEP 440 specifier string."""
    if re.search(r"\d{100}", constraint):
        return constraint  # no version has a 100-digit number: kept as written, the requirement parser refuses it
    out: list[str] = []
    for piece in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", constraint.strip()):
        part = piece.strip()
        if not part or part == "*":
            continue
        if "||" in part:
            return constraint  # alternatives have no PEP 440 equivalent; keep as written
        if part.startswith("^"):
            out.append(_caret(part[1:].strip()))
        elif part.startswith("~") and not part.startswith("~="):
            out.append(_tilde(part[1:].strip()))
        elif (part.endswith(".*") and part[0] not in "<>=!~") or re.match(r"^\d", part):
            out.append("==" + part)
        else:
            out.append(part)
    return ",".join(out)


def _nums(version: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", version.split("-", maxsplit=1)[0])[:3]]


def _caret(version: str) -> str:
    nums = _nums(version)
    if not nums:
        return ""
    for idx, value in enumerate(nums):
        if value != 0 or idx == len(nums) - 1:
            upper = nums[: idx + 1]
            upper[-1] += 1
            break
    upper += [0] * (len(nums) - len(upper))
    return f">={version},<{'.'.join(map(str, upper))}"


def _tilde(version: str) -> str:
    nums = _nums(version)
    if not nums:
        return ""
    upper = [nums[0] + 1] if len(nums) == 1 else [nums[0], nums[1] + 1]
    return f">={version},<{'.'.join(map(str, upper))}"
