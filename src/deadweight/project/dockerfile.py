"""Dockerfile parser that keeps every instruction's exact position and text.

Why our own parser: rules cite ``Dockerfile:12`` as evidence and fixers rewrite single instructions in
place, so we need start/end lines and the original text of each instruction, plus the semantics Docker
applies (parser directives, the escape character, continuations, heredocs, ARG/ENV substitution, stage
inheritance). The behaviour follows moby/buildkit's ``frontend/dockerfile/parser`` and ``shell`` packages.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deadweight.errors import ParseError
from deadweight.model.project import Dockerfile, ExecOrShell, Heredoc, Instruction, Stage
from deadweight.project.files import read_text
from deadweight.project.shellwords import expand_vars, parse_key_values, raw_words, split_words

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    }
)  # fmt: skip
_FLAG_INSTRUCTIONS = frozenset({"FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"})
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC_RE = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG_RE = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=((?:\"[^\"]*\"|'[^']*'|\S)*))?(?:\s+|$)")


@dataclass
class _Logical:
    keyword: str
    rest: str
    start: int  # 0-based physical line index
    end: int
    heredocs: list[Heredoc]


def parse_dockerfile_file(path: str | Path, build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Read and parse a Dockerfile; unreadable files raise ParseError naming the path."""
    p = Path(path)
    text = read_text(p, "Dockerfile", exact=True, os_words=True)  # ``original`` must be byte-exact for the fixers
    return parse_dockerfile(text, str(p), build_args)


def parse_dockerfile(
    text: str, path: str = "Dockerfile", build_args: Mapping[str, str] | None = None
) -> Dockerfile:
    """Parse Dockerfile text into stages; ``build_args`` override ARG defaults as ``--build-arg`` does."""
    lines = text.splitlines(keepends=True)
    directives, first = _parse_directives(lines)
    escape = "\\"
    for key, value in directives:
        if key == "escape":
            if value not in ("\\", "`"):
                raise ParseError(f"{path}:1: invalid escape directive {value!r} (must be \\ or `)")
            escape = value
    logicals = _logical_lines(lines, first, escape, path)
    return _build(
        logicals=logicals,
        lines=lines,
        directives=directives,
        escape=escape,
        path=path,
        build_args=dict(build_args or {}),
    )


def _parse_directives(lines: list[str]) -> tuple[tuple[tuple[str, str], ...], int]:
    """Parser directives are ``# key=value`` lines at the very top; the first other line ends them."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    idx = 0
    for idx, raw in enumerate(lines):  # noqa: B007 - idx used after the loop
        m = _DIRECTIVE_RE.match(raw.strip()) if raw.lstrip().startswith("#") else None
        if not m:
            break
        key = m.group(1).lower()
        if key not in _KNOWN_DIRECTIVES or key in seen:
            break
        seen.add(key)
        found.append((key, m.group(2)))
    else:
        idx = len(lines)
    return tuple(found), idx


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _continues(line: str, escape: str) -> tuple[bool, str]:
    """Whether a line ends with the escape char (trailing blanks allowed), and the line without it."""
    body = line.rstrip("\r\n")
    trimmed = body.rstrip(" \t")
    if trimmed.endswith(escape):
        return True, trimmed[:-1]
    return False, body


def _logical_lines(lines: list[str], first: int, escape: str, path: str) -> list[_Logical]:
    out: list[_Logical] = []
    i = first
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip() or _is_comment(line):
            i += 1
            continue
        start = i
        cont, body = _continues(line, escape)
        parts = [body]
        while cont:
            i += 1
            while i < n and (not lines[i].strip() or _is_comment(lines[i])):
                i += 1  # comments and empty lines inside a continuation are dropped
            if i >= n:
                i -= 1
                break
            cont, body = _continues(lines[i], escape)
            parts.append(body)
        joined = " ".join(p.strip() for p in parts if p.strip()) if len(parts) > 1 else parts[0].strip()
        keyword, _, rest = joined.partition(" ")
        if "\t" in keyword:
            keyword, _, more = keyword.partition("\t")
            rest = more + " " + rest if rest else more
        keyword = keyword.upper()
        rest = rest.strip()
        heredocs: list[Heredoc] = []
        if keyword in _HEREDOC_INSTRUCTIONS and "<<" in rest and not rest.startswith("["):
            for m in _HEREDOC_RE.finditer(rest):
                strip_tabs = m.group(1) == "-"
                name = m.group(3)
                body_lines: list[str] = []
                i += 1
                while True:
                    if i >= n:
                        raise ParseError(f"{path}:{start + 1}: unterminated heredoc <<{name}")
                    candidate = lines[i].rstrip("\r\n")
                    if strip_tabs:
                        candidate = candidate.lstrip("\t")
                    if candidate == name:
                        break
                    body_lines.append(candidate + "\n")
                    i += 1
                heredocs.append(Heredoc(name, "".join(body_lines), strip_tabs, bool(m.group(2))))
        out.append(_Logical(keyword, rest, start, i, heredocs))
        i += 1
    return out


def split_flags(rest: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """Split leading ``--name[=value]`` flags from an instruction's arguments."""
    flags: list[tuple[str, str]] = []
    pos = 0
    while rest.startswith("--", pos):
        m = _FLAG_RE.match(rest, pos)
        if not m:
            break
        value = m.group(2) or ""
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        flags.append((m.group(1).lower(), value))
        pos = m.end()
    return tuple(flags), rest[pos:].strip()


def parse_exec_or_shell(args: str) -> ExecOrShell:
    """Exec form when the arguments are a JSON array of strings, else shell form (Docker's rule)."""
    text = args.strip()
    words = json_words(text)
    return ExecOrShell(None, text) if words is None else ExecOrShell(tuple(words), None)


def json_words(text: str) -> list[str] | None:
    """The JSON array of strings ``text`` is (Docker's exec form), or None: not JSON, not such an array, or
    nested too deeply to parse (100,000 brackets are shell form, as Docker would read them)."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _original(lines: list[str], start: int, end: int) -> str:
    return "".join(lines[start : end + 1])


@dataclass
class _StageState:
    name: str | None
    base: str
    platform: str | None
    from_instruction: Instruction
    base_stage: int | None
    args: dict[str, str]
    env: dict[str, str]
    workdir: str
    user: str | None
    cmd: ExecOrShell | None
    entrypoint: ExecOrShell | None
    instructions: list[Instruction]

    def freeze(self, index: int) -> Stage:
        return Stage(
            index=index,
            name=self.name,
            base=self.base,
            platform=self.platform,
            from_instruction=self.from_instruction,
            instructions=tuple(self.instructions),
            base_stage=self.base_stage,
            args=dict(self.args),
            env=dict(self.env),
            workdir=self.workdir,
            user=self.user,
            cmd=self.cmd,
            entrypoint=self.entrypoint,
        )


def _build(
    *,
    logicals: list[_Logical],
    lines: list[str],
    directives: tuple[tuple[str, str], ...],
    escape: str,
    path: str,
    build_args: dict[str, str],
) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    cur: _StageState | None = None
    names: dict[str, int] = {}

    for lg in logicals:
        line_no = lg.start + 1
        if lg.keyword not in KNOWN_INSTRUCTIONS:
            raise ParseError(f"{path}:{line_no}: unknown instruction {lg.keyword}")
        if lg.keyword in _FLAG_INSTRUCTIONS:
            flags, args = split_flags(lg.rest)
        else:
            flags, args = (), lg.rest
        ins = Instruction(
            keyword=lg.keyword,
            args=args,
            flags=flags,
            start_line=line_no,
            end_line=lg.end + 1,
            original=_original(lines, lg.start, lg.end),
            heredocs=tuple(lg.heredocs),
        )
        if lg.keyword == "FROM":
            if cur is not None:
                stages.append(cur.freeze(len(stages)))
            cur = _new_stage(
                ins=ins,
                args=args,
                global_args=global_args,
                escape=escape,
                names=names,
                stages=stages,
                path=path,
            )
            if cur.name:
                names[cur.name] = len(stages)
            continue
        if cur is None:
            if lg.keyword == "ARG":
                for key, value in _arg_pairs(args, escape, global_args):
                    if key in build_args:
                        global_args[key] = build_args[key]
                    elif value is not None:
                        global_args[key] = value
                continue
            raise ParseError(f"{path}:{line_no}: {lg.keyword} before the first FROM")
        cur.instructions.append(ins)
        scope = {**cur.args, **cur.env}
        if lg.keyword == "ARG":
            for key, value in _arg_pairs(args, escape, scope):
                if key in build_args:
                    cur.args[key] = build_args[key]
                elif value is not None:
                    cur.args[key] = value
                elif key in global_args:
                    cur.args[key] = global_args[key]
                # declared without a value or default: unset (expands to "")
        elif lg.keyword == "ENV":
            for key, value in parse_key_values(args, escape, scope):
                cur.env[key] = value
        elif lg.keyword == "WORKDIR":
            wd = expand_vars(" ".join(split_words(args, escape)), scope, escape)
            cur.workdir = _join_workdir(cur.workdir, wd)
        elif lg.keyword == "USER":
            cur.user = expand_vars(args, scope, escape)
        elif lg.keyword == "CMD":
            cur.cmd = parse_exec_or_shell(args)
        elif lg.keyword == "ENTRYPOINT":
            cur.entrypoint = parse_exec_or_shell(args)
            cur.cmd = None  # Docker resets an inherited CMD when ENTRYPOINT is set
    if cur is not None:
        stages.append(cur.freeze(len(stages)))
    if not stages:
        raise ParseError(f"{path}: no FROM instruction")
    return Dockerfile(path, tuple(stages), directives, global_args, escape, ())


def _new_stage(
    *,
    ins: Instruction,
    args: str,
    global_args: Mapping[str, str],
    escape: str,
    names: Mapping[str, int],
    stages: list[Stage],
    path: str,
) -> _StageState:
    words = args.split()
    if not words:
        raise ParseError(f"{path}:{ins.start_line}: FROM requires an image")
    base = expand_vars(words[0], global_args, escape)
    name = None
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2].lower()
    elif len(words) != 1:
        raise ParseError(f"{path}:{ins.start_line}: FROM takes 'image [AS name]', got {args!r}")
    platform = ins.flag("platform")
    if platform is not None:
        # automatic platform ARGs ($BUILDPLATFORM, $TARGETPLATFORM) are only known to the builder: keep them
        platform = expand_vars(platform, global_args, escape, keep_unknown=True)
    base_stage = names.get(base.lower())
    parent = stages[base_stage] if base_stage is not None else None
    return _StageState(
        name=name,
        base=base,
        platform=platform,
        from_instruction=ins,
        base_stage=base_stage,
        args={},
        env=dict(parent.env) if parent else {},
        workdir=parent.workdir if parent else "/",
        user=parent.user if parent else None,
        cmd=parent.cmd if parent else None,
        entrypoint=parent.entrypoint if parent else None,
        instructions=[],
    )


def _arg_pairs(args: str, escape: str, scope: Mapping[str, str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for word in raw_words(args):
        key, eq, value = word.partition("=")
        if eq:
            out.append((key, "".join(split_words(expand_vars(value, scope, escape), escape))))
        else:
            out.append((key, None))
    return out


def _join_workdir(current: str, new: str) -> str:
    if not new:
        return current
    joined = new if new.startswith("/") else posixpath.join(current or "/", new)
    return posixpath.normpath(joined)


def copy_sources_and_dest(ins: Instruction, escape: str, scope: Mapping[str, str]) -> tuple[list[str], str]:
    """COPY/ADD words (JSON or shell form) split into sources and destination, ARG/ENV expanded."""
    text = ins.args.strip()
    words = json_words(text)
    if words is None:
        words = split_words(text, escape)
    words = [expand_vars(w, scope, escape) for w in words]
    if ins.heredocs:
        words = [w for w in words if not _HEREDOC_RE.fullmatch(w) and not w.startswith("<<")]
        return [], words[-1] if words else ""
    if len(words) < 2:
        return [], words[0] if words else ""
    return words[:-1], words[-1]
