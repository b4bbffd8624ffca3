"""Command lines → console scripts, ``python -m`` modules and arguments that name code.

Why: a server started from CMD (``gunicorn -k uvicorn.workers.UvicornWorker app.main:app``) is never
imported by the project, so an import scanner calls gunicorn (and uvicorn's worker) unused. Commands come
from Dockerfile CMD/ENTRYPOINT (exec and shell form), compose ``command``/``entrypoint``, Procfiles,
supervisord ``command=`` and the shell scripts the image runs. Console script names are resolved to
distributions later, through the image's entry points. What the arguments of known servers and workers
name (``-k``, ``-A``, app paths) is read in :mod:`deadweight.usage.tool_args`.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources

from deadweight.model.usage import Confidence, EvidenceKind, UsageEvidence
from deadweight.project.shellwords import simple_commands
from deadweight.usage.imports import import_evidence
from deadweight.usage.tool_args import tool_arg_evidence

# tool_arg_evidence lives in tool_args; usage.scan imports it from here too
__all__ = ["command_evidence", "script_evidence", "split_shell", "subcommand_evidence", "tool_arg_evidence"]

_PYTHON_RE = re.compile(r"^(python|pypy)(\d+(\.\d+)?)?[a-z]?$")
_ASSIGN_RE = re.compile(r"^[A-Za-z_]\w*=")
_CONTROL = frozenset({";", "&&", "||", "|", "&", ";;", "(", ")", "|&", "\n"})
_KEYWORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "while",
        "until",
        "for",
        "in",
        "case",
        "esac",
        "{",
        "}",
        "!",
        "function",
        "select",
    }
)
# Programs that run the rest of their arguments as a command: name -> number of own arguments to skip.
_WRAPPERS: dict[str, int] = {
    "exec": 0,
    "nohup": 0,
    "time": 0,
    "tini": 0,
    "dumb-init": 0,
    "gosu": 1,
    "su-exec": 1,
    "chpst": 0,
    "setsid": 0,
    "nice": 0,
    "ionice": 0,
    "stdbuf": 0,
    "sudo": 0,
    "env": 0,
    "timeout": 1,
    "catatonit": 0,
    "tini-static": 0,
    "xvfb-run": 0,
    "watchmedo": 0,
    "newrelic-admin": 1,
    "ddtrace-run": 0,
    "opentelemetry-instrument": 0,
    "doppler": 1,
}
# Commands that name no Python code: shell builtins and OS tools.
_NOT_PYTHON = frozenset(
    [
        "cd",
        "echo",
        "set",
        "export",
        "test",
        "[",
        "[[",
        "true",
        "false",
        "sleep",
        "mkdir",
        "rm",
        "cp",
        "mv",
        "chmod",
        "chown",
        "cat",
        "ls",
        "ln",
        "touch",
        "exit",
        "return",
        "trap",
        "wait",
        "read",
        "source",
        ".",
        "eval",
        "shift",
        "unset",
        "printf",
        "sed",
        "awk",
        "grep",
        "tee",
        "find",
        "xargs",
        "curl",
        "wget",
        "apt-get",
        "apt",
        "apk",
        "yum",
        "dnf",
        "tar",
        "gzip",
        "unzip",
        "bash",
        "sh",
        "dash",
        "zsh",
        "ash",
        "local",
        "declare",
        "alias",
        "umask",
        "ulimit",
        "kill",
        "until",
        "useradd",
        "adduser",
        "groupadd",
        "install",
        "mktemp",
        "dirname",
        "basename",
        "readlink",
        "realpath",
        "head",
        "tail",
        "sort",
        "uniq",
        "wc",
        "cut",
        "tr",
        "date",
        "id",
        "whoami",
        "hostname",
        "nc",
        "git",
        "make",
        "gcc",
    ]
)


@functools.cache
def subcommand_table() -> Mapping[str, tuple[frozenset[str], Mapping[str, str]]]:
    """tool -> (options that take a value, sub-command -> module it loads), from data/subcommands.toml."""
    data = tomllib.loads(resources.files("deadweight.data").joinpath("subcommands.toml").read_text())
    return {
        tool: (frozenset(entry.get("value_options", ())), dict(entry.get("commands", {})))
        for tool, entry in data.items()
    }


def _subcommand(args: Sequence[str], value_options: frozenset[str]) -> str | None:
    """The first positional argument: the sub-command (``celery -A app flower`` -> ``flower``)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return args[i + 1] if i + 1 < len(args) else None
        if arg.startswith("-"):
            i += 2 if arg in value_options else 1
            continue
        return arg
    return None


def subcommand_evidence(prog: str, args: Sequence[str], loc: str) -> list[UsageEvidence]:
    """What ``prog <sub>`` loads: ``jupyter lab`` runs the ``jupyter-lab`` executable (resolved through the
    image's console scripts), and the curated table names the module behind known sub-commands
    (``celery flower`` -> flower, ``flask db`` -> flask_migrate, ``jupyter lab`` -> jupyterlab) for when no
    entry points are at hand."""
    entry = subcommand_table().get(prog)
    if entry is None:
        return []
    value_options, commands = entry
    sub = _subcommand(args, value_options)
    if sub is None or not re.fullmatch(r"[A-Za-z][\w-]*", sub):
        return []
    found: list[UsageEvidence] = []
    if prog == "jupyter":
        found.append(_ev(EvidenceKind.COMMAND, f"jupyter {sub} runs jupyter-{sub}", loc, f"jupyter-{sub}"))
    module = commands.get(sub)
    if module is not None:
        found.append(_ev(EvidenceKind.COMMAND_ARG, f"{prog} {sub} loads {module}", loc, module))
    return found


def _ev(
    kind: EvidenceKind, detail: str, loc: str, target: str, conf: Confidence = Confidence.HIGH
) -> UsageEvidence:
    return UsageEvidence(kind, detail, loc, target, conf)


def split_shell(text: str) -> list[list[str]]:
    """Split a shell command line into simple commands (on ``; && || | &`` and newlines).

    Unbalanced quotes fall back to whitespace splitting: a broken script should still yield evidence.
    """
    text = re.sub(r"\\\n", " ", text)
    try:
        return simple_commands(text)
    except ValueError:
        tokens = text.replace(";", " ; ").replace("&&", " && ").split()
    commands: list[list[str]] = [[]]
    for tok in tokens:
        if tok in _CONTROL or set(tok) <= set(";&|()\n"):
            commands.append([])
        else:
            commands[-1].append(tok)
    return [cmd for cmd in commands if cmd]


def _strip_wrappers(argv: list[str]) -> list[str]:
    while argv:
        head = argv[0]
        name = os.path.basename(head)
        if _ASSIGN_RE.match(head) or name in _KEYWORDS:
            argv = argv[1:]
            continue
        if name in _WRAPPERS:
            rest = argv[1:]
            while rest and (rest[0].startswith("-") or _ASSIGN_RE.match(rest[0])):
                if rest[0] == "--":
                    rest = rest[1:]
                    break
                rest = rest[1:]
            argv = rest[_WRAPPERS[name] :]
            continue
        return argv
    return argv


def command_evidence(command: str | Sequence[str], location: str) -> list[UsageEvidence]:
    """UsageEvidence from one command: a shell string (shell form) or an argv list (exec form)."""
    if isinstance(command, str):
        found: list[UsageEvidence] = []
        for argv in split_shell(command):
            found.extend(_argv_evidence(argv, location))
        return found
    return _argv_evidence(list(command), location)


def script_evidence(text: str, path: str) -> list[UsageEvidence]:
    """Every command in a shell script, Procfile (``web: cmd``) or similar, with its own line."""
    found: list[UsageEvidence] = []
    joined = re.sub(r"\\\n", " ", text)
    for lineno, line in enumerate(joined.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        proc = re.match(r"^[\w.-]+:\s+(.*)$", stripped)  # Procfile "web: gunicorn ..."
        if proc and not stripped.startswith(("http:", "https:")):
            stripped = proc.group(1)
        found.extend(command_evidence(stripped, f"{path}:{lineno}"))
    return found


def _argv_evidence(argv: list[str], loc: str) -> list[UsageEvidence]:
    argv = _strip_wrappers([a for a in argv if a])
    if not argv:
        return []
    prog = os.path.basename(argv[0])
    if prog.startswith("$") or (prog in _NOT_PYTHON and prog not in {"sh", "bash", "dash", "ash", "zsh"}):
        return []
    if prog in {"sh", "bash", "dash", "ash", "zsh", "su"}:
        if "-c" in argv[1:]:
            idx = argv.index("-c")
            if idx + 1 < len(argv):
                return command_evidence(argv[idx + 1], loc)
        return []
    if _PYTHON_RE.match(prog):
        return _python_evidence(argv[1:], loc, prog)
    found = [_ev(EvidenceKind.COMMAND, f"runs {prog}", loc, prog)]
    found.extend(tool_arg_evidence(prog, argv[1:], loc))
    found.extend(subcommand_evidence(prog, argv[1:], loc))
    return found


def _python_evidence(args: list[str], loc: str, prog: str) -> list[UsageEvidence]:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m" and i + 1 < len(args):
            module = args[i + 1]
            found = [_ev(EvidenceKind.PYTHON_M, f"{prog} -m {module}", loc, module)]
            found.extend(tool_arg_evidence(module.split(".")[0], args[i + 2 :], loc))
            found.extend(subcommand_evidence(module.split(".")[0], args[i + 2 :], loc))
            return found
        if arg.startswith("-m") and len(arg) > 2:
            return [_ev(EvidenceKind.PYTHON_M, f"{prog} {arg}", loc, arg[2:])]
        if arg == "-c" and i + 1 < len(args):
            try:
                tree = ast.parse(args[i + 1])
            except SyntaxError:
                return []
            return [
                UsageEvidence(e.kind, f"{prog} -c: {e.detail}", loc, e.target, e.confidence, e.type_only)
                for e in import_evidence(tree, loc.rsplit(":", 1)[0])
            ]
        if arg in {"-W", "-X", "-Q"}:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return []  # python script.py: the script itself is scanned as a file
    return []
