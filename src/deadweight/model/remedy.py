"""Structured remedies: the edits that would remove a finding's dead weight, where the parsers saw the text.

A finding carries a tuple of edits; its hint string (``Finding.fix``) is rendered from them by ``describe``,
never parsed back. ``fixes/`` turns the edits into text changes, so every edit records the position the
project layer recorded: ``file`` (None when the project does not say where), the 1-based ``line`` and
``end_line`` of the logical line or instruction (0 when unknown) and ``original``, the text found there
(a requirement as written, a Dockerfile instruction), so an editor can check it still edits what was seen.
Frozen, no I/O, nothing of deadweight imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

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
