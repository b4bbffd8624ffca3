"""The project as its files describe it: Dockerfile stages, install commands, declared requirements, services.

Produced by ``project/`` (pure parsing, no Docker); consumed by the rules (which compare it to the image)
and by the fixers (which need exact file/line/original text to make minimal edits). Frozen, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deadweight.errors import ParseError


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A heredoc attached to an instruction (``RUN <<EOF`` / ``COPY <<EOF /file``)."""

    name: str  # the delimiter word, e.g. "EOF"
    body: str  # the text between the instruction line and the delimiter line (no trailing delimiter)
    strip_tabs: bool = False  # "<<-EOF"
    quoted: bool = False  # "<<'EOF'": no expansion inside


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction with its position, so evidence can cite it and fixers can rewrite it."""

    keyword: str  # upper-case: "RUN", "COPY", ...
    args: str  # raw text after the keyword and its --flags, continuations joined (comments dropped)
    # (name, value) for leading --name=value flags; value "" for bare flags
    flags: tuple[tuple[str, str], ...]
    start_line: int  # 1-based, first physical line
    end_line: int  # 1-based, last physical line (including heredoc bodies)
    original: str  # exact original text of lines start_line..end_line
    heredocs: tuple[Heredoc, ...] = ()

    def flag(self, name: str) -> str | None:
        """The value of the last ``--name`` flag, or None when absent."""
        found = None
        for key, value in self.flags:
            if key == name:
                found = value
        return found

    def flag_values(self, name: str) -> tuple[str, ...]:
        return tuple(value for key, value in self.flags if key == name)


@dataclass(frozen=True, slots=True)
class ExecOrShell:
    """CMD / ENTRYPOINT / RUN command: exec form keeps the JSON list, shell form the text."""

    exec_form: tuple[str, ...] | None  # None in shell form
    shell: str | None  # None in exec form

    @property
    def argv(self) -> tuple[str, ...]:
        """Best-effort argv (shell form is split on whitespace via shlex by the parser that made it)."""
        if self.exec_form is not None:
            return self.exec_form
        return ("/bin/sh", "-c", self.shell or "")


@dataclass(frozen=True)
class Stage:
    """One build stage: ``FROM base [AS name]`` and its instructions (FROM itself is ``from_instruction``)."""

    index: int
    name: str | None  # lower-cased "AS" name
    base: str  # image reference after ARG substitution, or a previous stage's name
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]
    base_stage: int | None = None  # index of the stage this one is FROM, when it inherits from a stage
    args: Mapping[str, str] = field(default_factory=dict)  # ARG values in effect at the end of the stage
    # ENV in effect at the end of the stage (inherited from a base stage)
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str | None = None
    cmd: ExecOrShell | None = None
    entrypoint: ExecOrShell | None = None

    def of(self, keyword: str) -> tuple[Instruction, ...]:
        return tuple(i for i in self.instructions if i.keyword == keyword.upper())


@dataclass(frozen=True)
class Dockerfile:
    path: str
    stages: tuple[Stage, ...]
    # parser directives: ("syntax", ...), ("escape", "`"), ("check", ...)
    directives: tuple[tuple[str, str], ...]
    global_args: Mapping[str, str] = field(default_factory=dict)  # ARGs before the first FROM (defaults)
    escape: str = "\\"
    warnings: tuple[str, ...] = ()

    def stage(self, ref: str | int) -> Stage | None:
        """A stage by index or (case-insensitive) name."""
        if isinstance(ref, int) or ref.isdigit():
            idx = int(ref)
            return self.stages[idx] if 0 <= idx < len(self.stages) else None
        for stage in self.stages:
            if stage.name == ref.lower():
                return stage
        return None

    def final_stage(self, target: str | None = None) -> Stage:
        """The stage that becomes the image: ``--target`` when given, else the last one."""
        if target:
            found = self.stage(target)
            if found is None:
                raise ParseError(f"{self.path}: build target {target!r} is not a stage")
            return found
        return self.stages[-1]

    def chain(self, stage: Stage) -> tuple[Stage, ...]:
        """The stage and the stages it inherits from (FROM <stage>), nearest first."""
        out = [stage]
        seen = {stage.index}
        while out[-1].base_stage is not None and out[-1].base_stage not in seen:
            seen.add(out[-1].base_stage)
            out.append(self.stages[out[-1].base_stage])
        return tuple(out)


@dataclass(frozen=True, slots=True)
class InstallCommand:
    """One package-manager invocation inside a RUN (or its heredoc)."""

    tool: str  # "pip", "uv", "poetry", "pdm", "conda", "mamba", "micromamba", "apt-get", "apt", "apk"
    action: str  # "install", "sync", "add", "update", "remove", ...
    # requirement strings / OS package names as written (after ARG/ENV substitution)
    packages: tuple[str, ...]
    requirement_files: tuple[str, ...] = ()  # -r files, as written (resolve against WORKDIR/context)
    constraint_files: tuple[str, ...] = ()
    editable: tuple[str, ...] = ()  # -e targets
    local_paths: tuple[str, ...] = ()  # ".", "./pkg", "/app" installs (the project itself)
    flags: tuple[str, ...] = ()  # every option as written, e.g. "--no-cache-dir", "--index-url=URL"
    index_urls: tuple[str, ...] = ()  # --index-url / -i
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_cache: bool = False  # --no-cache-dir / --no-cache / PIP_NO_CACHE_DIR / apk --no-cache
    no_install_recommends: bool = False
    cache_mount: bool = False  # RUN --mount=type=cache
    # rm -rf /var/lib/apt/lists/*, apt-get clean, pip cache purge ... in the same RUN
    cleans_cache: bool = False
    # every cleanup in the same RUN: "apt-lists", "apt-clean", "pip-cache", "uv-cache", "conda-clean", ...
    cleanups: tuple[str, ...] = ()
    stage_index: int = 0
    line: int = 0  # start line of the RUN instruction
    end_line: int = 0
    command: str = ""  # the shell command text this came from


@dataclass(frozen=True, slots=True)
class DeclaredRequirement:
    """A dependency the project declares, with where it is declared (for evidence and edits)."""

    name: str  # canonical
    specifier: str  # "" when unpinned
    extras: tuple[str, ...]
    marker: str | None
    source_file: str
    line: int  # 1-based; 0 when unknown
    raw: str  # the original requirement text (logical line, continuations joined)
    ignores: tuple[str, ...] = ()  # rule ids from "# deadweight: ignore[DW201]" ("*" = all)
    # "requirements" | "pyproject" | "poetry" | "pdm" | "uv" | "dockerfile-run" | ...
    origin: str = "requirements"
    url: str | None = None  # direct reference / VCS url
    editable: bool = False
    group: str | None = None  # optional-dependency extra / poetry group / dependency-group
    end_line: int = 0  # last physical line (continuations), 0 = same as line

    @property
    def pinned(self) -> bool:
        return self.specifier.startswith("==") and "," not in self.specifier and "*" not in self.specifier


@dataclass(frozen=True, slots=True)
class RequirementsOption:
    """A global option line in a requirements file (index urls, find-links, trusted hosts)."""

    name: str  # "--index-url", "--extra-index-url", "--find-links", "--trusted-host", "--no-binary", ...
    value: str
    source_file: str
    line: int


@dataclass(frozen=True, slots=True)
class LockedPackage:
    name: str  # canonical
    version: str
    source_file: str
    source: str | None = None  # registry / url / path as the lock file says


@dataclass(frozen=True, slots=True)
class GpuRequest:
    """Whether the deployment asks for a GPU, and why we think so (file:line or key paths)."""

    requested: bool = False
    evidence: tuple[str, ...] = ()

    @classmethod
    def none(cls) -> GpuRequest:
        return cls(False, ())


@dataclass(frozen=True, slots=True)
class ShippedFile:
    """A build-context file that lands in the final image via COPY/ADD."""

    context_path: str  # relative to the build context, posix
    image_path: str  # absolute path inside the image
    size_bytes: int
    line: int = 0  # COPY/ADD line
    from_stage: str | None = None  # set when it comes via COPY --from=<stage> (copied there from the context)


@dataclass(frozen=True)
class Service:
    name: str
    context_dir: str | None
    dockerfile: Dockerfile | None
    image: str | None
    command: tuple[str, ...] | str | None = None  # compose list or string; None when unset
    entrypoint: tuple[str, ...] | str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_limit_bytes: int | None = None
    gpu: GpuRequest = field(default_factory=GpuRequest.none)
    requirements: tuple[DeclaredRequirement, ...] = ()
    requirement_options: tuple[RequirementsOption, ...] = ()
    # install commands of the final stage, the stages it inherits from and those it copies from
    installs: tuple[InstallCommand, ...] = ()
    locked: tuple[LockedPackage, ...] = ()
    scripts: Mapping[str, str] = field(default_factory=dict)  # [project.scripts] name -> "module:attr"
    build_target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    dockerfile_path: str | None = None  # even when it could not be parsed
    compose_file: str | None = None
    compose_line: int = 0
    healthcheck: tuple[str, ...] | str | None = None
    profiles: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    mem_limit_evidence: str | None = None  # "compose.yaml:12" where the limit is set
    shipped: tuple[ShippedFile, ...] = ()  # context files that land in the final image, sorted by image path
    context_file_count: int = 0  # files sent as build context (after .dockerignore)
    context_bytes: int = 0
    dockerignore: str | None = None  # the ignore file in effect, if any
    project_name: str | None = None  # canonical [project]/[tool.poetry] name, when the service installs it
    load_error: str | None = None  # one line naming file:line when this service could not be loaded
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project:
    root: str
    services: tuple[Service, ...]
    warnings: tuple[str, ...] = ()
    compose_file: str | None = None

    def service(self, name: str) -> Service | None:
        for svc in self.services:
            if svc.name == name:
                return svc
        return None
