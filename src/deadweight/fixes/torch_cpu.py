"""DW101: the torch family (torch, torchvision, torchaudio, with matching versions) installed from the CPU
index, for every way a project declares torch: pip (requirements + Dockerfile), uv, Poetry, PDM.

- pip (torch in a requirements file, a pyproject installed with ``pip install .``, or a ``RUN pip install
  torch``): a RUN right before the install that first installs the family's CPU build, by exact version,
  with ``--index-url`` (never a global ``--extra-index-url``: dependency confusion) and ``--no-deps``, from
  ``ARG TORCH_INDEX_URL`` whose default is the configured CPU index. The original install is left as it
  is: its ``torch>=2.1`` is satisfied by the installed ``2.13.0+cpu``, so pip keeps it and installs torch's
  own dependencies from the project's usual index. The CPU index is asked for the torch family only.
- uv: ``[[tool.uv.index]] pytorch-cpu`` (explicit) and ``[tool.uv.sources]`` for each declared member.
- Poetry: ``[[tool.poetry.source]] pytorch-cpu`` (priority explicit) and ``source = "pytorch-cpu"`` on each
  declared member's dependency.
- PDM: ``[[tool.pdm.source]] pytorch-cpu`` with ``include_packages`` (the family) and ``exclude_packages =
  ["*"]`` (PDM searches a source for every package it neither includes nor excludes).

pyproject edits are text insertions (and, for Poetry, the one dependency line rewritten), checked by parsing
the result: the TOML data must equal the old data plus exactly the intended keys. The lock is then
regenerated (``locks.regenerate``). Every edit is checked to make deadweight's own index detection
(``project/indexes.py``) see torch as routed to the CPU index; a project it already sees so is left alone.
"""

from __future__ import annotations

import copy
import difflib
import re
import shlex
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from deadweight.errors import DeadweightError
from deadweight.fixes import locks
from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.kinds import file_kind
from deadweight.fixes.pyproject_scan import ScanError, add_aot_entry, add_table_entries, scan, toml_string
from deadweight.fixes.text import insert_lines, lines, replace_lines
from deadweight.fixes.torch_family import FAMILY, member_version
from deadweight.model.project import (
    DeclaredRequirement,
    Dockerfile,
    InstallCommand,
    Instruction,
    LockedPackage,
    Service,
    Stage,
)
from deadweight.model.remedy import SetIndex
from deadweight.project.context import walk_context
from deadweight.project.declared import declared_from_installs
from deadweight.project.dockerfile import parse_dockerfile
from deadweight.project.dockerignore import IgnoreMatcher, find_dockerignore
from deadweight.project.indexes import TorchIndex, is_cpu_index, torch_index
from deadweight.project.installs import split_commands, stage_installs
from deadweight.project.lockfiles import parse_lock_text
from deadweight.project.pyproject import parse_pyproject
from deadweight.project.requirements import logical_lines, parse_requirement_text
from deadweight.pypi.index import IndexClient
from deadweight.pypi.store import JsonStore, default_cache_dir

__all__ = ["ARG_NAME", "INDEX_NAME", "route"]

INDEX_NAME = "pytorch-cpu"  # the uv index / Poetry and PDM source deadweight adds
ARG_NAME = "TORCH_INDEX_URL"  # the Dockerfile build argument holding the CPU index (a mirror: --build-arg)
UV_MARKER = "sys_platform != 'darwin'"  # macOS wheels on PyPI are CPU builds; the CPU index has few of them

# options of the original install that make pip (or uv) replace the CPU build we install before it
_REPLACING = frozenset({"-U", "--upgrade", "--force-reinstall", "-I", "--ignore-installed", "--reinstall",
                        "--reinstall-package", "--upgrade-package", "-P", "--require-hashes"})
# options that decide where the original install puts packages: the CPU build must go to the same place
_PLACE = frozenset({"--user", "--system", "--break-system-packages", "--target", "-t", "--prefix", "--root",
                    "--python", "-p"})
_MAKES_PIP = re.compile(r"(^|\s)(-m\s+venv|virtualenv|uv\s+venv|-m\s+ensurepip|get-pip)(\s|$)")
_URL_UNSAFE = re.compile(r"[\s\"'`$\\{}<>|;&#]")


def route(edit: SetIndex, ctx: FixContext) -> None:
    """Install the torch family from the CPU index, by the way the project installs torch."""
    url = _checked_url(ctx.settings.cpu_index_url or edit.index_url)
    kind = file_kind(edit.file)
    if kind == "pyproject":
        _route_pyproject(edit, ctx, url)
    elif kind in ("requirements", "dockerfile"):
        _route_pip(edit, ctx, url)
    else:
        raise FixRefused(f"torch is declared in {edit.file}, a file deadweight cannot route to the CPU index")


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise FixRefused("the CPU index URL carries credentials, which deadweight never writes into project "
                         "files: set torch-cpu-index to the URL without them and give the credentials to the "
                         "tool (a pip.conf build secret, UV_INDEX_PYTORCH_CPU_USERNAME/_PASSWORD, poetry config "
                         "http-basic.pytorch-cpu)")
    if parts.scheme not in ("http", "https", "file") or (not parts.netloc and parts.scheme != "file"):
        raise FixRefused(f"the CPU index URL {url!r} is not an http(s) URL")
    if _URL_UNSAFE.search(url):
        raise FixRefused(f"the CPU index URL {url!r} holds characters deadweight will not write into a shell "
                         "command or TOML string")
    if not is_cpu_index(url):
        raise FixRefused(f"the CPU index URL {url} does not end in /cpu, so deadweight's audit would not "
                         "recognise the fix (DW101 would stay): use the mirror's path that ends in /cpu")
    return url


# ---------------------------------------------------------------- versions


@dataclass(frozen=True)
class _Family:
    """The family members to install (name -> exact public version) and what was decided."""

    versions: dict[str, str]
    notes: tuple[str, ...] = ()


def _specs(reqs: Iterable[DeclaredRequirement]) -> dict[str, list[SpecifierSet]]:
    out: dict[str, list[SpecifierSet]] = {}
    for req in reqs:
        if req.name not in FAMILY:
            continue
        try:
            out.setdefault(req.name, []).append(SpecifierSet(req.specifier))
        except InvalidSpecifier:
            raise FixRefused(f"cannot read the specifier of {req.raw!r} ({req.source_file}:{req.line})") from None
    return out


def _satisfies(version: str, specs: Sequence[SpecifierSet]) -> bool:
    v = Version(version)
    return all(s.contains(v, prereleases=True) for s in specs)


def _index_versions(url: str, name: str) -> list[Version]:
    client = IndexClient(url, JsonStore(default_cache_dir() / "index"))
    try:
        files = client.project_files(name)
    except DeadweightError as exc:
        raise FixRefused(f"cannot read the CPU index {url} ({exc}); with --offline the versions are written "
                         "unchecked") from None
    finally:
        client.close()
    found = {f.version() for f in files if f.is_wheel}
    return sorted((v for v in found if v is not None), reverse=True)


def _family(edit: SetIndex, ctx: FixContext, url: str, specs: dict[str, list[SpecifierSet]]) -> _Family:
    """torch's version (the image's, else the newest on the CPU index that the declared specifiers allow)
    and the matching versions of the declared members (data/torch_family.toml)."""
    torch_specs = specs.get("torch", [])
    pinned = [str(s).removeprefix("==") for spec in torch_specs for s in spec
              if s.operator == "==" and "*" not in s.version and len(spec) == 1]
    want = (pinned[0] if pinned else edit.version).split("+", 1)[0]
    try:
        Version(want)
    except InvalidVersion:
        raise FixRefused(f"no usable torch version to install (got {want!r})") from None
    notes: list[str] = []
    if ctx.settings.offline:
        if not _satisfies(want, torch_specs):
            raise FixRefused(f"torch {want} does not satisfy the declared torch specifier")
        chosen = want
        notes.append(f"torch {want} not checked against {url} (offline)")
    else:
        available = [v for v in _index_versions(url, "torch") if _satisfies(str(v), torch_specs)]
        publics = {v.public: v for v in available}
        if want in publics:
            chosen = want
        elif available and not pinned:
            chosen = max(available).public
            notes.append(f"the CPU index has no torch {want}: installs {chosen}, the newest it has that the "
                         "declared specifier allows")
        else:
            raise FixRefused(f"the CPU index {url} has no torch {want}" + (" (pinned)" if pinned else ""))
    versions = {"torch": chosen if ctx.settings.offline else _exact(chosen, available)}
    for member in FAMILY[1:]:
        if member not in specs:
            continue
        version = member_version(member, chosen)
        if version is None:
            raise FixRefused(f"no {member} release known for torch {chosen} (data/torch_family.toml): pin it by "
                             "hand")
        if not _satisfies(version, specs[member]):
            raise FixRefused(f"{member} {version}, the release for torch {chosen}, does not satisfy the declared "
                             f"{member} specifier")
        if not ctx.settings.offline:
            builds = _index_versions(url, member)
            if Version(version) not in {Version(v.public) for v in builds}:
                raise FixRefused(f"the CPU index {url} has no {member} {version} (for torch {chosen})")
            version = _exact(version, builds)
        versions[member] = version
    return _Family(versions, tuple(notes))


def _exact(public: str, builds: Sequence[Version]) -> str:
    """The one build of release ``public`` the CPU index lists with a local label (``2.5.1+cpu``), else
    ``public``. Pinning the label keeps the install on the CPU build even when pip also reads another index
    (``PIP_EXTRA_INDEX_URL`` from a build argument, pip.conf): ``==2.5.1`` would let pip take a
    ``2.5.1+cu121`` from there, which sorts higher than ``+cpu``."""
    labelled = {str(v) for v in builds if v.public == public and v.local}
    return labelled.pop() if len(labelled) == 1 else public


# ---------------------------------------------------------------- pip: a RUN before the install


def _stages(dockerfile: Dockerfile, svc: Service) -> tuple[Stage, ...]:
    try:
        return dockerfile.chain(dockerfile.final_stage(svc.build_target))
    except DeadweightError as exc:
        raise FixRefused(str(exc)) from None


def _installs(dockerfile: Dockerfile, stages: Sequence[Stage]) -> list[InstallCommand]:
    out = [i for stage in stages for i in stage_installs(dockerfile, stage)]
    return sorted(out, key=lambda i: (i.line, i.stage_index))


def _parse_dockerfile(text: str, path: str, svc: Service) -> Dockerfile:
    try:
        return parse_dockerfile(text, path, svc.build_args)
    except DeadweightError as exc:
        raise FixRefused(f"cannot parse {path}: {exc}") from None


def _pip_routed(svc: Service, dockerfile: Dockerfile, installs: Sequence[InstallCommand]) -> TorchIndex | None:
    """What deadweight's audit reads from this Dockerfile text: a CPU index for torch, or None."""
    probe = replace(svc, dockerfile=dockerfile, installs=tuple(installs), context_dir=None, locked=(),
                    requirements=tuple(r for r in svc.requirements if "+cpu" not in r.specifier))
    found = torch_index(probe)
    return found if found is not None and found.cpu else None


def _is_pip(cmd: InstallCommand) -> bool:
    return cmd.action == "install" and (cmd.tool == "pip" or (cmd.tool == "uv" and " pip " in f" {cmd.command} "))


def _target(edit: SetIndex, ctx: FixContext, dockerfile: Dockerfile,
            installs: Sequence[InstallCommand]) -> InstallCommand:
    """The install that brings torch in: the RUN naming it, or the one whose requirements declare it."""
    svc = ctx.service
    pip = [i for i in installs if _is_pip(i)]
    if file_kind(edit.file) == "dockerfile":
        naming = [i for i in pip if "torch" in _names(i.packages)]
        at_line = [i for i in naming if i.line == edit.line]
        found = at_line or naming
    else:
        assert svc.context_dir is not None
        context_dir = Path(svc.context_dir)
        ignore = find_dockerignore(context_dir, svc.dockerfile_path)
        try:
            index = walk_context(context_dir, IgnoreMatcher.from_file(ignore) if ignore else None)
        except DeadweightError as exc:
            raise FixRefused(str(exc)) from None
        wanted = Path(edit.file or "").resolve()
        found = []
        for inst in pip:
            declared = declared_from_installs(dockerfile, [inst], index, context_dir, {})
            if any(r.name == "torch" and Path(r.source_file).resolve() == wanted for r in declared.requirements):
                found.append(inst)
    if not found:
        raise FixRefused(f"no pip install in the final stage of {ctx.workspace.display(Path(dockerfile.path))} "
                         f"installs torch from {ctx.workspace.display(Path(edit.file or ''))}")
    if len({i.line for i in found}) > 1:
        raise FixRefused(f"torch is installed by {len(found)} RUN instructions (lines "
                         f"{', '.join(str(i.line) for i in found)}): route them by hand")
    return found[0]


def _names(packages: Iterable[str]) -> dict[str, str]:
    out = {}
    for pkg in packages:
        req = parse_requirement_text(pkg, "Dockerfile", origin="dockerfile-run")
        if req is not None and req.name:
            out[req.name] = req.specifier
    return out


def _program(cmd: InstallCommand) -> list[str]:
    """The words that run the installer, as the original command spells them (``python -m pip``)."""
    words = shlex.split(cmd.command)
    while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in ("sudo", "env", "command")):
        words = words[1:]
    if words and words[0].rsplit("/", 1)[-1] in ("sh", "bash", "dash", "ash", "zsh"):
        raise FixRefused("torch is installed inside a nested shell command (sh -c ...): route it by hand")
    if "install" not in words:
        raise FixRefused(f"cannot find the install word in {cmd.command!r}")
    return words[: words.index("install")]


def _flag_words(cmd: InstallCommand, names: frozenset[str]) -> list[str]:
    out = []
    for flag in cmd.flags:
        name, sep, value = flag.partition("=")
        if name in names:
            out.append(f"{name}={shlex.quote(value)}" if sep else name)
    return out


def _instruction(dockerfile: Dockerfile, line: int) -> tuple[Stage, Instruction]:
    for stage in dockerfile.stages:
        for ins in stage.instructions:
            if ins.keyword == "RUN" and ins.start_line == line:
                return stage, ins
    raise FixRefused(f"no RUN instruction at line {line}")


def _check_run(dockerfile: Dockerfile, stage: Stage, ins: Instruction, cmd: InstallCommand) -> None:
    if stage.of("SHELL"):
        raise FixRefused(f"stage {stage.name or stage.index} sets SHELL: route torch by hand")
    replacing = [f for f in cmd.flags if f.partition("=")[0] in _REPLACING]
    if replacing:
        raise FixRefused(f"the install at line {cmd.line} passes {replacing[0]}, which would replace the CPU build "
                         "installed before it")
    before = []
    for argv in split_commands(ins.args if not ins.heredocs else "\n".join(h.body for h in ins.heredocs)):
        if shlex.join(argv) == cmd.command:
            break
        before.append(argv)
    if any(_MAKES_PIP.search(shlex.join(argv)) for argv in before):
        raise FixRefused(f"the RUN at line {cmd.line} creates the environment it installs into: a step before it "
                         "cannot install torch there")
    program = _program(cmd)[0].rsplit("/", 1)[-1]
    if any(argv and argv[0].rsplit("/", 1)[-1] != program and program in argv[1:] for argv in before):
        raise FixRefused(f"the RUN at line {cmd.line} installs {program} before it installs torch: a step before "
                         "it cannot run it")
    for name in (ARG_NAME,):
        if name in dockerfile.global_args or any(
                i.keyword == "ARG" and re.match(rf"\s*{name}(=|\s|$)", i.args) for s in dockerfile.stages
                for i in s.instructions):
            raise FixRefused(f"the Dockerfile already declares ARG {name}")


def _route_pip(edit: SetIndex, ctx: FixContext, url: str) -> None:
    svc = ctx.service
    if not svc.dockerfile_path or not svc.context_dir:
        raise FixRefused("the service has no Dockerfile to install torch's CPU build in")
    path = svc.dockerfile_path
    text = ctx.workspace.text(path)
    dockerfile = _parse_dockerfile(text, path, svc)
    stages = _stages(dockerfile, svc)
    installs = _installs(dockerfile, stages)
    if _pip_routed(svc, dockerfile, installs) is not None:
        return  # already routed (a fix before this one, or a second run)
    cmd = _target(edit, ctx, dockerfile, installs)
    stage, ins = _instruction(dockerfile, cmd.line)
    _check_run(dockerfile, stage, ins, cmd)
    reqs = _current_requirements(ctx, cmd)
    family = _family(edit, ctx, url, _specs(reqs))
    program = _program(cmd)
    uv = program[:1] == ["uv"] or program[-1:] == ["uv"] or cmd.tool == "uv"
    mounts = [f"--mount={m}" for m in ins.flag_values("mount") if "type=cache" in m.replace(" ", "")]
    words = [*program, "install"]
    if not mounts:
        words.append("--no-cache" if uv else "--no-cache-dir")
    words += ["--no-deps", "--index-url"]
    pins = [f"{name}=={version}" for name, version in family.versions.items()]
    run = " ".join(["RUN", *mounts, shlex.join(words), f'"${ARG_NAME}"', *_flag_words(cmd, _PLACE), *pins])
    new_lines = [
        "# deadweight fix DW101: the torch family's CPU build (no CUDA, no nvidia-* wheels); the install below "
        "keeps it",
        f"ARG {ARG_NAME}={url}",
        run,
    ]
    at = _above_comments(text, ins.start_line)
    new_text = insert_lines(text, at, new_lines)
    _verify_pip(svc, path, text, new_text, before=installs, at=at, count=len(new_lines), family=family)
    ctx.workspace.set(path, new_text)
    ctx.notes.extend(family.notes)
    ctx.notes.append(f"installs {' '.join(pins)} from {url} before line {cmd.line} (--build-arg {ARG_NAME}=... for "
                     "a mirror)")


def _above_comments(text: str, line: int) -> int:
    """The line to insert before: above the comment lines that describe the RUN at ``line``."""
    physical = lines(text)
    at = line
    while at > 1 and physical[at - 2].lstrip().startswith("#"):
        at -= 1
    return at


def _current_requirements(ctx: FixContext, cmd: InstallCommand) -> list[DeclaredRequirement]:
    """The torch family as declared now: the workspace text of each file declaring a member (earlier fixes,
    DW501's pin, may have changed it) and the packages named on the install command."""
    out: list[DeclaredRequirement] = []
    files = dict.fromkeys(r.source_file for r in ctx.service.requirements if r.name in FAMILY)
    for source in files:
        kind = file_kind(source)
        if kind == "requirements":
            text = ctx.workspace.text(source)
            for logical in logical_lines(text):
                if logical.text.startswith("-"):
                    continue
                req = parse_requirement_text(logical.text, source, logical)
                if req is not None and req.name in FAMILY:
                    out.append(req)
        elif kind == "pyproject":
            try:
                result = parse_pyproject(ctx.workspace.text(source), source)
            except DeadweightError as exc:
                raise FixRefused(str(exc)) from None
            out.extend(r for r in (*result.requirements, *result.optional) if r.name in FAMILY)
    for name, spec in _names(cmd.packages).items():
        if name in FAMILY:
            out.append(DeclaredRequirement(name, spec, (), None, "Dockerfile", cmd.line, name + spec))
    return out


def _signature(cmd: InstallCommand) -> tuple[object, ...]:
    return (cmd.tool, cmd.action, cmd.packages, cmd.requirement_files, cmd.flags, cmd.index_urls,
            cmd.extra_index_urls)


def _verify_pip(svc: Service, path: str, old: str, new: str, *, before: Sequence[InstallCommand], at: int,
                count: int, family: _Family) -> None:
    """Re-parse the edited Dockerfile: one new install (the pins, from the CPU index), every other install
    as it was, and deadweight's audit sees torch routed to the CPU index."""
    physical = lines(new)
    if "".join(physical[: at - 1] + physical[at - 1 + count:]) != old:
        raise FixRefused("the edited Dockerfile differs from the original outside the inserted lines")
    dockerfile = _parse_dockerfile(new, path, svc)
    after = _installs(dockerfile, _stages(dockerfile, svc))
    added = [i for i in after if at <= i.line < at + count]
    rest = [i for i in after if not at <= i.line < at + count]
    pins = tuple(f"{n}=={v}" for n, v in family.versions.items())
    if len(added) != 1 or added[0].packages != pins or not added[0].index_urls \
            or "--no-deps" not in added[0].flags:
        raise FixRefused("the inserted RUN does not parse as the intended install")
    if [_signature(i) for i in rest] != [_signature(i) for i in before]:
        raise FixRefused("inserting the RUN changed how another install parses")
    if _pip_routed(svc, dockerfile, after) is None:
        raise FixRefused("after the edit deadweight's audit still does not see torch installed from the CPU index")


# ---------------------------------------------------------------- pyproject: uv, Poetry, PDM


def _tool_of(ctx: FixContext, path: Path, data: dict[str, Any]) -> str:
    """uv, poetry, pdm or pip: the lock next to the pyproject, else its tool tables, else the Dockerfile."""
    lock = locks.lock_file_of(path.parent)
    if lock is not None:
        return {"uv.lock": "uv", "poetry.lock": "poetry", "pdm.lock": "pdm"}[lock.name]
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    for name in ("uv", "poetry", "pdm"):
        if isinstance(tool.get(name), dict):
            if name == "poetry" and not ({"dependencies", "source", "group"} & set(tool["poetry"])):
                continue
            return name
    tools = {i.tool for i in ctx.service.installs if i.tool in ("uv", "poetry", "pdm") and not _is_pip(i)}
    if len(tools) == 1:
        return tools.pop()
    return "pip"


def _route_pyproject(edit: SetIndex, ctx: FixContext, url: str) -> None:
    path = Path(edit.file or "")
    text = ctx.workspace.text(path)
    try:
        data = tomllib.loads(text)
        parsed = parse_pyproject(text, str(path))
    except (tomllib.TOMLDecodeError, DeadweightError) as exc:
        raise FixRefused(f"cannot parse {ctx.workspace.display(path)}: {exc}") from None
    tool = _tool_of(ctx, path, data)
    if tool == "pip":
        _route_pip(edit, ctx, url)
        return
    declared = [r for r in (*parsed.requirements, *parsed.optional) if r.name in FAMILY]
    members = list(dict.fromkeys(r.name for r in declared))
    if "torch" not in members:
        raise FixRefused(f"torch is not declared in {ctx.workspace.display(path)} any more")
    if _pyproject_routed(ctx, path, text, tool):
        return
    editor = {"uv": _uv_edit, "poetry": _poetry_edit, "pdm": _pdm_edit}[tool]
    try:
        new_text, expected = editor(text, data, members, declared, url)
    except ScanError as exc:
        raise FixRefused(f"cannot place the tables of {ctx.workspace.display(path)}: {exc}") from None
    _verify_toml(ctx, path, text, new_text, expected=expected, parsed=parsed)
    ctx.workspace.set(path, new_text)
    ctx.notes.append(f"{tool}: {', '.join(members)} from {url} ({INDEX_NAME})")
    locks.regenerate(path.parent, ctx, members)
    if not _pyproject_routed(ctx, path, new_text, tool):
        gap = _detector_gap(tool, declared)
        if gap is None:
            raise FixRefused("after the edit deadweight's audit still does not see torch installed from the CPU "
                             "index")
        ctx.notes.append(gap)


def _detector_gap(tool: str, declared: Sequence[DeclaredRequirement]) -> str | None:
    """Why deadweight's audit cannot see this (correct) routing yet, for the routings project/indexes.py does
    not read; None when it should have seen it."""
    if tool == "pdm":
        return ("deadweight's audit does not read [[tool.pdm.source]] yet (pdm.lock records torch without its "
                "+cpu label): DW101 is reported again until project/indexes.py does")
    if tool == "poetry" and not any(r.name == "torch" and r.origin == "poetry" and r.group is None
                                    for r in declared):
        return ("deadweight's audit reads torch's source only in [tool.poetry.dependencies] yet: DW101 is reported "
                "again until poetry.lock locks torch +cpu")
    return None


def _pyproject_routed(ctx: FixContext, path: Path, text: str, tool: str) -> bool:
    """Whether deadweight's audit sees torch routed, reading ``text`` as the pyproject (and the workspace's
    lock): the same ``torch_index`` the audit runs."""
    lock = locks.lock_file_of(path.parent)
    locked: tuple[LockedPackage, ...] = ()
    if lock is not None and ctx.workspace.exists(lock):
        try:
            locked = tuple(parse_lock_text(ctx.workspace.text(lock), str(lock)))
        except DeadweightError:
            locked = ()
    with tempfile.TemporaryDirectory(prefix="deadweight-probe-") as tmp:
        Path(tmp, "pyproject.toml").write_text(text, encoding="utf-8")
        probe = replace(ctx.service, context_dir=tmp, dockerfile=None, installs=(), requirement_options=(),
                        locked=tuple(replace(p, source_file=str(Path(tmp, Path(p.source_file).name)))
                                     for p in locked),
                        requirements=tuple(r for r in ctx.service.requirements if "+cpu" not in r.specifier))
        found = torch_index(probe)
    del tool
    return found is not None and found.cpu


def _tables(data: dict[str, Any], *keys: str) -> Any:
    node: Any = data
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _same_url(a: object, b: str) -> bool:
    return isinstance(a, str) and a.rstrip("/") == b.rstrip("/")


def _reuse(entries: object, url: str, what: str) -> str | None:
    """The name of an index/source entry already on ``url`` (or on another CPU index), to route to it; None:
    add ours. An entry named like ours on another URL is refused."""
    if not isinstance(entries, list):
        if entries is not None:
            raise FixRefused(f"{what} is not an array of tables")
        return None
    same = [e for e in entries if isinstance(e, dict) and _same_url(e.get("url"), url)]
    cpu = [e for e in entries if isinstance(e, dict) and isinstance(e.get("url"), str) and is_cpu_index(e["url"])]
    for entry in same or cpu:
        if isinstance(entry.get("name"), str):
            return str(entry["name"])
    if any(isinstance(e, dict) and e.get("name") == INDEX_NAME for e in entries):
        raise FixRefused(f"{what} already has an entry named {INDEX_NAME!r} on another URL")
    return None


def _set_in(data: dict[str, Any], keys: Sequence[str], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _uv_edit(text: str, data: dict[str, Any], members: list[str], declared: list[DeclaredRequirement],
             url: str) -> tuple[str, dict[str, Any]]:
    del declared
    expected = copy.deepcopy(data)
    name = _reuse(_tables(data, "tool", "uv", "index"), url, "[[tool.uv.index]]")
    sources = _tables(data, "tool", "uv", "sources")
    if sources is not None and not isinstance(sources, dict):
        raise FixRefused("[tool.uv.sources] is not a table")
    taken = [m for m in members if isinstance(sources, dict) and m in sources]
    if taken:
        raise FixRefused(f"[tool.uv.sources] already sets a source for {taken[0]}: route it by hand")
    new = text
    if name is None:
        name = INDEX_NAME
        entry = {"name": name, "url": url, "explicit": True}
        new = add_aot_entry(new, ("tool", "uv", "index"),
                            [f"name = {toml_string(name)}", f"url = {toml_string(url)}", "explicit = true"])
        index = expected.setdefault("tool", {}).setdefault("uv", {}).setdefault("index", [])
        index.append(entry)
    source = [{"index": name, "marker": UV_MARKER}]
    lines_ = [f'{m} = [{{ index = {toml_string(name)}, marker = "{UV_MARKER}" }}]' for m in members]
    uv_sources_header = any(h.path == ("tool", "uv", "sources") and not h.array for h in scan(new).headers)
    if sources is not None and not uv_sources_header:
        raise FixRefused("[tool.uv.sources] is written inline or with dotted keys: route torch by hand")
    new = add_table_entries(new, ("tool", "uv", "sources"), lines_)
    for m in members:
        _set_in(expected, ["tool", "uv", "sources", m], copy.deepcopy(source))
    return new, expected


def _poetry_edit(text: str, data: dict[str, Any], members: list[str], declared: list[DeclaredRequirement],
                 url: str) -> tuple[str, dict[str, Any]]:
    expected = copy.deepcopy(data)
    name = _reuse(_tables(data, "tool", "poetry", "source"), url, "[[tool.poetry.source]]")
    new = text
    if name is None:
        name = INDEX_NAME
        new = add_aot_entry(new, ("tool", "poetry", "source"),
                            [f"name = {toml_string(name)}", f"url = {toml_string(url)}", 'priority = "explicit"'])
        sources = expected.setdefault("tool", {}).setdefault("poetry", {}).setdefault("source", [])
        sources.append({"name": name, "url": url, "priority": "explicit"})
    poetry_tables: set[tuple[str, ...]] = {("tool", "poetry", "dependencies")}
    for group in (_tables(data, "tool", "poetry", "group") or {}):
        poetry_tables.add(("tool", "poetry", "group", group, "dependencies"))
    for member in members:
        rows = [r for r in declared if r.name == member and r.origin == "poetry"]
        if rows:
            for row in rows:
                new = _poetry_line(new, row, name, poetry_tables, expected)
        else:  # PEP 621 [project] dependency (Poetry 2): the source goes in [tool.poetry.dependencies]
            deps = _tables(data, "tool", "poetry", "dependencies")
            if isinstance(deps, dict) and member in deps:
                raise FixRefused(f"{member} is in both [project] and [tool.poetry.dependencies]: route it by hand")
            new = add_table_entries(new, ("tool", "poetry", "dependencies"),
                                    [f"{member} = {{ source = {toml_string(name)} }}"])
            _set_in(expected, ["tool", "poetry", "dependencies", member], {"source": name})
    return new, expected


_POETRY_STRING = re.compile(r"""^(\s*)(["']?)([A-Za-z0-9._-]+)\2(\s*=\s*)("[^"]*"|'[^']*')(\s*(#.*)?)$""")
_POETRY_INLINE = re.compile(r"""^(\s*)(["']?)([A-Za-z0-9._-]+)\2(\s*=\s*)\{(.*)\}(\s*(#.*)?)$""")


def _poetry_line(text: str, row: DeclaredRequirement, source: str, tables: set[tuple[str, ...]],
                 expected: dict[str, Any]) -> str:
    """``torch = "^2.1"`` -> ``torch = { version = "^2.1", source = ... }``; an inline table gets ``source``."""
    physical = lines(text)
    line = _poetry_row_line(text, row, tables)
    raw = physical[line - 1]
    body = raw.rstrip("\r\n")
    header = scan(text).table_at(line)
    if header is None or header.array or header.path not in tables:
        raise FixRefused(f"{row.name} at line {line} is not in a Poetry dependencies table")
    keys = list(header.path)
    current = _tables(expected, *keys, row.name)
    if (m := _POETRY_STRING.match(body)) is not None:
        replacement = f"{m.group(1)}{m.group(2)}{m.group(3)}{m.group(2)}{m.group(4)}{{ version = {m.group(5)}, " \
                      f"source = {toml_string(source)} }}{m.group(6)}"
        value: Any = {"version": current, "source": source}
    elif (m := _POETRY_INLINE.match(body)) is not None and isinstance(current, dict) and "source" not in current \
            and "{" not in m.group(5):
        inner = m.group(5).rstrip()
        replacement = f"{m.group(1)}{m.group(2)}{m.group(3)}{m.group(2)}{m.group(4)}{{{inner.rstrip(', ')}, " \
                      f"source = {toml_string(source)} }}{m.group(6)}"
        value = {**current, "source": source}
    else:
        raise FixRefused(f"{row.name} at line {line} is not a one-line constraint deadweight can add a source to")
    _set_in(expected, [*keys, row.name], value)
    return replace_lines(text, line, line, [replacement])


def _poetry_row_line(text: str, row: DeclaredRequirement, tables: set[tuple[str, ...]]) -> int:
    """The line of ``row`` in the current text: its recorded line when it still names it, else searched."""
    physical = lines(text)
    key = re.compile(rf"""^\s*["']?{re.escape(row.name)}["']?\s*=""", re.IGNORECASE)
    if 1 <= row.line <= len(physical) and key.match(physical[row.line - 1]):
        return row.line
    scanned = scan(text)
    for pair in scanned.pairs:
        if pair.path[:-1] in tables and pair.dotted == 1 and canonicalize_name(pair.path[-1]) == row.name:
            return scanned.line_of(pair.key_start)
    raise FixRefused(f"cannot find {row.name} in the Poetry dependencies")


def _pdm_edit(text: str, data: dict[str, Any], members: list[str], declared: list[DeclaredRequirement],
              url: str) -> tuple[str, dict[str, Any]]:
    del declared, members
    expected = copy.deepcopy(data)
    existing = _tables(data, "tool", "pdm", "source")
    name = _reuse(existing, url, "[[tool.pdm.source]]")
    if name is not None:
        raise FixRefused(f"[[tool.pdm.source]] {name!r} already serves the CPU index: bind the torch family to it "
                         "with include_packages by hand")
    family = list(FAMILY)
    entry = [f"name = {toml_string(INDEX_NAME)}", f"url = {toml_string(url)}",
             "include_packages = [" + ", ".join(toml_string(m) for m in family) + "]",
             'exclude_packages = ["*"]']
    new = add_aot_entry(text, ("tool", "pdm", "source"), entry)
    sources = expected.setdefault("tool", {}).setdefault("pdm", {}).setdefault("source", [])
    sources.append({"name": INDEX_NAME, "url": url, "include_packages": family, "exclude_packages": ["*"]})
    return new, expected


def _verify_toml(ctx: FixContext, path: Path, old: str, new: str, *, expected: dict[str, Any], parsed: Any) -> None:
    """The edited pyproject parses to the old data plus exactly the intended keys, its dependencies read the
    same to deadweight's parser, and every old line is still there unless it is one deadweight rewrote."""
    try:
        data = tomllib.loads(new)
        reparsed = parse_pyproject(new, str(path))
    except (tomllib.TOMLDecodeError, DeadweightError) as exc:
        raise FixRefused(f"the edited {ctx.workspace.display(path)} does not parse: {exc}") from None
    if data != expected:
        raise FixRefused(f"the edited {ctx.workspace.display(path)} does not hold exactly the intended change")

    def deps(result: Any) -> list[tuple[str, str, str | None]]:
        # a source-only Poetry entry (``torch = { source = ... }`` next to a [project] dependency) is no new
        # dependency: Poetry 2 merges it into the [project] one
        rows = (*result.requirements, *result.optional)
        return sorted((r.name, r.specifier, r.group) for r in rows
                      if not (r.origin == "poetry" and r.name in FAMILY and not r.specifier
                              and _poetry_source_only(data, r.name)))

    if deps(reparsed) != deps(parsed):
        raise FixRefused(f"the edit changed the dependencies deadweight reads from {ctx.workspace.display(path)}")
    _only_insertions(ctx, path, old, new)


def _poetry_source_only(data: dict[str, Any], name: str) -> bool:
    entry = _tables(data, "tool", "poetry", "dependencies", name)
    return isinstance(entry, dict) and set(entry) == {"source"}


_FAMILY_KEY = re.compile(r"""^\s*["']?(torch|torchvision|torchaudio)["']?\s*=""")


def _only_insertions(ctx: FixContext, path: Path, old: str, new: str) -> None:
    """Every old line is still there, byte for byte, except a family member's dependency line rewritten (the
    data check before makes sure into what)."""
    matcher = difflib.SequenceMatcher(a=lines(old), b=lines(new), autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op in ("equal", "insert"):
            continue
        rewritten = lines(old)[a1:a2]
        if op == "replace" and a2 - a1 <= b2 - b1 and all(_FAMILY_KEY.match(line) for line in rewritten):
            continue
        raise FixRefused(f"the edit changed lines {a1 + 1}..{a2} of {ctx.workspace.display(path)} it should have "
                         "kept")
