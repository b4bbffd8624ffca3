"""Load a project: a compose file, a directory holding one, or a single service directory.

Why: the rules compare what a service *declares* with what its image holds, service by service. This module
finds the services (compose, a Dockerfile, or a bare directory with requirements), parses each one's
Dockerfile, context and lock files, and attaches Kubernetes/ECS GPU requests; what the install commands
declare is read in :mod:`deadweight.project.declared`. A broken Dockerfile makes that one service an error
row, not the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from deadweight.errors import DeadweightError, ParseError, UsageError
from deadweight.model.project import (
    DeclaredRequirement,
    Dockerfile,
    ExecOrShell,
    GpuRequest,
    InstallCommand,
    LockedPackage,
    Project,
    Service,
    ShippedFile,
    Stage,
)
from deadweight.project.compose import ComposeService, find_compose_file, parse_compose_file
from deadweight.project.context import ContextIndex, shipped_files, walk_context
from deadweight.project.declared import Declared, declared_from_installs, fallback_to_root, mount_options
from deadweight.project.deployment import DeploymentSignal, find_deployment_signals, images_match
from deadweight.project.dockerfile import parse_dockerfile_file
from deadweight.project.dockerignore import IgnoreMatcher, find_dockerignore
from deadweight.project.installs import stage_installs
from deadweight.project.lockfiles import find_lock_files, parse_lock_file

_DOCKERFILE_NAMES = ("Dockerfile", "dockerfile", "Containerfile")


def load_project(
    path: str,
    *,
    environ: Mapping[str, str] | None = None,
    scan_context: bool = True,
    scan_deployments: bool = True,
    dockerfile: str | Path | None = None,
    context: str | Path | None = None,
) -> Project:
    """The project at ``path`` (compose file, directory with one, or a service directory).

    ``dockerfile`` / ``context`` (``audit --dockerfile PATH --context DIR``): the one service is built from
    that Dockerfile, wherever it lies, with that context (default: ``path`` when it is a directory, else the
    Dockerfile's directory), as ``docker build -f PATH DIR`` would; ``path`` then names no compose file.

    Raises ParseError when the path holds nothing we can read or the compose file itself is broken; a broken
    Dockerfile only sets that service's ``load_error``.
    """
    env = dict(os.environ if environ is None else environ)
    p = Path(path).expanduser()
    if not p.exists():
        raise ParseError(f"{path}: no such file or directory")
    p = p.resolve()
    if dockerfile is not None or context is not None:
        return _explicit_project(p, dockerfile, context, env, scan_context=scan_context,
                                 scan_deployments=scan_deployments)
    compose: Path | None = None
    service_file: Path | None = None
    if p.is_file():
        if p.suffix.lower() in (".yaml", ".yml"):
            compose = p
        else:
            service_file = p
        root = p.parent
    else:
        root = p
        compose = find_compose_file(p)
        if compose is None:
            service_file = next((p / n for n in _DOCKERFILE_NAMES if _present(p / n)), None)
    cache: dict[tuple[str, str | None], tuple[ContextIndex, IgnoreMatcher]] = {}
    services: list[Service] = []
    warnings: list[str] = []
    if compose is not None:
        parsed = parse_compose_file(compose, env)
        warnings.extend(parsed.warnings)
        for cs in parsed.services:
            services.append(_compose_service(cs, str(compose), env, cache, scan_context))
    else:
        if service_file is None and not _has_python_manifest(root):
            raise ParseError(f"{p}: no compose file, Dockerfile, requirements.txt or pyproject.toml")
        services.append(
            _build_service(
                name=root.name,
                context_dir=root,
                dockerfile_path=service_file,
                build_args={},
                target=None,
                env=env,
                cache=cache,
                scan_context=scan_context,
            )
        )
    return _with_deployments(root, services, warnings, compose, scan_deployments)


def _with_deployments(root: Path, services: list[Service], warnings: list[str], compose: Path | None,
                      scan: bool) -> Project:
    if scan:
        signals, dep_warnings = find_deployment_signals(root)
        warnings.extend(dep_warnings)
        services, unmatched = _attach_deployments(services, signals)
        warnings.extend(unmatched)
    return Project(str(root), tuple(services), tuple(warnings), str(compose) if compose else None)


def _explicit_project(
    p: Path, dockerfile: str | Path | None, context: str | Path | None, env: Mapping[str, str], *,
    scan_context: bool, scan_deployments: bool,
) -> Project:
    """The one service ``--dockerfile`` / ``--context`` name (see ``load_project``)."""
    if p.is_file() and p.suffix.lower() in (".yaml", ".yml"):
        raise UsageError(f"{p}: --dockerfile and --context describe one service; a compose file gives each "
                         "service's build.dockerfile and build.context")
    file = Path(dockerfile).expanduser().resolve() if dockerfile is not None else None
    if file is None and p.is_file():
        file = p
    elif file is None:
        file = next((p / n for n in _DOCKERFILE_NAMES if _present(p / n)), None)
    if file is not None and not _present(file):
        raise UsageError(f"{dockerfile}: no such Dockerfile")
    if context is not None:
        ctx = Path(context).expanduser().resolve()
    elif p.is_dir():
        ctx = p
    else:
        ctx = file.parent if file is not None else p.parent
    if not ctx.is_dir():
        raise UsageError(f"{context}: the build context is not a directory")
    if file is None:
        raise UsageError(f"{p}: no Dockerfile; name one with --dockerfile")
    service = _build_service(name=ctx.name, context_dir=ctx, dockerfile_path=file, build_args={}, target=None,
                             env=env, cache={}, scan_context=scan_context)
    return _with_deployments(ctx, [service], [], None, scan_deployments)


def _present(path: Path) -> bool:
    """A Dockerfile is there when anything has its name: a FIFO, a device, a dangling link or a directory named
    Dockerfile is a Dockerfile that cannot be read (an error naming it), never "no Dockerfile"."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:  # a name too long to look up (ENAMETOOLONG) is still a name that was asked for
        return True
    return True


def _has_python_manifest(directory: Path) -> bool:
    return (directory / "requirements.txt").is_file() or (directory / "pyproject.toml").is_file()


def _compose_service(
    cs: ComposeService,
    compose_file: str,
    env: Mapping[str, str],
    cache: dict[tuple[str, str | None], tuple[ContextIndex, IgnoreMatcher]],
    scan_context: bool,
) -> Service:
    unbuilt = Service(
        name=cs.name,
        context_dir=cs.build_context,
        dockerfile=None,
        image=None,
        build_target=cs.target,
        build_args=dict(cs.build_args),
        dockerfile_path=cs.dockerfile,
        load_error=cs.error,
    )
    base = _with_compose(unbuilt, cs, compose_file)
    if cs.error is not None or cs.build_context is None:
        return base
    if "://" in cs.build_context or not Path(cs.build_context).is_dir():
        return _replace(base, load_error=f"{compose_file}:{cs.line}: build context {cs.build_context} not found")
    built = _build_service(
        name=cs.name,
        context_dir=Path(cs.build_context),
        dockerfile_path=Path(cs.dockerfile) if cs.dockerfile else None,
        build_args=cs.build_args,
        target=cs.target,
        env=env,
        cache=cache,
        scan_context=scan_context,
        missing_dockerfile_is_error=True,
        where=f"{compose_file}:{cs.line}",
    )
    return _with_compose(built, cs, compose_file)


def _with_compose(service: Service, cs: ComposeService, compose_file: str) -> Service:
    """``service`` with what the compose file says about it (one mapping, built or not).

    Compose's command, entrypoint and healthcheck win over the Dockerfile's where set; its warnings come first.
    """
    return _replace(
        service,
        image=cs.image,
        command=cs.command if cs.command is not None else service.command,
        entrypoint=cs.entrypoint if cs.entrypoint is not None else service.entrypoint,
        environment=dict(cs.environment),
        memory_limit_bytes=cs.memory_limit_bytes,
        gpu=cs.gpu,
        compose_file=compose_file,
        compose_line=cs.line,
        healthcheck=cs.healthcheck if cs.healthcheck is not None else service.healthcheck,
        profiles=cs.profiles,
        env_files=tuple(cs.env_files),
        mem_limit_evidence=cs.memory_evidence,
        warnings=tuple(cs.warnings) + service.warnings,
    )


def _replace(service: Service, **changes: object) -> Service:
    return replace(service, **changes)  # type: ignore[arg-type]


def _build_service(
    *,
    name: str,
    context_dir: Path,
    dockerfile_path: Path | None,
    build_args: Mapping[str, str],
    target: str | None,
    env: Mapping[str, str],
    cache: dict[tuple[str, str | None], tuple[ContextIndex, IgnoreMatcher]],
    scan_context: bool,
    missing_dockerfile_is_error: bool = False,
    where: str | None = None,
) -> Service:
    context_dir = context_dir.resolve()
    shell = Service(
        name=name,
        context_dir=str(context_dir),
        dockerfile=None,
        image=None,
        build_target=target,
        build_args=dict(build_args),
        dockerfile_path=str(dockerfile_path) if dockerfile_path else None,
    )
    if dockerfile_path is None or not _present(dockerfile_path):
        if missing_dockerfile_is_error or dockerfile_path is not None:
            return _replace(shell, load_error=f"{where or context_dir}: Dockerfile {dockerfile_path} not found")
        declared = fallback_to_root(context_dir, env, Declared())
        return _replace(
            shell,
            requirements=_dedupe(declared.requirements),
            requirement_options=tuple(declared.options),
            scripts=declared.scripts,
            locked=_locks([context_dir]),
            project_name=declared.project_name,
            warnings=tuple(declared.warnings),
        )
    try:
        dockerfile = parse_dockerfile_file(dockerfile_path, build_args)
        final = dockerfile.final_stage(target)
    except ParseError as exc:
        return _replace(shell, load_error=str(exc))
    ignore_path = find_dockerignore(context_dir, dockerfile_path)
    try:
        index, _matcher = _context(context_dir, ignore_path, cache, scan_context)
    except DeadweightError as exc:
        return _replace(shell, dockerfile=dockerfile, load_error=str(exc))
    stages = _relevant_stages(dockerfile, final)
    installs: list[InstallCommand] = []
    for stage in stages:
        installs.extend(stage_installs(dockerfile, stage))
    installs.sort(key=lambda i: (i.line, i.stage_index))
    declared = declared_from_installs(dockerfile, installs, index, context_dir, env)
    if not declared.referenced:
        fallback_to_root(context_dir, env, declared)
    shipped: tuple[ShippedFile, ...] = ()
    if scan_context:
        shipped = tuple(shipped_files(dockerfile, index, target))
    return _replace(
        shell,
        dockerfile=dockerfile,
        command=_exec_or_shell(final.cmd),
        entrypoint=_exec_or_shell(final.entrypoint),
        requirements=_dedupe(declared.requirements),
        requirement_options=tuple(declared.options),
        installs=tuple(installs),
        locked=_locks([context_dir, *(p.parent for p in declared.pyprojects)]),
        scripts=declared.scripts,
        healthcheck=_healthcheck(final),
        shipped=shipped,
        context_file_count=len(index.files),
        context_bytes=index.total_bytes,
        dockerignore=str(ignore_path) if ignore_path else None,
        project_name=declared.project_name,
        warnings=tuple(dict.fromkeys(declared.warnings)),
    )


def _exec_or_shell(value: object) -> tuple[str, ...] | str | None:
    if not isinstance(value, ExecOrShell):
        return None
    return value.exec_form if value.exec_form is not None else value.shell


def _healthcheck(stage: Stage) -> str | None:
    checks = stage.of("HEALTHCHECK")
    if not checks:
        return None
    return checks[-1].args or None


def _context(
    context_dir: Path,
    ignore_path: Path | None,
    cache: dict[tuple[str, str | None], tuple[ContextIndex, IgnoreMatcher]],
    scan: bool,
) -> tuple[ContextIndex, IgnoreMatcher]:
    key = (str(context_dir), str(ignore_path) if ignore_path else None)
    if key not in cache:
        matcher = IgnoreMatcher.from_file(ignore_path) if ignore_path else IgnoreMatcher.empty()
        index = walk_context(context_dir, matcher) if scan else ContextIndex(str(context_dir))
        cache[key] = (index, matcher)
    return cache[key]


def _relevant_stages(dockerfile: Dockerfile, final: Stage) -> list[Stage]:
    """The final stage, the stages it inherits from, and (recursively) those it copies or mounts from."""
    seen: set[int] = set()
    todo = [final]
    while todo:
        stage = todo.pop()
        if stage.index in seen:
            continue
        seen.add(stage.index)
        if stage.base_stage is not None:
            todo.append(dockerfile.stages[stage.base_stage])
        for ins in stage.instructions:
            refs: list[str] = []
            if ins.keyword in ("COPY", "ADD") and ins.flag("from"):
                refs.append(ins.flag("from") or "")
            for mount in ins.flag_values("mount"):
                opts = mount_options(mount)
                if opts.get("from"):
                    refs.append(opts["from"])
            for ref in refs:
                other = dockerfile.stage(ref)
                if other is not None and other.index < stage.index:
                    todo.append(other)
    return [s for s in dockerfile.stages if s.index in seen]


def _dedupe(reqs: list[DeclaredRequirement]) -> tuple[DeclaredRequirement, ...]:
    seen: set[tuple[str, int, str, str]] = set()
    out: list[DeclaredRequirement] = []
    for r in reqs:
        key = (r.source_file, r.line, r.name, r.raw)
        if key in seen:
            continue
        seen.add(key)
        out.append(r)
    return tuple(out)


def _locks(directories: list[Path]) -> tuple[LockedPackage, ...]:
    out: list[LockedPackage] = []
    for d in dict.fromkeys(directories):
        for lock in find_lock_files(d):
            try:
                out.extend(parse_lock_file(lock))
            except ParseError:
                continue
    return tuple(out)


def _attach_deployments(
    services: list[Service], signals: list[DeploymentSignal]
) -> tuple[list[Service], list[str]]:
    """Merge Kubernetes/ECS GPU requests into the services whose image they run."""
    warnings: list[str] = []
    gpu_signals = [s for s in signals if s.gpu]
    used: set[int] = set()
    out: list[Service] = []
    for svc in services:
        names = [n for n in (svc.image, svc.name) if n]
        evidence = list(svc.gpu.evidence)
        for idx, sig in enumerate(gpu_signals):
            if sig.image and any(images_match(sig.image, n) for n in names):
                evidence.append(sig.evidence)
                used.add(idx)
        changed = len(evidence) != len(svc.gpu.evidence)
        out.append(_replace(svc, gpu=GpuRequest(True, tuple(evidence))) if changed else svc)
    for idx, sig in enumerate(gpu_signals):
        if idx in used:
            continue
        if len(out) == 1:
            only = out[0]
            out[0] = _replace(only, gpu=GpuRequest(True, (*only.gpu.evidence, sig.evidence)))
        else:
            warnings.append(f"{sig.evidence} (container {sig.container!r}, image {sig.image}) matches no service")
    return out, warnings
