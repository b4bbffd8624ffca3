"""Private helper of ``fixes/dockerignore.py``: what the build and the running image need from the context.

For every service whose build reads the ignore file: each COPY/ADD source of every stage (the Dockerfile
re-parsed from the workspace text, so the edits before this one count), the files the build reads (the
Dockerfile, the ignore files, requirements, constraints, pyproject, setup files and lock files), and every
path the code and settings name at run time (``dockerignore_refs``). A pattern that would exclude one of
them is not added.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deadweight.errors import ParseError
from deadweight.fixes.dockerignore_refs import references
from deadweight.fixes.refused import FixRefused
from deadweight.fixes.workspace import Workspace
from deadweight.model.project import Dockerfile, Service, ShippedFile
from deadweight.project.context import ContextIndex
from deadweight.project.dockerfile import copy_sources_and_dest, parse_dockerfile
from deadweight.project.dockerignore import IgnoreMatcher, Pattern, compile_pattern

__all__ = ["BUILD_FILES", "Needs", "collect_needs"]

#: files at the context root the build reads when they are there
BUILD_FILES = (
    "pyproject.toml", "setup.py", "setup.cfg", "poetry.lock", "uv.lock", "pdm.lock", "Pipfile", "Pipfile.lock",
    "requirements.txt", "constraints.txt", ".dockerignore", "MANIFEST.in",
)  # fmt: skip


@dataclass
class Needs:
    """Context paths that must stay in the context, each with the reason."""

    paths: dict[str, str] = field(default_factory=dict)  # path -> why ("COPY ... (Dockerfile:7) names it")
    code_files: set[str] = field(default_factory=set)  # shipped code and settings files, for the reference scan
    shipped: list[ShippedFile] = field(default_factory=list)
    workdirs: set[str] = field(default_factory=set)
    words: dict[str, str] = field(default_factory=dict)
    literals: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # per code file, read once

    def add(self, path: str, why: str) -> None:
        path = posixpath.normpath(path).removeprefix("./")
        if path not in (".", "") and not path.startswith("../"):
            self.paths.setdefault(path, why)


def _rel(path: str | None, context: Path) -> str | None:
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(context).as_posix()
    except ValueError:
        return None


def _dockerfile(workspace: Workspace, service: Service) -> Dockerfile:
    path = service.dockerfile_path
    if not path:
        raise FixRefused(f"service {service.name} has no Dockerfile to check the patterns against")
    text = workspace.text(path)
    try:
        return parse_dockerfile(text, str(path), service.build_args)
    except ParseError as exc:
        raise FixRefused(f"cannot re-read the Dockerfile: {exc}") from None


def _glob(pattern: str, listing: Iterable[str]) -> list[str]:
    pat = Pattern(pattern, False, 0)
    try:
        compile_pattern(pat)
    except ParseError:
        return []
    depth = pattern.count("/")
    return [p for p in listing if p.count("/") == depth and pat.matches(p)]


def collect_needs(workspace: Workspace, services: Iterable[Service], context: Path, index: ContextIndex) -> Needs:
    """What ``services`` (sharing one context and ignore file) need of the context."""
    needs = Needs()
    listing = [*index.files, *index.dirs]
    for name in BUILD_FILES:
        if name in index.files:
            needs.add(name, "the build reads it")
    for service in services:
        dockerfile = _dockerfile(workspace, service)
        rel = _rel(service.dockerfile_path, context)
        if rel:
            needs.add(rel, "it is the Dockerfile")
            needs.add(rel + ".dockerignore", "it is an ignore file")
        for req in service.requirements:
            if (r := _rel(req.source_file, context)) is not None:
                needs.add(r, f"the build reads it (it declares {req.name})")
        for lock in service.locked:
            if (r := _rel(lock.source_file, context)) is not None:
                needs.add(r, "the build reads it (a lock file)")
        for stage in dockerfile.stages:
            values = {**stage.args, **stage.env}
            for ins in stage.instructions:
                if ins.keyword not in ("COPY", "ADD") or ins.flag("from") is not None:
                    continue
                sources, _dest = copy_sources_and_dest(ins, dockerfile.escape, values)
                where = f"{ins.keyword} {' '.join(sources)} ({Path(dockerfile.path).name}:{ins.start_line})"
                for source in sources:
                    if "://" in source:
                        continue
                    clean = posixpath.normpath("/" + source).lstrip("/") or "."
                    if clean == ".":
                        continue
                    if any(c in clean for c in "*?["):
                        for match in _glob(clean, listing):
                            needs.add(match, f"{where} copies it")
                    else:
                        needs.add(clean, f"{where} names it")
            for ins in stage.of("RUN"):
                for word in ins.flag_values("mount"):
                    for part in word.split(","):
                        key, _, value = part.partition("=")
                        if key in ("source", "src") and "from=" not in word:
                            needs.add(value, f"RUN --mount ({Path(dockerfile.path).name}:{ins.start_line}) reads it")
        final = dockerfile.final_stage(service.build_target)
        needs.workdirs.add(final.workdir)
        needs.shipped.extend(service.shipped)
        needs.code_files.update(f.context_path for f in service.shipped)
        for key, value in {**final.env, **service.environment}.items():
            needs.words[f"{service.name}: environment {key}"] = value
        for label, command in (("command", service.command), ("entrypoint", service.entrypoint),
                               ("CMD", final.cmd.argv if final.cmd else None),
                               ("ENTRYPOINT", final.entrypoint.argv if final.entrypoint else None)):
            if command:
                needs.words[f"{service.name}: {label}"] = command if isinstance(command, str) else " ".join(command)
    return needs


def runtime_needs(needs: Needs, context: Path, index: ContextIndex, kept: IgnoreMatcher) -> dict[str, str]:
    """Paths the code and settings still shipped (not excluded by ``kept``) name, with where."""
    files = [f for f in sorted(needs.code_files) if not kept.excluded(f)]
    out: dict[str, str] = {}
    listing = [*index.files, *index.dirs]
    for workdir in sorted(needs.workdirs) or ["/"]:
        for ref in references(context_dir=context, files=files, listing=listing, shipped=needs.shipped,
                              workdir=workdir, words=needs.words, cache=needs.literals):
            out.setdefault(ref.path, f"{ref.where} names {ref.text}")
    return out
