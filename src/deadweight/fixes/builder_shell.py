"""Shell reading for the builder-stage split: what each part of a RUN does, and whether anything left in the
runtime stage still needs a compiler.

A RUN moves to the builder stage only when every command in it is build work (OS package installs, pip
installs, their cache cleanup); a RUN that also does other work is split at its top-level ``&&`` when the
other work is independent, and refused otherwise.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Literal

from deadweight.model.project import Instruction
from deadweight.project.dockerfile import parse_exec_or_shell
from deadweight.project.installs import SHELLS, split_commands

__all__ = [
    "Part",
    "and_segments",
    "classify",
    "compiler_words",
    "instruction_scripts",
    "site_paths",
]

Part = Literal["os", "pip", "cleanup", "neutral", "other"]

_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_COMPILERS = frozenset({
    "gcc", "cc", "g++", "c++", "cpp", "clang", "clang++", "gfortran", "f77", "f95", "make", "gmake", "cmake",
    "ninja", "meson", "ld", "ld.gold", "ld.bfd", "as", "cython", "cythonize", "configure", "autoreconf",
    "autoconf", "automake", "libtool", "pkg-config", "python-config", "python3-config", "nvcc", "rustc",
    "cargo", "maturin",
})  # fmt: skip
_VERSIONED_COMPILER = re.compile(r"^((x86_64|aarch64|arm|i686)[-\w]*-)?(gcc|g\+\+|cpp|gfortran|clang|clang\+\+)"
                                 r"(-\d+(\.\d+)*)?$")
_OS_TOOLS = frozenset({"apt-get", "apt", "apk", "dpkg"})
_OS_ACTIONS = frozenset({"update", "install", "add", "clean", "autoclean", "purge", "remove", "autoremove",
                         "del", "reinstall", "upgrade", "dist-upgrade"})
_NEUTRAL = frozenset({"set", "true", ":", "echo", "cd"})
_PREFIX = frozenset({"sudo", "env", "command", "time", "nohup", "exec"})


def instruction_scripts(ins: Instruction) -> list[str]:
    """The shell text an instruction runs (RUN, CMD, ENTRYPOINT, HEALTHCHECK): one script per form."""
    args = ins.args
    if ins.keyword == "HEALTHCHECK":
        head, _, rest = args.strip().partition(" ")
        if head.upper() != "CMD":
            return []
        args = rest
    form = parse_exec_or_shell(args)
    if form.exec_form is not None:
        argv = list(form.exec_form)
        if len(argv) >= 3 and posixpath.basename(argv[0]) in SHELLS and argv[1].startswith("-") and "c" in argv[1]:
            return [argv[2]]
        return [" ".join(_quote(w) for w in argv)]
    if ins.heredocs:
        head = re.sub(r"<<-?([\"']?)[A-Za-z_][A-Za-z0-9_]*\1", " ", form.shell or "").strip()
        if not head or posixpath.basename(head.split()[0]) in SHELLS:
            return [doc.body for doc in ins.heredocs]
        return [head]
    return [form.shell or ""]


def _quote(word: str) -> str:
    return word if word and re.fullmatch(r"[\w@%+=:,./-]+", word) else "'" + word.replace("'", "'\\''") + "'"


def _words(argv: list[str]) -> list[str]:
    i = 0
    while i < len(argv) and (_ASSIGN.match(argv[i]) or argv[i] in _PREFIX):
        i += 1
    return argv[i:]


def classify(argv: list[str]) -> Part:
    """What one simple command is: OS package work, a pip install, cache cleanup, neutral, or other work."""
    words = _words(argv)
    if not words:
        return "neutral"
    prog = posixpath.basename(words[0])
    rest = words[1:]
    plain = [w for w in rest if not w.startswith("-")]
    if prog in _OS_TOOLS and plain[:1] and plain[0] in _OS_ACTIONS:
        return "os"
    if re.fullmatch(r"python[0-9.]*", prog) and rest[:2] == ["-m", "pip"]:
        prog, rest = "pip", rest[2:]
        plain = [w for w in rest if not w.startswith("-")]
    if re.fullmatch(r"pip[0-9.]*", prog):
        if plain[:1] in (["install"], ["wheel"]) or plain[:2] in (["cache", "purge"], ["cache", "remove"]):
            return "pip"
        return "other"
    if prog == "rm":
        targets = [w for w in rest if not w.startswith("-")]
        if targets and all(re.match(r"^(/var/lib/apt/lists|/var/cache/apt|/var/cache/apk|/root/\.cache|"
                                    r"~/\.cache|\$HOME/\.cache)", t) for t in targets):
            return "cleanup"
        return "other"
    if prog in _NEUTRAL:
        return "neutral"
    return "other"


def and_segments(script: str) -> list[str] | None:
    """``script`` split at its top-level ``&&``; None when it has any other shell structure (``;``, ``||``,
    pipes, subshells, substitutions, newlines, background jobs) that a split could change the meaning of."""
    out: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    i = 0
    text = script.replace("\\\r\n", " ").replace("\\\n", " ").strip()
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and quote == '"' and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
            elif quote == '"' and (c == "`" or text.startswith("$(", i)):
                return None
            i += 1
            continue
        if c in "'\"":
            quote = c
            cur.append(c)
        elif c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        elif text.startswith("&&", i):
            out.append("".join(cur).strip())
            cur = []
            i += 2
            continue
        elif c in ";|&()\n`{}" or text.startswith("$(", i) or c == "#":
            return None
        else:
            cur.append(c)
        i += 1
    if quote:
        return None
    out.append("".join(cur).strip())
    return out if all(out) else None


def _argvs(scripts: Iterable[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for script in scripts:
        out.extend(split_commands(script))
    return out


def compiler_words(scripts: Iterable[str]) -> list[str]:
    """The compilers and build tools the scripts run (at command position, after ``sh -c`` too), and
    ``python setup.py``: a runtime stage without the toolchain cannot run them."""
    found: list[str] = []
    for argv in _argvs(scripts):
        words = _words(argv)
        if not words:
            continue
        prog = posixpath.basename(words[0])
        if prog in SHELLS and len(words) >= 3 and words[1].startswith("-") and "c" in words[1]:
            found.extend(compiler_words([words[2]]))
            continue
        if prog in _COMPILERS or _VERSIONED_COMPILER.match(prog):
            found.append(prog)
        elif re.fullmatch(r"python[0-9.]*", prog) and len(words) > 1 and posixpath.basename(words[1]) == "setup.py":
            found.append("python setup.py")
        elif (re.fullmatch(r"python[0-9.]*", prog) and words[1:3] == ["-m", "pip"]) or re.fullmatch(r"pip[0-9.]*",
                                                                                                    prog):
            plain = [w for w in words[1:] if not w.startswith("-") and w != "pip"]
            if plain[:1] in (["install"], ["wheel"]):
                found.append("pip " + plain[0])
    return found


_SITE_RE = re.compile(r"(site-packages|dist-packages|/usr/local/bin/|/usr/bin/python|/usr/local/lib/python)")


def site_paths(scripts: Iterable[str]) -> list[str]:
    """Words naming the system interpreter or its site-packages, which the venv moves away from."""
    out: list[str] = []
    for argv in _argvs(scripts):
        out.extend(w for w in argv if _SITE_RE.search(w))
    return out
