"""Structured remedies: the edits that would remove a finding's dead weight, where the parsers saw the text.

A finding carries a tuple of edits; its hint string (``Finding.fix``) is rendered from them by ``describe``,
never parsed back. ``fixes/`` turns the edits into text changes, so every edit records the position the
project layer recorded: ``file`` (None when the project does not say where), the 1-based ``line`` and
``end_line`` of the logical line or instruction (0 when unknown) and ``original``, the text found there
(a requirement as written, a Dockerfile instruction), so an editor can check it still edits what was seen.
Frozen, no I/O, nothing of deadweight imported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "AddCleanup",
    "AddDockerignore",
    "AddInstallFlag",
    "Edit",
    "RemoveRequirement",
    "ReplaceBase",
    "ReplaceRequirement",
    "SetIndex",
    "SetMemoryLimit",
    "SplitBuilderStage",
    "describe",
    "describe_remedy",
    "edit_from_dict",
]

_MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class RemoveRequirement:
    """Drop ``package`` from the requirement (or install line) at ``file:line``."""

    kind: ClassVar[str] = "remove-requirement"
    package: str  # canonical name
    reason: str = ""  # why, when removing is not the obvious consequence of the finding
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""  # the requirement as written (logical line, continuations joined)


@dataclass(frozen=True, slots=True)
class ReplaceRequirement:
    """Change the requirement of ``package``: another project (``name``, keeping specifier, extras and marker)
    and/or another version specifier (``specifier``, e.g. ``==2.32.3``)."""

    kind: ClassVar[str] = "replace-requirement"
    package: str
    name: str | None = None
    specifier: str | None = None
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""


@dataclass(frozen=True, slots=True)
class SetIndex:
    """Install ``package`` (at ``version``) from ``index_url``: the requirement or install line at ``file:line``."""

    kind: ClassVar[str] = "set-index"
    package: str
    index_url: str
    version: str = ""
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""


@dataclass(frozen=True, slots=True)
class AddInstallFlag:
    """Add ``flag`` to the ``tool action`` command of the RUN instruction at ``file:line``..``end_line``."""

    kind: ClassVar[str] = "add-install-flag"
    tool: str  # "pip", "uv", "poetry", "apt-get", "apk"
    action: str  # "install", "add", ...
    flag: str  # "--no-cache-dir", "--no-install-recommends"
    env: str = ""  # an environment setting with the same effect ("PIP_NO_CACHE_DIR=1"), for the hint
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""  # the RUN instruction as written


@dataclass(frozen=True, slots=True)
class AddCleanup:
    """Append ``command`` (``&& command``) to the RUN instruction at ``file:line`` that runs ``tool``."""

    kind: ClassVar[str] = "add-cleanup"
    tool: str
    command: str  # "rm -rf /var/lib/apt/lists/*"
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""


@dataclass(frozen=True, slots=True)
class ReplaceBase:
    """Replace the base image ``old`` of the FROM instruction at ``file:line`` with ``new``. With ``builder``
    the old base stays for a builder stage that compiles, and only the final stage moves to ``new``."""

    kind: ClassVar[str] = "replace-base"
    old: str
    new: str
    builder: bool = False
    alternative: str | None = None  # a lighter base still, to test by hand (alpine)
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""


@dataclass(frozen=True, slots=True)
class AddDockerignore:
    """Add ``patterns`` to ``file``, the ignore file in effect (or the ``.dockerignore`` to create)."""

    kind: ClassVar[str] = "add-dockerignore"
    patterns: tuple[str, ...]
    file: str | None = None
    line: int = 0  # 0: append
    end_line: int = 0
    original: str = ""


@dataclass(frozen=True, slots=True)
class SplitBuilderStage:
    """Move the installs at ``install_lines`` (of ``packages``) into a builder stage and COPY only the results
    into the final stage, whose FROM instruction is at ``file:line``."""

    kind: ClassVar[str] = "split-builder-stage"
    packages: tuple[str, ...] = ()
    install_lines: tuple[int, ...] = ()
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""


@dataclass(frozen=True, slots=True)
class SetMemoryLimit:
    """Set the compose memory limit of ``service`` (at ``file:line``) to ``limit_bytes``."""

    kind: ClassVar[str] = "set-memory-limit"
    service: str
    limit_bytes: int
    current_bytes: int | None = None
    peak_bytes: int | None = None  # the observed peak the limit was computed from (peak x headroom)
    file: str | None = None
    line: int = 0
    end_line: int = 0
    original: str = ""


Edit = (
    RemoveRequirement | ReplaceRequirement | SetIndex | AddInstallFlag | AddCleanup | ReplaceBase | AddDockerignore
    | SplitBuilderStage | SetMemoryLimit
)


def _where(file: str | None, line: int) -> str:
    if file is None:
        return ""
    return f"{file}:{line}" if line else file


def describe(edit: Edit) -> str:
    """The one-line hint for one edit, as a finding's ``fix`` shows it."""
    match edit:
        case RemoveRequirement():
            where = _where(edit.file, edit.line)
            return f"Remove {edit.package}" + (f" from {where}" if where else "") + (
                f": {edit.reason}" if edit.reason else "") + "."
        case ReplaceRequirement():
            if edit.name:
                return f"Depend on {edit.name}{edit.specifier or ''} instead of {edit.package}."
            return f"Pin it: {edit.package}{edit.specifier or ''}"
        case SetIndex():
            version = f"=={edit.version}" if edit.version else ""
            return f"pip install {edit.package}{version} --index-url {edit.index_url}"
        case AddInstallFlag():
            alt = f" (or set {edit.env})" if edit.env else ""
            if edit.line:
                return f"Add {edit.flag} to the {edit.tool} {edit.action} in line {edit.line}{alt}."
            return f"Add {edit.flag} to {edit.tool} {edit.action}{alt}."
        case AddCleanup():
            where = f" in line {edit.line}" if edit.line else ""
            return f"End the {edit.tool} RUN{where} with: {edit.command}"
        case ReplaceBase():
            text = f"Use FROM {edit.new}" + (" for the final stage and compile in a builder stage." if edit.builder
                                             else ".")
            if edit.alternative:
                text += f" {edit.alternative} would also work and is smaller still (test it: musl is not glibc)."
            return text
        case AddDockerignore():
            return "Add to .dockerignore: " + ", ".join(edit.patterns)
        case SplitBuilderStage():
            return "Compile in a builder stage (FROM ... AS build) and COPY only the built wheels or venv."
        case SetMemoryLimit():
            verb = "Lower" if edit.current_bytes is not None and edit.limit_bytes < edit.current_bytes else "Raise"
            return f"{verb} mem_limit to {-(-edit.limit_bytes // _MIB)}m."


def describe_remedy(edits: Iterable[Edit]) -> str:
    """The hint of a whole remedy: each edit's line once, in order (three RUN lines missing the same flag
    read as one sentence when the sentence does not name the line)."""
    return " ".join(dict.fromkeys(describe(edit) for edit in edits))


_KINDS: dict[str, type[Edit]] = {
    cls.kind: cls for cls in (RemoveRequirement, ReplaceRequirement, SetIndex, AddInstallFlag, AddCleanup,
                              ReplaceBase, AddDockerignore, SplitBuilderStage, SetMemoryLimit)
}


def _value(kind: str, name: str, annotation: str, value: Any) -> Any:
    """``value`` checked against the field's annotation (the few shapes edits use); lists become tuples."""
    def wrong() -> ValueError:
        return ValueError(f"{kind} edit: {name} must be {annotation}, not {type(value).__name__}")

    if value is None:
        if "None" in annotation:
            return None
        raise wrong()
    base = annotation.replace(" | None", "")
    if base == "str":
        if not isinstance(value, str):
            raise wrong()
        return value
    if base in ("int", "bool"):
        # JSON true is not a line number, and 1 is not a flag
        if type(value) is not (int if base == "int" else bool):
            raise wrong()
        return value
    if base in ("tuple[str, ...]", "tuple[int, ...]"):
        item = str if "str" in base else int
        if not isinstance(value, list | tuple) or any(type(v) is not item for v in value):
            raise wrong()
        return tuple(value)
    raise wrong()  # pragma: no cover - a field type this reader does not know: add it above


def edit_from_dict(data: Mapping[str, Any]) -> Edit:
    """The edit an ``audit --format json`` ``remedy`` entry describes (``{"kind": ..., <fields>}``).

    The inverse of the JSON reporter's edit dict, for ``fix --from-report``. ``ValueError`` with a one-line
    reason for an unknown kind, an unknown or missing field, or a value of the wrong type: a report from
    another version or edited by hand is refused, never guessed at.
    """
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"unknown edit kind {kind!r} (known: {', '.join(sorted(_KINDS))})")
    cls = _KINDS[kind]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields) - {"kind"})
    if unknown:
        raise ValueError(f"{kind} edit: unknown field(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING:
                raise ValueError(f"{kind} edit: {name} is missing")
            continue
        values[name] = _value(kind, name, str(f.type), data[name])
    return cls(**values)
