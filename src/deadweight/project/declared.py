"""What a service declares: the requirements its Dockerfile's install commands point at.

Why: the rules compare what a service *declares* with what its image holds. That is the requirement
files its RUN lines reference (``-r``, found back in the build context through COPY, bind mounts and
WORKDIR), the pyproject of a project it installs (``pip install .``, ``uv sync``, ``poetry install``,
with the optional groups each tool pulls in by default) and packages named in RUN lines; only when the
Dockerfile references none of these, requirements.txt / pyproject.toml at the context root.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from deadweight.errors import ParseError
from deadweight.model.project import (
    DeclaredRequirement,
    Dockerfile,
    InstallCommand,
    RequirementsOption,
    ShippedFile,
    Stage,
)
from deadweight.project.context import ContextIndex, instruction_workdirs, stage_files
from deadweight.project.pyproject import PyprojectResult, parse_pyproject_file
from deadweight.project.requirements import parse_requirement_text, parse_requirements_file

_PY_TOOLS = frozenset({"pip", "uv", "poetry", "pdm"})


@dataclass
class Declared:
    """What one service declares, gathered while reading its install commands (or the context root)."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    options: list[RequirementsOption] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)
    pyprojects: list[Path] = field(default_factory=list)
    project_name: str | None = None
    referenced: bool = False  # the Dockerfile pointed at requirement files or the project itself


def mount_options(spec: str) -> dict[str, str]:
    """``type=bind,source=x,target=/y`` (a ``RUN --mount`` value) as lower-case keys to values."""
    out: dict[str, str] = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        out[key.strip().lower()] = value.strip()
    return out


def declared_from_installs(
    dockerfile: Dockerfile,
    installs: list[InstallCommand],
    index: ContextIndex,
    context_dir: Path,
    env: Mapping[str, str],
) -> Declared:
    """Requirement files, installed projects and named packages of the Python installers in ``installs``."""
    declared = Declared()
    memo: dict[int, list[ShippedFile]] = {}
    workdirs = {s.index: instruction_workdirs(dockerfile, s) for s in dockerfile.stages}
    run_by_line = {i.start_line: i for s in dockerfile.stages for i in s.instructions if i.keyword == "RUN"}
    for inst in installs:
        if inst.tool not in _PY_TOOLS:
            continue
        stage = dockerfile.stages[inst.stage_index]
        workdir = workdirs[stage.index].get(inst.line, stage.workdir)
        ins = run_by_line.get(inst.line)
        mounts = [mount_options(m) for m in ins.flag_values("mount")] if ins else []
        where = f"{dockerfile.path}:{inst.line}"
        resolver = _Resolver(dockerfile, stage, index, context_dir, memo, mounts, workdir)
        for req_file in inst.requirement_files:
            if not req_file or "://" in req_file:
                continue
            declared.referenced = True
            found = resolver.find(req_file)
            if found is None:
                declared.warnings.append(f"{where}: requirement file {req_file} not found in the build context")
                continue
            result = parse_requirements_file(found, env)
            declared.requirements.extend(result.requirements)
            declared.options.extend(result.options)
            declared.warnings.extend(result.warnings)
        if inst.local_paths or inst.tool in ("poetry", "pdm") or (inst.tool == "uv" and inst.action == "sync"):
            targets = list(dict.fromkeys(inst.local_paths)) or ["."]
            for local in targets:
                base = local.split("[", 1)[0]
                extras = _extras_of(local)
                if base.endswith((".whl", ".tar.gz", ".zip")) or "*" in base:
                    continue
                declared.referenced = True
                pyproject = resolver.find(posixpath.join(base, "pyproject.toml"))
                if pyproject is None:
                    declared.warnings.append(f"{where}: installs {local} but no pyproject.toml found for it")
                    continue
                _add_pyproject(declared, pyproject, inst, extras)
        for pkg in inst.packages:
            if inst.action not in ("install", "add"):
                continue
            req = parse_requirement_text(pkg, dockerfile.path, origin="dockerfile-run")
            if req is None or not req.name:
                declared.warnings.append(f"{where}: cannot parse package {pkg!r}")
                continue
            declared.requirements.append(replace(req, line=inst.line, end_line=inst.end_line, raw=pkg))
    return declared


def _extras_of(local: str) -> tuple[str, ...]:
    if "[" not in local:
        return ()
    inner = local.split("[", 1)[1].rstrip("]")
    return tuple(e.strip() for e in inner.split(",") if e.strip())


def _add_pyproject(declared: Declared, path: Path, inst: InstallCommand, extras: tuple[str, ...]) -> None:
    if path in declared.pyprojects:
        return
    declared.pyprojects.append(path)
    try:
        result = parse_pyproject_file(path)
    except ParseError as exc:
        declared.warnings.append(str(exc))
        return
    declared.project_name = declared.project_name or result.name
    declared.scripts.update(result.scripts)
    declared.warnings.extend(result.warnings)
    declared.requirements.extend(result.requirements)
    wanted = _wanted_groups(inst, result, extras)
    declared.requirements.extend(r for r in result.optional if r.group in wanted)


def _wanted_groups(inst: InstallCommand, result: PyprojectResult, extras: tuple[str, ...]) -> set[str | None]:
    """Which optional groups this install pulls in, following each tool's defaults."""
    flags: dict[str, list[str]] = {}
    for flag in inst.flags:
        name, _, value = flag.partition("=")
        flags.setdefault(name, []).append(value)
    wanted: set[str | None] = set(extras)
    groups = {r.group for r in result.optional if r.origin != "pyproject"}
    extra_names = {r.group for r in result.optional if r.origin == "pyproject"}
    if inst.tool == "poetry":
        chosen = {g for g in groups if g != "optional"}
        if "--only" in flags:
            chosen = {g for v in flags["--only"] for g in v.split(",")}
        chosen -= {g for v in flags.get("--without", []) for g in v.split(",")}
        chosen |= {g for v in flags.get("--with", []) for g in v.split(",")}
        if "--all-extras" in flags:
            chosen.add("optional")
        wanted |= chosen
    elif inst.tool == "uv" and inst.action == "sync":
        if "--no-dev" not in flags and "--only-group" not in flags:
            wanted.add("dev")
        wanted |= set(flags.get("--group", [])) | set(flags.get("--only-group", []))
        wanted |= set(flags.get("--extra", []))
        if "--all-groups" in flags:
            wanted |= groups
        if "--all-extras" in flags:
            wanted |= extra_names
    elif inst.tool == "pdm":
        if "--prod" not in flags and "--production" not in flags:
            wanted |= groups
        wanted |= set(flags.get("-G", [])) | set(flags.get("--group", []))
    return wanted - {None}


@dataclass
class _Resolver:
    """Maps a path as a RUN line names it (relative to WORKDIR) back to the context file it came from."""

    dockerfile: Dockerfile
    stage: Stage
    index: ContextIndex
    context_dir: Path
    memo: dict[int, list[ShippedFile]]
    mounts: list[dict[str, str]]
    workdir: str

    def find(self, written: str) -> Path | None:
        return _context_file_for(self, written)


def _context_file_for(r: _Resolver, written: str) -> Path | None:
    """The context file a path inside the image (as a RUN line names it) came from."""
    workdir, context_dir, index = r.workdir, r.context_dir, r.index
    mounts = r.mounts
    image_path = posixpath.normpath(written if written.startswith("/") else posixpath.join(workdir, written))
    for mount in mounts:  # RUN --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt
        if mount.get("type", "bind") != "bind" or mount.get("from"):
            continue
        target = mount.get("target") or mount.get("dst") or mount.get("destination")
        if not target:
            continue
        target = posixpath.normpath(target if target.startswith("/") else posixpath.join(workdir, target))
        source = (mount.get("source") or mount.get("src") or ".").lstrip("/")
        if image_path == target:
            candidate = context_dir / source
        elif image_path.startswith(target + "/"):
            candidate = context_dir / source / image_path[len(target) + 1 :]
        else:
            continue
        if candidate.is_file():
            return candidate
    if index.files:
        for f in stage_files(r.dockerfile, r.stage, index, r.memo):
            if f.image_path == image_path:
                return context_dir / f.context_path
    for guess in (posixpath.normpath("/" + written).lstrip("/"), posixpath.basename(written)):
        if guess and (context_dir / guess).is_file():
            return context_dir / guess
    return None


def fallback_to_root(context_dir: Path, env: Mapping[str, str], declared: Declared) -> Declared:
    """No Dockerfile reference found: read requirements.txt / pyproject.toml at the context root."""
    req = context_dir / "requirements.txt"
    if req.is_file():
        result = parse_requirements_file(req, env)
        declared.requirements.extend(result.requirements)
        declared.options.extend(result.options)
        declared.warnings.extend(result.warnings)
    pyproject = context_dir / "pyproject.toml"
    if pyproject.is_file() and pyproject not in declared.pyprojects:
        declared.pyprojects.append(pyproject)
        try:
            result_pp = parse_pyproject_file(pyproject)
        except ParseError as exc:
            declared.warnings.append(str(exc))
        else:
            declared.project_name = declared.project_name or result_pp.name
            declared.scripts.update(result_pp.scripts)
            declared.requirements.extend(result_pp.requirements)
            declared.warnings.extend(result_pp.warnings)
    return declared
