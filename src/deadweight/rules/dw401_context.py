"""DW401: the build context carries what the image does not need (a venv, .git, caches, data, notebooks).

Counted from what COPY/ADD really put into the final image after .dockerignore: the bytes of matching
files, measured on the image when there is one (claimed under the same ``file:`` keys as other rules),
from the context's file sizes otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.project import ShippedFile
from deadweight.model.remedy import AddDockerignore
from deadweight.rules.base import Rule, RuleContext
from deadweight.units import human_bytes

MIN_BYTES = 64 * 1024

#: (directory or file pattern, label, .dockerignore line). Directories match at any depth.
CLUTTER_DIRS = (
    (".venv", "virtualenv", "**/.venv"),
    ("venv", "virtualenv", "**/venv"),
    (".git", "git history", ".git"),
    ("__pycache__", "bytecode caches", "**/__pycache__"),
    (".mypy_cache", "tool caches", "**/.mypy_cache"),
    (".pytest_cache", "tool caches", "**/.pytest_cache"),
    (".ruff_cache", "tool caches", "**/.ruff_cache"),
    (".tox", "tool caches", ".tox"),
    ("node_modules", "node modules", "**/node_modules"),
    (".ipynb_checkpoints", "notebooks", "**/.ipynb_checkpoints"),
    ("notebooks", "notebooks", "notebooks"),
    ("data", "data", "data"),
    ("datasets", "data", "datasets"),
    (".cache", "caches", "**/.cache"),
    ("chroma", "vector-store cache", "**/chroma"),
    ("chroma_db", "vector-store cache", "**/chroma_db"),
    (".chroma", "vector-store cache", "**/.chroma"),
    ("wandb", "experiment logs", "wandb"),
    ("mlruns", "experiment logs", "mlruns"),
)
CLUTTER_SUFFIXES = ((".ipynb", "notebooks", "**/*.ipynb"), (".pyc", "bytecode caches", "**/*.pyc"))


def clutter_of(context_path: str) -> tuple[str, str] | None:
    """(label, .dockerignore line) when a shipped context file is clutter."""
    parts = context_path.split("/")
    for name, label, line in CLUTTER_DIRS:
        if name in parts[:-1] and (line.startswith("**/") or parts[0] == name):
            return label, line
    for suffix, label, line in CLUTTER_SUFFIXES:
        if context_path.endswith(suffix):
            return label, line
    return None


def _ignore_file(ctx: RuleContext) -> str | None:
    """The ignore file in effect, else the ``.dockerignore`` to create in the build context."""
    if ctx.service.dockerignore:
        return ctx.service.dockerignore
    return str(Path(ctx.service.context_dir) / ".dockerignore") if ctx.service.context_dir else None


class BuildContextClutter(Rule):
    id = "DW401"
    name = "BuildContextBloat"
    title = "Build context carries what the image doesn't need"
    severity = Severity.LOW
    description = "The build context sent to the engine contains virtualenvs, .git, caches, data or notebooks."
    fix = "List them in .dockerignore."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        groups: dict[tuple[str, str], list[ShippedFile]] = {}
        for item in ctx.shipped:
            if item.from_stage is None and (hit := clutter_of(item.context_path)) is not None:
                groups.setdefault(hit, []).append(item)
        tree = ctx.analysis.tree if ctx.analysis else None
        claims: dict[str, int] = {}
        evidence: list[Evidence] = []
        lines: list[str] = []
        for (label, line), files in sorted(groups.items(), key=lambda kv: -sum(f.size_bytes for f in kv[1])):
            size = 0
            for f in files:
                image_path = f.image_path.lstrip("/")
                node = tree.get(image_path) if tree is not None else None
                measured = node.size if node is not None else (0 if tree is not None else f.size_bytes)
                if measured:
                    claims[f"file:{image_path}"] = measured
                    size += measured
            if size:
                example = files[0]
                evidence.append(Evidence("context", f"{label}: {len(files)} files, {human_bytes(size)} "
                                         f"(e.g. {example.context_path} -> {example.image_path})",
                                         f"{ctx.service.dockerfile_path}:{example.line}" if example.line else None))
                lines.append(line)
        total = sum(claims.values())
        if total < MIN_BYTES:
            return []
        return [
            self.finding(
                ctx,
                title=f"Build context clutter shipped into the image ({human_bytes(total)})",
                savings_bytes=total,
                estimated=ctx.analysis is None,
                evidence=evidence,
                remedy=[AddDockerignore(tuple(dict.fromkeys(lines)), file=_ignore_file(ctx))],
                claims=claims,
            )
        ]
