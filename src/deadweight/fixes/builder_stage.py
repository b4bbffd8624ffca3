"""DW301: the final stage rewritten into a builder stage that compiles and a runtime stage that copies only
the result, installing there exactly the OS packages the compiled extensions load.

Two shapes. A final stage that installs the toolchain and pip-installs its requirements becomes::

    FROM base AS build              the toolchain install, the WORKDIR/COPY the pip install reads,
                                    RUN python3 -m venv --system-site-packages /opt/venv, ENV PATH,
                                    the pip install(s) as written
    FROM base [AS name]             the runtime OS packages (libpq5 for libpq-dev), COPY --from=build /opt/venv,
                                    ENV PATH, then every other instruction of the old final stage, in order

A final stage that already copies its packages from a builder stage (and only installs what that stage
built) keeps its shape: the toolchain install moves into the builder stage. Everything before the final
stage's FROM and after its last instruction stays byte-identical; the result is re-parsed and checked.
Anything that could make the rebuilt image fail (the toolchain used at runtime, installs that cannot move,
a RUN mixing the toolchain with work that cannot be split off) is refused with the reason.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deadweight.errors import ParseError
from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.builder_libs import Family, release, runtime_for_installed
from deadweight.fixes.builder_runtime import check_runtime
from deadweight.fixes.builder_shell import and_segments, classify, compiler_words, instruction_scripts
from deadweight.fixes.text import line_ending, lines
from deadweight.inventory.ospackages import is_toolchain
from deadweight.model.project import Dockerfile, InstallCommand, Instruction, Stage
from deadweight.model.remedy import SplitBuilderStage
from deadweight.project.dockerfile import copy_sources_and_dest, parse_dockerfile
from deadweight.project.installs import run_installs, split_commands

__all__ = ["VENV", "split"]

VENV = "/opt/venv"
_PATH_ENV = f'ENV PATH="{VENV}/bin:$PATH"'
_OTHER_PY = frozenset({"uv", "poetry", "pdm", "conda", "mamba", "micromamba"})
_RUNTIME_ONLY = frozenset({"EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "LABEL", "VOLUME", "STOPSIGNAL",
                           "MAINTAINER", "ONBUILD"})
_BAD_PIP_FLAGS = ("--user", "--target", "-t", "--prefix", "--root", "--system", "-e", "--editable")
_BAD_ENV = ("PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PYTHONHOME", "PYTHONUSERBASE", "VIRTUAL_ENV")


def split(edit: SplitBuilderStage, ctx: FixContext) -> None:
    if not edit.file:
        raise FixRefused("the finding does not say which Dockerfile installs the toolchain")
    text = ctx.workspace.text(edit.file)
    dockerfile = _parse(text, edit.file, ctx)
    final = dockerfile.final_stage(ctx.service.build_target) if ctx.service.build_target else dockerfile.stages[-1]
    if final.from_instruction.original != edit.original:
        raise FixRefused(f"the final stage's FROM is no longer {edit.original.strip()!r}: run the audit again")
    stage = _StageView.of(dockerfile, final)
    if not stage.toolchain_runs:
        for parent in dockerfile.chain(final)[1:]:
            if _StageView.of(dockerfile, parent).toolchain_runs:
                raise FixRefused(f"the toolchain is installed in stage {parent.name or parent.index}, which the "
                                 "final stage is built FROM: move it by hand")
        return  # already split (a second run): nothing to do
    if final.base_stage is not None:
        raise FixRefused(f"the final stage is built FROM stage {final.base}: split it by hand")
    for other in dockerfile.stages:
        if other.index != final.index and _references(other, final, dockerfile.escape):
            raise FixRefused(f"stage {other.name or other.index} builds on the final stage; splitting it would "
                             "change that stage")
    for later in dockerfile.stages[final.index + 1:]:
        if any(ins.keyword in ("COPY", "ADD") and (ins.flag("from") or "").isdigit() for ins in later.instructions):
            raise FixRefused(f"stage {later.name or later.index} copies from a stage by number, which the new "
                             "builder stage would shift")
    if any(ins.keyword == "SHELL" for ins in final.instructions):
        raise FixRefused("the final stage sets SHELL: the RUN lines the fix writes assume /bin/sh")
    family = stage.family()
    libs = _runtime_packages(stage, family, ctx)
    install = _runtime_install(libs, family, upgrade=stage.upgrades(), recommends=stage.user_recommends())
    if not stage.pip_runs:
        check_runtime(stage.kept_instructions(), ctx, venv=False)
        builder = _builder_of(dockerfile, final, family)
        new_text = _move_to_builder(text, dockerfile, final=final, view=stage, builder=builder, install=install)
        _verify_moved(text, new_text, old=dockerfile, final=final, view=stage, builder=builder, install=install,
                      path=edit.file, ctx=ctx)
        ctx.notes.append(f"the toolchain install moved to the existing builder stage {builder.name or builder.index}")
        ctx.workspace.set(edit.file, new_text)
        return
    check_runtime(stage.kept_instructions(), ctx)
    new_block = _split_venv(text, dockerfile, final, stage, install)
    new_text = _splice(text, final, new_block)
    _verify(text, new_text, old=dockerfile, final=final, view=stage, install=install, path=edit.file, ctx=ctx)
    ctx.workspace.set(edit.file, new_text)


# ---------------------------------------------------------------------------------------------------------
# reading the final stage


def _parse(text: str, path: str, ctx: FixContext) -> Dockerfile:
    try:
        return parse_dockerfile(text, path, dict(ctx.service.build_args))
    except ParseError as exc:
        raise FixRefused(f"cannot parse {Path(path).name}: {exc}") from None


def _references(other: Stage, final: Stage, escape: str) -> bool:
    names = {str(final.index)} | ({final.name} if final.name else set())
    if other.base_stage == final.index:
        return True
    for ins in other.instructions:
        if ins.keyword in ("COPY", "ADD") and (ins.flag("from") or "").lower() in names:
            return True
        if ins.keyword == "RUN" and any((v.split("from=")[-1].split(",")[0] if "from=" in v else "") in names
                                        for v in ins.flag_values("mount")):
            return True
    return False


@dataclass
class _StageView:
    """The final stage's instructions, with what each RUN installs."""

    stage: Stage
    escape: str
    installs: dict[int, list[InstallCommand]] = field(default_factory=dict)  # by instruction index
    toolchain_runs: list[int] = field(default_factory=list)
    pip_runs: list[int] = field(default_factory=list)
    split_runs: dict[int, tuple[str, str]] = field(default_factory=dict)  # index -> (build RUN, runtime RUN)

    @classmethod
    def of(cls, dockerfile: Dockerfile, stage: Stage) -> _StageView:
        view = cls(stage, dockerfile.escape)
        scope: dict[str, str] = dict(stage.args)
        for idx, ins in enumerate(stage.instructions):
            if ins.keyword != "RUN":
                continue
            cmds = run_installs(ins, scope, stage.env, stage.index, dockerfile.escape)
            view.installs[idx] = cmds
            if any(c.tool in ("apt-get", "apt", "apk") and any(is_toolchain(_bare(p)) for p in c.packages)
                   for c in cmds):
                view.toolchain_runs.append(idx)
            if any(c.tool == "pip" and c.action in ("install", "wheel") for c in cmds):
                view.pip_runs.append(idx)
        return view

    @property
    def moved(self) -> list[int]:
        return sorted(set(self.toolchain_runs) | set(self.pip_runs))

    def family(self) -> Family:
        tools = {c.tool for i in self.toolchain_runs for c in self.installs[i] if c.tool in ("apt-get", "apt", "apk")}
        if tools == {"apk"}:
            return "alpine"
        if tools and "apk" not in tools:
            return "debian"
        raise FixRefused("the toolchain is installed with both apt and apk")

    def os_packages(self) -> list[str]:
        """Every package (as written) the toolchain RUNs install, in order."""
        out: list[str] = []
        for i in self.toolchain_runs:
            for c in self.installs[i]:
                if c.tool in ("apt-get", "apt", "apk") and c.action in ("install", "add", "reinstall"):
                    out.extend(p for p in c.packages if p not in out)
        return out

    def user_recommends(self) -> bool:
        """Whether packages the user named (not toolchain) were installed with their Recommends."""
        return any(c.tool in ("apt-get", "apt") and not c.no_install_recommends
                   and any(not is_toolchain(_bare(p)) for p in c.packages)
                   for i in self.toolchain_runs for c in self.installs[i])

    def upgrades(self) -> bool:
        return any(classify(argv) == "os" and any(w in ("upgrade", "dist-upgrade") for w in argv)
                   for i in self.toolchain_runs
                   for argv in split_commands(" ; ".join(instruction_scripts(self.stage.instructions[i]))))

    def kept_instructions(self) -> list[Instruction]:
        """What stays in the runtime stage (RUNs that split keep only their other part, checked apart)."""
        moved = set(self.moved)
        return [ins for i, ins in enumerate(self.stage.instructions) if i not in moved]


def _bare(spec: str) -> str:
    return re.split(r"[=:<>~]", spec, maxsplit=1)[0]


def _check_moved_run(view: _StageView, idx: int) -> None:
    """A RUN that moves must be build work only; one that also does independent other work is split."""
    ins = view.stage.instructions[idx]
    scripts = instruction_scripts(ins)
    argvs = [argv for s in scripts for argv in split_commands(s)]
    parts = [classify(argv) for argv in argvs]
    for argv, part in zip(argvs, parts, strict=True):
        if part == "pip":
            _check_pip(argv, ins)
    if "other" not in parts:
        return
    form = _shell_text(ins)
    segments = and_segments(form) if form is not None else None
    if segments is None or ins.heredocs:
        raise FixRefused(f"the RUN at line {ins.start_line} mixes the toolchain or pip install with other work "
                         "in a way that cannot be split: split it by hand")
    build: list[str] = []
    runtime: list[str] = []
    for seg in segments:
        seg_parts = {classify(argv) for argv in split_commands(seg)}
        if seg_parts <= {"os", "pip", "cleanup"}:
            build.append(seg)
        elif "neutral" in seg_parts and seg_parts <= {"neutral"}:
            if any(argv and argv[0] == "cd" for argv in split_commands(seg)):
                raise FixRefused(f"the RUN at line {ins.start_line} changes directory before work that would "
                                 "be split off: split it by hand")
            build.append(seg)
        else:
            if compiler_words([seg]):
                raise FixRefused(f"the RUN at line {ins.start_line} runs {compiler_words([seg])[0]} with the "
                                 "toolchain: it is needed where that work happens")
            runtime.append(seg)
    flags = "".join(f"--{k}={v} " if v else f"--{k} " for k, v in ins.flags)
    view.split_runs[idx] = (f"RUN {flags}" + " && ".join(build), "RUN " + " && ".join(runtime))


def _shell_text(ins: Instruction) -> str | None:
    text = ins.args.strip()
    return None if text.startswith("[") else text


def _check_pip(argv: list[str], ins: Instruction) -> None:
    words = [w for w in argv if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)]
    if words and words[0] == "sudo":
        raise FixRefused(f"the pip install at line {ins.start_line} runs through sudo, which resets PATH: the venv "
                         "would not be used")
    if words and "/" in words[0] and not words[0].startswith(VENV + "/"):
        raise FixRefused(f"the pip install at line {ins.start_line} runs {words[0]}, not the venv's: split it by "
                         "hand")
    for word in argv:
        name = word.split("=", 1)[0]
        if name in _BAD_PIP_FLAGS:
            raise FixRefused(f"the pip install at line {ins.start_line} uses {name}, which a virtual environment "
                             "does not take: split it by hand")


def _runtime_packages(view: _StageView, family: Family, ctx: FixContext) -> list[str]:
    """Non-toolchain packages the toolchain RUNs install, then the runtime libraries of its -dev packages."""
    for idx in view.moved:
        _check_moved_run(view, idx)
    for idx, cmds in view.installs.items():
        ins = view.stage.instructions[idx]
        for c in cmds:
            if c.tool in _OTHER_PY:
                raise FixRefused(f"the final stage installs Python packages with {c.tool} (line {ins.start_line}): "
                                 "only pip installs are moved to the builder stage")
    specs = view.os_packages()
    plain = [p for p in specs if not is_toolchain(_bare(p))]
    libs = runtime_for_installed(specs, family)
    out = list(dict.fromkeys([*plain, *libs.packages, *libs.kept]))
    mode = "measured" if not ctx.finding.estimated else "static"
    where = f"{family} {release(family)}"
    ctx.notes.append(
        f"runtime OS packages from the -dev → runtime table ({where}): {', '.join(out) or 'none'}"
        + (" (the audit measured an image; reading the extensions' DT_NEEDED is not implemented, so the table "
           "was used)" if mode == "measured" else ""))
    if libs.kept:
        ctx.notes.append(f"no runtime package known for {', '.join(libs.kept)}: kept in the final stage")
    return out


# ---------------------------------------------------------------------------------------------------------
# writing


@dataclass
class _Out:
    """The new text of the final stage's region, line by line (each line with its ending)."""

    nl: str
    parts: list[str] = field(default_factory=list)

    def raw(self, text: str) -> None:
        self.parts.append(text)

    def line(self, text: str) -> None:
        self.parts.append(text + self.nl)

    def text(self) -> str:
        return "".join(self.parts)


def _leading(all_lines: list[str], stage: Stage, idx: int) -> str:
    """The comment and blank lines just before instruction ``idx`` (they travel with it)."""
    prev_end = stage.instructions[idx - 1].end_line if idx else stage.from_instruction.end_line
    return "".join(all_lines[prev_end : stage.instructions[idx].start_line - 1])


def _ensure_ending(text: str, nl: str) -> str:
    return text if text.endswith(("\n", "\r")) else text + nl


def _build_name(dockerfile: Dockerfile) -> str:
    taken = {s.name for s in dockerfile.stages if s.name}
    for name in ("build", "builder", *(f"build-{n}" for n in range(2, 100))):
        if name not in taken:
            return name
    raise FixRefused("no free stage name for the builder stage")


def _from_line(stage: Stage, name: str) -> str:
    ins = stage.from_instruction
    flags = " ".join(f"--{k}={v}" if v else f"--{k}" for k, v in ins.flags)
    image = ins.args.split()[0]
    return " ".join(p for p in ("FROM", flags, image, "AS", name) if p)


def _runtime_install(packages: Sequence[str], family: Family, *, upgrade: bool, recommends: bool) -> str | None:
    """The RUN that installs the runtime packages. ``recommends``: the user's own packages came with their
    Recommends before (curl's ca-certificates), so they still do."""
    if not packages and not upgrade:
        return None
    if family == "alpine":
        steps = [*(["apk upgrade --no-cache"] if upgrade else []),
                 *([f"apk add --no-cache {' '.join(packages)}"] if packages else [])]
        return "RUN " + " && ".join(steps)
    steps = ["apt-get update"]
    if upgrade:
        steps.append("apt-get upgrade -y")
    if packages:
        flag = "" if recommends else " --no-install-recommends"
        steps.append(f"apt-get install -y{flag} {' '.join(packages)}")
    steps += ["apt-get clean", "rm -rf /var/lib/apt/lists/*"]  # clean: apt's *.bin caches, tens of MB
    return "RUN " + " && ".join(steps)


def _split_venv(text: str, dockerfile: Dockerfile, final: Stage, view: _StageView, install: str | None) -> str:
    """The final stage as a builder stage with a venv and a runtime stage that copies it."""
    all_lines = lines(text)
    nl = line_ending(text)
    instrs = final.instructions
    name = _build_name(dockerfile)
    moved = set(view.moved)
    first_pip, last_pip = min(view.pip_runs), max(view.pip_runs)
    user: Instruction | None = None
    for i, ins in enumerate(instrs[:last_pip + 1]):
        if ins.keyword == "USER":
            user = None if ins.args.strip().split(":")[0] in ("root", "0") else ins
        if i in view.pip_runs and user is not None:
            raise FixRefused(f"the pip install at line {ins.start_line} runs as USER {user.args.strip()} "
                             f"(line {user.start_line}): split it by hand")
        if ins.keyword == "RUN" and re.search(r"-m\s+venv\b|\bvirtualenv\b", ins.args):
            raise FixRefused(f"the final stage already makes a virtual environment (line {ins.start_line}): "
                             "split it by hand")
    for ins in instrs:
        _check_env(ins)
    copies = _needed_copies(view, last_pip, dockerfile.escape)
    out = _Out(nl)
    out.line(_from_line(final, name))
    for i, ins in enumerate(instrs[: max(moved) + 1]):
        if i > last_pip and i not in moved:
            continue  # after the last pip install only the toolchain installs matter here
        if i == first_pip:
            out.line(f"RUN python3 -m venv --system-site-packages {VENV}")
            out.line(_PATH_ENV)
        if i in moved:
            out.raw(_leading(all_lines, final, i))
            built = view.split_runs.get(i)
            out.raw(_ensure_ending(ins.original, nl) if built is None else built[0] + nl)
        elif ins.keyword in ("ARG", "ENV", "WORKDIR", "USER", "RUN") or (ins.keyword in ("COPY", "ADD")
                                                                          and i in copies):
            out.raw(_ensure_ending(ins.original, nl))
    out.line("")
    out.raw(final.from_instruction.original)
    anchor = min(moved)
    for i, ins in enumerate(instrs):
        lead = _leading(all_lines, final, i)
        if i == anchor:
            if lead[:1] in ("\n", "\r"):
                out.line("")
            if install:
                out.line(install)
            out.line(f"COPY --from={name} {VENV} {VENV}")
            out.line(_PATH_ENV)
        if i in moved:
            built = view.split_runs.get(i)
            if built is not None and built[1] != "RUN ":
                out.line(built[1])
            continue
        out.raw(lead)
        out.raw(_ensure_ending(ins.original, nl))
    return out.text()


def _check_env(ins: Instruction) -> None:
    if ins.keyword != "ENV":
        return
    for name in _BAD_ENV:
        if re.search(rf"(^|\s){name}[=\s]", ins.args):
            raise FixRefused(f"the final stage sets {name} (line {ins.start_line}), which a virtual environment "
                             "changes the meaning of: split it by hand")
    if re.search(r"(^|\s)PATH[=\s]", ins.args) and not re.search(r"\$\{?PATH\b", ins.args):
        raise FixRefused(f"the ENV at line {ins.start_line} sets PATH without $PATH: the venv's bin would be lost")


def _workdirs(stage: Stage, escape: str) -> list[str | None]:
    """The WORKDIR in effect at each instruction (None while unknown: the base image's)."""
    out: list[str | None] = []
    cur: str | None = None
    for ins in stage.instructions:
        if ins.keyword == "WORKDIR":
            wd = ins.args.strip().strip("\"'")
            if "$" in wd:
                cur = None
            elif wd.startswith("/"):
                cur = posixpath.normpath(wd)
            elif cur is not None:
                cur = posixpath.normpath(posixpath.join(cur, wd))
        out.append(cur)
    del escape
    return out


def _needed_copies(view: _StageView, last_pip: int, escape: str) -> set[int]:
    """The COPY/ADD instructions before the last pip install that it reads (by destination path). Every one
    of them when unsure: paths with variables, a ``cd``, or other RUNs before the pip install that may read
    what was copied."""
    instrs = view.stage.instructions
    candidates = {i for i, ins in enumerate(instrs[:last_pip]) if ins.keyword in ("COPY", "ADD")}
    workdirs = _workdirs(view.stage, escape)
    moved = set(view.moved)
    for i, ins in enumerate(instrs[:last_pip]):
        if ins.keyword == "RUN" and i not in moved and not all(
                classify(argv) in ("os", "cleanup", "neutral")
                for s in instruction_scripts(ins) for argv in split_commands(s)):
            return candidates
    paths: list[str] = []
    for i in view.pip_runs:
        if any(argv and argv[0] == "cd" for s in instruction_scripts(instrs[i]) for argv in split_commands(s)):
            return candidates
        for cmd in view.installs[i]:
            if cmd.tool != "pip":
                continue
            for p in (*cmd.requirement_files, *cmd.constraint_files, *cmd.local_paths, *cmd.editable):
                resolved = _resolve(p, workdirs[i])
                if resolved is None:
                    return candidates
                paths.append(resolved)
                if p in (*cmd.requirement_files, *cmd.constraint_files):
                    paths.append(posixpath.dirname(resolved))  # what the file refers to, relative to it
    needed: set[int] = set()
    for i in candidates:
        ins = instrs[i]
        try:
            _sources, dest = copy_sources_and_dest(ins, escape, {})
        except ValueError:
            return candidates
        resolved = _resolve(dest.rstrip("/") or "/", workdirs[i])
        if resolved is None:
            return candidates
        if any(_related(p, resolved) for p in paths):
            needed.add(i)
    return needed


def _resolve(path: str, workdir: str | None) -> str | None:
    if "$" in path or "*" in path:
        return None
    if path.startswith("/"):
        return posixpath.normpath(path)
    if workdir is None:
        return None
    return posixpath.normpath(posixpath.join(workdir, path))


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def _splice(text: str, final: Stage, block: str) -> str:
    all_lines = lines(text)
    start = final.from_instruction.start_line
    end = final.instructions[-1].end_line if final.instructions else final.from_instruction.end_line
    if not all_lines[end - 1].endswith(("\n", "\r")) and block.endswith(("\n", "\r")):
        block = block.rstrip("\r\n")
    return "".join(all_lines[: start - 1]) + block + "".join(all_lines[end:])


def _verify(old_text: str, new_text: str, *, old: Dockerfile, final: Stage, view: _StageView,
            install: str | None, path: str, ctx: FixContext) -> None:
    """Re-parse the result and check the intended structure; ``FixRefused`` when anything else changed."""
    new = _parse(new_text, path, ctx)
    if len(new.stages) != len(old.stages) + 1:
        raise FixRefused(f"internal check failed: {len(new.stages)} stages after the split, not "
                         f"{len(old.stages) + 1}")
    old_lines, new_lines = lines(old_text), lines(new_text)
    start = final.from_instruction.start_line
    end = final.instructions[-1].end_line if final.instructions else final.from_instruction.end_line
    tail = len(old_lines) - end
    if old_lines[: start - 1] != new_lines[: start - 1] or (tail and old_lines[-tail:] != new_lines[-tail:]):
        raise FixRefused("internal check failed: text outside the final stage changed")
    for a, b in zip(old.stages[: final.index], new.stages[: final.index], strict=True):
        if a.from_instruction.original != b.from_instruction.original or \
                [i.original for i in a.instructions] != [i.original for i in b.instructions]:
            raise FixRefused("internal check failed: an earlier stage changed")
    build, runtime = new.stages[final.index], new.stages[final.index + 1]
    if build.base != final.base or build.platform != final.platform:
        raise FixRefused("internal check failed: the builder stage is not FROM the final stage's base")
    if runtime.from_instruction.original != final.from_instruction.original:
        raise FixRefused("internal check failed: the runtime stage's FROM changed")
    build_text = [i.original for i in build.instructions]
    for idx in view.moved:
        want = view.split_runs[idx][0] if idx in view.split_runs else final.instructions[idx].original
        if not any(t.strip() == want.strip() for t in build_text):
            raise FixRefused(f"internal check failed: line {final.instructions[idx].start_line} is not in the "
                             "builder stage")
    expected: list[str] = []
    moved = set(view.moved)
    for idx, ins in enumerate(final.instructions):
        if idx == min(moved):
            expected.extend([*([install] if install else []), f"COPY --from={build.name} {VENV} {VENV}", _PATH_ENV])
        if idx not in moved:
            expected.append(ins.original.strip())
        elif idx in view.split_runs and view.split_runs[idx][1] != "RUN ":
            expected.append(view.split_runs[idx][1])
    if [i.original.strip() for i in runtime.instructions] != expected:
        raise FixRefused("internal check failed: the runtime stage does not keep the final stage's instructions")
    for cmd in (c for ins in runtime.instructions if ins.keyword == "RUN"
                for c in run_installs(ins, dict(runtime.args), runtime.env, runtime.index, new.escape)):
        extra = [p for p in cmd.packages if is_toolchain(_bare(p)) and not p.endswith(("-dev", "-headers"))]
        if cmd.tool in ("apt-get", "apt", "apk") and extra:
            raise FixRefused(f"internal check failed: the runtime stage still installs {', '.join(extra)}")


# ---------------------------------------------------------------------------------------------------------
# the final stage already copies its packages from a builder stage


def _python_runs(dockerfile: Dockerfile, stage: Stage) -> list[int]:
    out = []
    for idx, ins in enumerate(stage.instructions):
        if ins.keyword == "RUN" and any(
                c.tool in ("pip", "uv", "poetry", "pdm") and c.action in ("install", "wheel", "sync", "add")
                for c in run_installs(ins, dict(stage.args), stage.env, stage.index, dockerfile.escape)):
            out.append(idx)
    return out


def _builder_of(dockerfile: Dockerfile, final: Stage, family: Family) -> Stage:
    """The one earlier stage the final stage COPYs from that installs Python packages."""
    refs = {(ins.flag("from") or "").lower() for ins in final.instructions if ins.keyword in ("COPY", "ADD")}
    found = [s for s in dockerfile.stages[: final.index]
             if (s.name in refs or str(s.index) in refs) and _python_runs(dockerfile, s)]
    if len(found) != 1:
        raise FixRefused("the final stage installs the toolchain but no pip install in it uses it, and it copies "
                         "from no single builder stage that installs Python packages: split it by hand")
    builder = found[0]
    root = dockerfile.chain(builder)[-1]
    tools = {c.tool for s in dockerfile.chain(builder) for c in _stage_os_installs(dockerfile, s)}
    same = root.base == final.base or (tools and (tools == {"apk"}) == (family == "alpine"))
    if not same:
        raise FixRefused(f"the builder stage is FROM {root.base}, the final stage FROM {final.base}: the toolchain "
                         "install may not work there; move it by hand")
    return builder


def _stage_os_installs(dockerfile: Dockerfile, stage: Stage) -> list[InstallCommand]:
    return [c for ins in stage.instructions if ins.keyword == "RUN"
            for c in run_installs(ins, dict(stage.args), stage.env, stage.index, dockerfile.escape)
            if c.tool in ("apt-get", "apt", "apk")]


def _move_to_builder(text: str, dockerfile: Dockerfile, *, final: Stage, view: _StageView, builder: Stage,
                     install: str | None) -> str:
    """The toolchain install RUN(s) inserted into ``builder`` before its first Python install; the final stage
    keeps everything else, with the runtime OS packages where the toolchain install was."""
    all_lines = lines(text)
    nl = line_ending(text)
    have = {_bare(p) for c in _stage_os_installs(dockerfile, builder) for p in c.packages}
    wanted = {_bare(p) for p in view.os_packages()}
    moved_text = ""
    if not wanted <= have:
        parts = _Out(nl)
        for i in view.toolchain_runs:
            built = view.split_runs.get(i)
            parts.raw(_leading(all_lines, final, i).lstrip("\r\n"))
            parts.raw(_ensure_ending(final.instructions[i].original, nl) if built is None else built[0] + nl)
        moved_text = parts.text()
    out = _Out(nl)
    out.raw(final.from_instruction.original)
    anchor = min(view.toolchain_runs)
    for i, ins in enumerate(final.instructions):
        lead = _leading(all_lines, final, i)
        if i == anchor:
            if lead[:1] in ("\n", "\r"):
                out.line("")
            if install:
                out.line(install)
        if i in view.toolchain_runs:
            built = view.split_runs.get(i)
            if built is not None and built[1] != "RUN ":
                out.line(built[1])
            continue
        out.raw(lead)
        out.raw(_ensure_ending(ins.original, nl))
    new_text = _splice(text, final, out.text())
    if not moved_text:
        return new_text
    first = _python_runs(dockerfile, builder)[0]
    at = builder.instructions[first - 1].end_line if first else builder.from_instruction.end_line
    new_lines = lines(new_text)
    return "".join(new_lines[:at]) + moved_text + "".join(new_lines[at:])


def _verify_moved(old_text: str, new_text: str, *, old: Dockerfile, final: Stage, view: _StageView,
                  builder: Stage, install: str | None, path: str, ctx: FixContext) -> None:
    new = _parse(new_text, path, ctx)
    if len(new.stages) != len(old.stages):
        raise FixRefused("internal check failed: the number of stages changed")
    for a, b in zip(old.stages, new.stages, strict=True):
        if a.index in (builder.index, final.index):
            continue
        if [i.original for i in a.instructions] != [i.original for i in b.instructions]:
            raise FixRefused("internal check failed: a stage other than the builder and the final one changed")
    moved = {final.instructions[i].original.strip() if i not in view.split_runs else view.split_runs[i][0]
             for i in view.toolchain_runs}
    new_builder = [i.original.strip() for i in new.stages[builder.index].instructions]
    old_builder = [i.original.strip() for i in builder.instructions]
    if [t for t in new_builder if t not in moved] != old_builder:
        raise FixRefused("internal check failed: the builder stage lost or changed an instruction")
    expected: list[str] = []
    for idx, ins in enumerate(final.instructions):
        if idx == min(view.toolchain_runs) and install:
            expected.append(install)
        if idx not in view.toolchain_runs:
            expected.append(ins.original.strip())
        elif idx in view.split_runs and view.split_runs[idx][1] != "RUN ":
            expected.append(view.split_runs[idx][1])
    if [i.original.strip() for i in new.stages[final.index].instructions] != expected:
        raise FixRefused("internal check failed: the final stage does not keep its other instructions")
    old_lines, new_lines = lines(old_text), lines(new_text)
    head = (builder.instructions[_python_runs(old, builder)[0] - 1].end_line if _python_runs(old, builder)[0]
            else builder.from_instruction.end_line)
    end = final.instructions[-1].end_line
    tail = len(old_lines) - end
    if old_lines[:head] != new_lines[:head] or (tail and old_lines[-tail:] != new_lines[-tail:]):
        raise FixRefused("internal check failed: text outside the builder and final stages changed")
