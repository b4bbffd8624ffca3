"""What every RUN installs: package-manager invocations found in shell commands.

Why: DW101/DW201/DW302/DW304 need to know which packages a Dockerfile asks for, from which requirement files
and with which flags, and whether the same RUN cleans the caches it creates. Shell text is split the way a
POSIX shell would (shellwords.simple_commands), then each simple command is matched against the installers.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from deadweight.model.project import Dockerfile, InstallCommand, Instruction, Stage
from deadweight.project.dockerfile import parse_exec_or_shell
from deadweight.project.shellwords import expand_vars, parse_key_values, simple_commands, split_words

__all__ = [
    "PIP_VALUE_OPTS",
    "PREFIX_WORDS",
    "SHELLS",
    "SHELL_C_FLAGS",
    "command_start",
    "extract_installs",
    "run_installs",
    "run_scripts",
    "split_commands",
    "stage_installs",
]

# the words before a program that do not name it (wrappers, shell keywords); the fixers skip them the same way
PREFIX_WORDS = frozenset(
    {"sudo", "time", "exec", "command", "nohup", "then", "do", "else", "if", "while", "until", "!", "{", "}",
     "set", "env", "xargs"}
)  # fmt: skip
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})
# ``sh -c SCRIPT`` spellings whose script the extractor reads into
SHELL_C_FLAGS = ("-c", "-ec", "-exc")

# pip/uv options that take a value (so the value is not mistaken for a package)
PIP_VALUE_OPTS = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
        "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--trusted-host",
        "--platform", "--python-version", "--implementation", "--abi", "--only-binary", "--no-binary",
        "--progress-bar", "--cache-dir", "--src", "--upgrade-strategy", "--global-option", "--install-option",
        "-C", "--config-settings", "--log", "--timeout", "--retries", "--proxy", "--cert", "--client-cert",
        "--exists-action", "--python", "-p", "--report", "--root-user-action", "--use-feature",
        "--use-deprecated", "--index", "--default-index", "--index-strategy", "--keyring-provider",
        "--resolution", "--prerelease", "--exclude-newer", "--link-mode", "--compile-bytecode-opt",
        "--override", "--build-constraint", "-b", "--group", "--extra", "--only-group", "--no-group",
        "--package", "--directory", "--project", "--with", "-w", "--with-requirements", "-E", "--extras",
        "--only", "--without", "--dev-group", "-G",
    }
)  # fmt: skip
_CONDA_VALUE_OPTS = frozenset(
    {"-c", "--channel", "-n", "--name", "-p", "--prefix", "--file", "-r", "--root-prefix"}
)
_APT_VALUE_OPTS = frozenset({"-o", "--option", "-t", "--target-release", "-c", "--config-file"})
_APK_VALUE_OPTS = frozenset({"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch", "--keys-dir"})

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_APT_CLEAN = re.compile(r"(^|\s)rm\s+(-\w+\s+)*[^;&|]*?/var/lib/apt/lists")
_PIP_CACHE_RM = re.compile(
    r"(^|\s)rm\s+(-\w+\s+)*[^;&|]*?(\.cache/pip|\.cache(\s|/\*|/?$|\s*[;&|])|/root/\.cache)"
)
_UV_CACHE_RM = re.compile(r"(^|\s)rm\s+(-\w+\s+)*[^;&|]*?\.cache/uv")
_APK_CACHE_RM = re.compile(r"(^|\s)rm\s+(-\w+\s+)*[^;&|]*?/var/cache/apk")


@dataclass
class _Hygiene:
    """Cache cleanup seen anywhere in the same RUN (order does not matter for the layer's final contents)."""

    seen: set[str] = field(default_factory=set)


@dataclass
class _Builder:
    tool: str
    action: str
    packages: list[str] = field(default_factory=list)
    requirement_files: list[str] = field(default_factory=list)
    constraint_files: list[str] = field(default_factory=list)
    editable: list[str] = field(default_factory=list)
    local_paths: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_cache: bool = False
    no_install_recommends: bool = False


def extract_installs(dockerfile: Dockerfile) -> tuple[InstallCommand, ...]:
    """Every install command of every stage, in file order."""
    out: list[InstallCommand] = []
    for stage in dockerfile.stages:
        out.extend(stage_installs(dockerfile, stage))
    return tuple(out)


def stage_installs(dockerfile: Dockerfile, stage: Stage) -> list[InstallCommand]:
    """Install commands of one stage, with ARG/ENV values in effect at each RUN substituted."""
    env: dict[str, str] = {}
    if stage.base_stage is not None:
        env.update(dockerfile.stages[stage.base_stage].env)
    args: dict[str, str] = {}
    out: list[InstallCommand] = []
    for ins in stage.instructions:
        if ins.keyword == "ARG":
            for word in split_words(ins.args, dockerfile.escape):
                key = word.partition("=")[0]
                if key in stage.args:
                    args[key] = stage.args[key]
        elif ins.keyword == "ENV":
            for key, value in parse_key_values(ins.args, dockerfile.escape, {**args, **env}):
                env[key] = value
        elif ins.keyword == "RUN":
            out.extend(run_installs(ins, {**args, **env}, env, stage.index, dockerfile.escape))
    return out


def run_installs(
    ins: Instruction,
    scope: Mapping[str, str],
    env: Mapping[str, str],
    stage_index: int = 0,
    escape: str = "\\",
) -> list[InstallCommand]:
    """Install commands in one RUN instruction (shell form, exec form or heredoc script)."""
    scripts = list(run_scripts(ins))
    cache_mount = any(v.replace(" ", "").find("type=cache") >= 0 for v in ins.flag_values("mount"))
    commands: list[list[str]] = []
    for script in scripts:
        expanded = expand_vars(script, scope, escape, keep_unknown=True)
        commands.extend(split_commands(expanded))
    hygiene = _hygiene(scripts, commands)
    out: list[InstallCommand] = []
    for argv in commands:
        for built, inline_env in _recognise(argv):
            cache_env = {**env, **inline_env}
            if built.tool == "pip" and cache_env.get("PIP_NO_CACHE_DIR", "").strip():
                built.no_cache = True
            if built.tool == "uv" and cache_env.get("UV_NO_CACHE", "").strip() not in ("", "0", "false"):
                built.no_cache = True
            out.append(
                InstallCommand(
                    tool=built.tool,
                    action=built.action,
                    packages=tuple(built.packages),
                    requirement_files=tuple(built.requirement_files),
                    constraint_files=tuple(built.constraint_files),
                    editable=tuple(built.editable),
                    local_paths=tuple(built.local_paths),
                    flags=tuple(built.flags),
                    index_urls=tuple(built.index_urls),
                    extra_index_urls=tuple(built.extra_index_urls),
                    find_links=tuple(built.find_links),
                    no_cache=built.no_cache,
                    no_install_recommends=built.no_install_recommends,
                    cache_mount=cache_mount,
                    cleans_cache=_cleans_for(built.tool, hygiene),
                    cleanups=tuple(sorted(hygiene.seen)),
                    stage_index=stage_index,
                    line=ins.start_line,
                    end_line=ins.end_line,
                    command=shlex.join(argv),
                )
            )
    return out


def run_scripts(ins: Instruction) -> Iterator[str]:
    """Shell text a RUN executes: its arguments, ``sh -c`` exec form, or a heredoc fed to a shell."""
    form = parse_exec_or_shell(ins.args)
    if form.exec_form is not None:
        argv = list(form.exec_form)
        if len(argv) >= 3 and posixpath.basename(argv[0]) in SHELLS and argv[1] in SHELL_C_FLAGS:
            yield argv[2]
        else:
            yield shlex.join(argv)
        return
    text = form.shell or ""
    if not ins.heredocs:
        yield text
        return
    # "RUN <<EOF" / "RUN bash <<EOF" run the body with a shell; "RUN python <<EOF" is not shell
    head = re.sub(r"<<-?([\"']?)[A-Za-z_][A-Za-z0-9_]*\1", " ", text).strip()
    head_words = head.split()
    if not head_words or posixpath.basename(head_words[0]) in SHELLS:
        for doc in ins.heredocs:
            yield doc.body
    elif head:
        yield head


def _logical_script_lines(script: str) -> list[str]:
    return script.replace("\\\r\n", " ").replace("\\\n", " ").splitlines()


def split_commands(script: str) -> list[list[str]]:
    """Split shell text into simple commands (argv lists) at ``&& || ; | &`` and newlines."""
    out: list[list[str]] = []
    for line in _logical_script_lines(script):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            out.extend(simple_commands(line))
        except ValueError:  # unbalanced quotes: fall back to whitespace words
            out.append(line.split())
    return out


def command_start(argv: list[str]) -> int:
    """Index of the program word: past ``VAR=value`` assignments, wrappers like sudo/env/xargs and their options."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if _ASSIGNMENT.match(word) or word in PREFIX_WORDS or (
            i > 0 and argv[i - 1] in ("sudo", "env", "xargs") and word.startswith("-")
        ):
            i += 1
        else:
            break
    return i


def _strip_prefix(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Drop ``VAR=value`` assignments and wrappers like sudo/env/xargs; return them as inline env."""
    i = command_start(argv)
    inline: dict[str, str] = {}
    for word in argv[:i]:
        if _ASSIGNMENT.match(word):
            key, _, value = word.partition("=")
            inline[key] = value
    return argv[i:], inline


def _recognise(argv: list[str]) -> Iterator[tuple[_Builder, dict[str, str]]]:
    words, inline = _strip_prefix(argv)
    if not words:
        return
    prog = posixpath.basename(words[0])
    rest = words[1:]
    if prog in SHELLS and len(rest) >= 2 and rest[0] in SHELL_C_FLAGS:
        for sub in split_commands(rest[1]):
            yield from _recognise(sub)
        return
    if re.fullmatch(r"python[0-9.]*", prog) and len(rest) >= 2 and rest[0] == "-m":
        prog, rest = rest[1], rest[2:]
    if re.fullmatch(r"pip[0-9.]*", prog):
        built = _pip_like("pip", rest)
    elif prog == "uv":
        built = _uv(rest)
    elif prog in ("poetry", "pdm"):
        built = _poetry_pdm(prog, rest)
    elif prog in ("conda", "mamba", "micromamba"):
        built = _conda(prog, rest)
    elif prog in ("apt-get", "apt"):
        built = _apt(prog, rest)
    elif prog == "apk":
        built = _apk(rest)
    else:
        return
    if built is not None:
        yield built, inline


def _split_opt(word: str) -> tuple[str, str | None]:
    if word.startswith("--") and "=" in word:
        name, _, value = word.partition("=")
        return name, value
    return word, None


@dataclass(frozen=True)
class _OptionTable:
    """How one installer spells its options, for the walker that tells options from package words.

    ``takes_value``: options whose value is the next word unless joined (``--opt=value``);
    ``joined_short``: short options that may carry their value glued on (pip's ``-rfile``);
    ``value_if_missing``: what a value option gets when the command line ends after it;
    ``lone_dash_is_word``: a bare ``-`` is a positional word (pip), not an option.
    """

    takes_value: frozenset[str]
    joined_short: frozenset[str] = frozenset()
    value_if_missing: str | None = None
    lone_dash_is_word: bool = False


_PIP_OPTIONS = _OptionTable(
    PIP_VALUE_OPTS,
    joined_short=frozenset({"-r", "-c", "-e", "-i", "-f"}),
    value_if_missing="",
    lone_dash_is_word=True,
)
_POETRY_OPTIONS = _OptionTable(PIP_VALUE_OPTS)
_CONDA_OPTIONS = _OptionTable(_CONDA_VALUE_OPTS)
_APT_OPTIONS = _OptionTable(_APT_VALUE_OPTS)
_APK_OPTIONS = _OptionTable(_APK_VALUE_OPTS)

_OnOption = Callable[[_Builder, str, str | None], None]
_OnWord = Callable[[_Builder, str], None]


def _walk_args(b: _Builder, args: list[str], table: _OptionTable, on_option: _OnOption, on_word: _OnWord) -> None:
    """Record every option in ``b.flags`` (``name`` or ``name=value``) and hand options and words to the tool."""
    i = 0
    while i < len(args):
        word = args[i]
        if not word.startswith("-") or (table.lone_dash_is_word and word == "-"):
            on_word(b, word)
            i += 1
            continue
        name, value = _split_opt(word)
        if len(word) > 2 and word[1] != "-" and word[:2] in table.joined_short:
            name, value = word[:2], word[2:]
        if name in table.takes_value and value is None:
            value = args[i + 1] if i + 1 < len(args) else table.value_if_missing
            i += 1
        b.flags.append(name if value is None else f"{name}={value}")
        on_option(b, name, value)
        i += 1


def _without(rest: list[str], *words: str) -> list[str]:
    """``rest`` less the first occurrence of each of ``words`` (the subcommand)."""
    args = list(rest)
    for word in words:
        args.remove(word)
    return args


def _pip_like(tool: str, rest: list[str]) -> _Builder | None:
    action_idx = next((i for i, w in enumerate(rest) if not w.startswith("-")), None)
    if action_idx is None:
        return None
    action = rest[action_idx]
    if action not in ("install", "sync", "download", "wheel", "uninstall", "compile"):
        return None
    b = _Builder(tool, action)
    _parse_pip_args(b, rest[:action_idx] + rest[action_idx + 1 :])
    return b


def _parse_pip_args(b: _Builder, args: list[str]) -> None:
    _walk_args(b, args, _PIP_OPTIONS, _apply_pip_opt, _pip_word)


def _pip_word(b: _Builder, word: str) -> None:
    if b.action == "sync" and b.tool == "uv":
        b.requirement_files.append(word)  # uv pip sync requirements.txt
    elif _is_local_path(word):
        b.local_paths.append(word)
    else:
        b.packages.append(word)


def _apply_pip_opt(b: _Builder, name: str, value: str | None) -> None:
    v = value or ""
    if name in ("-r", "--requirement", "--with-requirements"):
        b.requirement_files.append(v)
    elif name in ("-c", "--constraint", "--override", "--build-constraint", "-b"):
        b.constraint_files.append(v)
    elif name in ("-e", "--editable"):
        b.editable.append(v)
        if _is_local_path(v):
            b.local_paths.append(v)
    elif name in ("-i", "--index-url", "--default-index"):
        b.index_urls.append(v)
    elif name in ("--extra-index-url", "--index"):
        b.extra_index_urls.append(v)
    elif name in ("-f", "--find-links"):
        b.find_links.append(v)
    elif name in ("--no-cache-dir", "--no-cache", "-n"):
        b.no_cache = True


def _is_local_path(word: str) -> bool:
    if "://" in word or word.startswith("git+") or " @ " in word or "@" in word.split("/", maxsplit=1)[0]:
        return False
    base = word.split("[", maxsplit=1)[0]
    if base in (".", "..") or word.startswith(("./", "../", "/", "~")):
        return True
    return base.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2")) or ("/" in base and "==" not in base)


def _uv(rest: list[str]) -> _Builder | None:
    words = [w for w in rest if not w.startswith("-")]
    if not words:
        return None
    if words[0] == "pip":
        idx = rest.index("pip")
        return _pip_like("uv", rest[idx + 1 :])
    action = words[0]
    if action not in ("sync", "add", "install", "run"):
        return None
    if action == "run":
        return None
    b = _Builder("uv", action)
    _parse_pip_args(b, _without(rest, action))
    if action == "sync":
        b.local_paths.append(".")  # uv sync installs the project and its lock
    return b


def _package_word(b: _Builder, word: str) -> None:
    b.packages.append(word)


def _ignore_word(b: _Builder, word: str) -> None:
    del b, word  # poetry/pdm install and sync name no packages on the command line


def _no_cache_opt(b: _Builder, name: str, value: str | None) -> None:
    del value
    if name == "--no-cache":
        b.no_cache = True


def _poetry_pdm(prog: str, rest: list[str]) -> _Builder | None:
    words = [w for w in rest if not w.startswith("-")]
    if not words or words[0] not in ("install", "add", "sync"):
        return None
    action = words[0]
    b = _Builder(prog, action)
    on_word = _package_word if action == "add" else _ignore_word
    _walk_args(b, _without(rest, action), _POETRY_OPTIONS, _no_cache_opt, on_word)
    if action in ("install", "sync") and "--no-root" not in b.flags and "--no-self" not in b.flags:
        b.local_paths.append(".")
    return b


def _conda(prog: str, rest: list[str]) -> _Builder | None:
    words = [w for w in rest if not w.startswith("-")]
    if not words:
        return None
    action = words[0]
    if action == "env" and len(words) > 1:
        action = "env " + words[1]
    if action not in ("install", "create", "env create", "env update", "update"):
        return None
    b = _Builder(prog, action)
    _walk_args(b, _without(rest, *action.split()), _CONDA_OPTIONS, _conda_opt, _package_word)
    return b


def _conda_opt(b: _Builder, name: str, value: str | None) -> None:
    if name in ("--file",) or (name == "-f" and b.action.startswith("env")):
        b.requirement_files.append(value or "")
    elif name in ("-c", "--channel"):
        b.index_urls.append(value or "")


def _apt(prog: str, rest: list[str]) -> _Builder | None:
    words = [w for w in rest if not w.startswith("-")]
    if not words or words[0] not in ("install", "reinstall"):
        return None
    b = _Builder(prog, words[0])
    _walk_args(b, _without(rest, words[0]), _APT_OPTIONS, _apt_opt, _package_word)
    return b


def _apt_opt(b: _Builder, name: str, value: str | None) -> None:
    if name == "--no-install-recommends" or (
        value and "Install-Recommends" in value and value.rsplit("=", 1)[-1].lower() in ("false", "0")
    ):
        b.no_install_recommends = True


def _apk(rest: list[str]) -> _Builder | None:
    words = [w for w in rest if not w.startswith("-")]
    if not words or words[0] != "add":
        return None
    b = _Builder("apk", "add")
    _walk_args(b, _without(rest, "add"), _APK_OPTIONS, _no_cache_opt, _package_word)
    return b


def _hygiene(scripts: list[str], commands: list[list[str]]) -> _Hygiene:
    h = _Hygiene()
    for script in scripts:
        flat = " ".join(_logical_script_lines(script))
        if _APT_CLEAN.search(flat):
            h.seen.add("apt-lists")
        if _PIP_CACHE_RM.search(flat):
            h.seen.add("pip-cache")
        if _UV_CACHE_RM.search(flat) or re.search(r"(^|\s)rm\s+[^;&|]*/root/\.cache", flat):
            h.seen.add("uv-cache")
        if _APK_CACHE_RM.search(flat):
            h.seen.add("apk-cache")
    for argv in commands:
        words, _ = _strip_prefix(argv)
        if not words:
            continue
        prog = posixpath.basename(words[0])
        rest = words[1:]
        if re.fullmatch(r"python[0-9.]*", prog) and len(rest) >= 2 and rest[0] == "-m":
            prog, rest = rest[1], rest[2:]
        plain = [w for w in rest if not w.startswith("-")]
        if prog in ("apt-get", "apt") and plain[:1] in (["clean"], ["autoclean"]):
            h.seen.add("apt-clean")
        if re.fullmatch(r"pip[0-9.]*", prog) and plain[:2] in (["cache", "purge"], ["cache", "remove"]):
            h.seen.add("pip-cache")
        if prog == "uv" and plain[:2] in (["cache", "clean"], ["cache", "prune"]):
            h.seen.add("uv-cache")
        if prog in ("conda", "mamba", "micromamba") and plain[:1] == ["clean"]:
            h.seen.add("conda-clean")
        if prog == "poetry" and plain[:2] == ["cache", "clear"]:
            h.seen.add("poetry-cache")
        if prog == "apk" and plain[:2] == ["cache", "clean"]:
            h.seen.add("apk-cache")
    return h


_CLEANUP_FOR_TOOL = {
    "apt-get": ("apt-lists",),
    "apt": ("apt-lists",),
    "pip": ("pip-cache",),
    "uv": ("uv-cache",),
    "conda": ("conda-clean",),
    "mamba": ("conda-clean",),
    "micromamba": ("conda-clean",),
    "poetry": ("poetry-cache", "pip-cache"),
    "pdm": ("pip-cache",),
    "apk": ("apk-cache",),
}


def _cleans_for(tool: str, h: _Hygiene) -> bool:
    """The cleanup that matters for this tool's cache (apt: the lists; ``apt-get clean`` is not enough)."""
    return any(c in h.seen for c in _CLEANUP_FOR_TOOL.get(tool, ()))


_APT_UPDATE = re.compile(r"(^|[\s;&|(])apt(-get)?\s+(-\S+\s+)*update(\s|$|[;&|)])")


def leaves_apt_lists(ins: Instruction) -> bool:
    """A RUN that runs ``apt-get update`` (or ``apt update``) and does not remove ``/var/lib/apt/lists`` in
    the same RUN: the lists ship in its layer, whatever a later RUN deletes."""
    if ins.keyword != "RUN" or any(
            mount_type_cache(m, "/var/lib/apt") for m in ins.flag_values("mount")):
        return False
    scripts = [" ".join(_logical_script_lines(s)) for s in run_scripts(ins)]
    return any(_APT_UPDATE.search(s) for s in scripts) and not any(_APT_CLEAN.search(s) for s in scripts)


def mount_type_cache(mount: str, target_prefix: str) -> bool:
    """``--mount=type=cache,target=/var/lib/apt...``: a cache mount at or under ``target_prefix``."""
    opts = dict(part.partition("=")[::2] for part in mount.split(","))
    target = opts.get("target") or opts.get("dst") or opts.get("destination") or ""
    return opts.get("type") == "cache" and target.rstrip("/").startswith(target_prefix)
