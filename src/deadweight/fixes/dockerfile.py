"""Editor for Dockerfiles: one instruction at a time, at the lines the parser recorded, keeping every other
byte (comments, continuations, heredocs, the escape directive, CRLF).

Every edit is found by re-parsing the current text (the instruction at ``edit.line`` whose text is
``edit.original``; the one instruction with that text when an earlier fix moved the lines), made as an
insertion or deletion at byte offsets that ``dockerfile_words`` maps from the parsed words back into the file,
and checked by parsing the result again: every other instruction keeps its keyword, arguments, flags and text,
the stages keep their names and bases, and the edited instruction reads as intended (the flag is on that
install, the cleanup is in that RUN, the base is the new one). Anything else is refused. An edit already in
the text is no change.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from deadweight.errors import ParseError
from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.dockerfile_words import (
    Joined,
    Token,
    WordsError,
    commands,
    exec_elements,
    heredoc_regions,
    join_instruction,
    shell_tokens,
)
from deadweight.model.project import Dockerfile, InstallCommand, Instruction, Stage
from deadweight.model.remedy import (
    AddCleanup,
    AddInstallFlag,
    Edit,
    RemoveRequirement,
    ReplaceBase,
    ReplaceRequirement,
)
from deadweight.project.dockerfile import parse_dockerfile, parse_exec_or_shell
from deadweight.project.installs import (
    PIP_VALUE_OPTS,
    SHELL_C_FLAGS,
    SHELLS,
    command_start,
    run_scripts,
    split_commands,
    stage_installs,
)
from deadweight.project.shellwords import expand_vars

__all__ = ["add_cleanup", "add_install_flag", "remove_package", "replace_base", "replace_package"]

_CACHE_FLAGS = frozenset({"--no-cache-dir", "--no-cache"})
_CACHE_TARGETS = {"pip": "/root/.cache/pip", "uv": "/root/.cache/uv", "poetry": "/root/.cache/pypoetry",
                  "apk": "/var/cache/apk", "apt-get": "/var/cache/apt", "apt": "/var/cache/apt"}
_SET_E = re.compile(r"^\s*set\s+-[A-Za-z]*e", re.MULTILINE)
_DISTROS = frozenset({"bookworm", "bullseye", "trixie", "buster"})
_REQ_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_REQ_SPEC_END = re.compile(r"[;@\s]")
_INSTALLS_FROM = frozenset({"-r", "--requirement", "-e", "--editable", "--with-requirements"})


# --- locating -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """One instruction of the current text: its stage, its place in the file and its offset in ``text``."""

    path: str
    text: str
    dockerfile: Dockerfile
    stage: Stage
    ins: Instruction
    index: int  # in _flat(dockerfile)
    base: int  # offset of the instruction's first byte in ``text``

    @property
    def where(self) -> str:
        return f"{self.path}:{self.ins.start_line}"


@dataclass(frozen=True)
class _Cmd:
    """An install command found in a RUN: its words (offsets in the whole text) and which word is the action."""

    tool: str
    action: str
    words: tuple[Token, ...]
    action_at: int
    form: str  # "shell", "heredoc", "exec"
    script: int  # index of the script (shell text, heredoc body) in _Scripts.parts
    first: int  # token indexes of the command in that script's tokens
    last: int


@dataclass(frozen=True)
class _Scripts:
    joined: Joined
    parts: tuple[tuple[str, tuple[Token, ...]], ...]  # (form, tokens), tokens at offsets in the whole text
    nested: bool  # a sh -c "..." the extractor reads into and we do not


def _display(edit: Edit, ctx: FixContext) -> str:
    assert edit.file is not None
    return ctx.workspace.display(ctx.workspace.key(edit.file))


def _parse(text: str, path: str, ctx: FixContext) -> Dockerfile:
    try:
        return parse_dockerfile(text, path, ctx.service.build_args)
    except ParseError as exc:
        raise FixRefused(f"{path} does not parse: {exc}") from None


def _flat(dockerfile: Dockerfile) -> list[tuple[Stage, Instruction]]:
    return [(stage, ins) for stage in dockerfile.stages for ins in (stage.from_instruction, *stage.instructions)]


def _offset_of_line(text: str, line: int) -> int:
    return sum(len(physical) for physical in text.splitlines(keepends=True)[: line - 1])


def _found(path: str, text: str, dockerfile: Dockerfile, index: int) -> _Found:
    stage, ins = _flat(dockerfile)[index]
    return _Found(path, text, dockerfile, stage, ins, index, _offset_of_line(text, ins.start_line))


class _Gone:
    """The instruction the audit saw was deleted by an earlier fix."""


_GONE = _Gone()
_ADDED_FLAGS = frozenset({"--no-install-recommends", "--no-cache-dir", "--no-cache"})
_ADDED_COMMANDS = (["rm", "-rf", "/var/lib/apt/lists/*"], ["apt-get", "clean"])


def _shape(ins: Instruction) -> tuple[object, ...]:
    """What an instruction is, less what these fixers add: the flags, the cleanups, a FROM's image."""
    if ins.keyword == "RUN":
        argvs = tuple(tuple(w for w in argv if w not in _ADDED_FLAGS) for argv in _argvs(ins)
                      if argv not in _ADDED_COMMANDS)
        return ("RUN", ins.flags, argvs)
    if ins.keyword == "FROM":
        return ("FROM", ins.flags, tuple(ins.args.split()[1:]))
    return (ins.keyword, ins.args, ins.flags)


def _mapped(edit: Edit, ctx: FixContext, flat: list[tuple[Stage, Instruction]], *,
            whole: bool) -> tuple[int | _Gone | None, Instruction | None]:
    """Where the instruction the audit saw at ``edit.line`` (of the file as read) is in the current text: the
    same position when the fixes so far only edited instructions, else the two instruction lists aligned by
    text (a changed instruction mapped one to one). ``whole``: the edit's ``original`` is that instruction's
    text (else a word of it)."""
    assert edit.file is not None
    key = ctx.workspace.key(edit.file)
    original = ctx.workspace.original_text(key)
    if original is None:
        return None, None
    try:
        before = _flat(parse_dockerfile(original, str(key), ctx.service.build_args))
    except ParseError:
        return None, None
    at = [k for k, (_, ins) in enumerate(before) if ins.start_line == edit.line]
    if not at or (whole and edit.original and before[at[0]][1].original != edit.original):
        return None, None
    k = at[0]
    recorded = before[k][1]
    if [(st.index, ins.keyword) for st, ins in before] == [(st.index, ins.keyword) for st, ins in flat]:
        return k, recorded  # the same instructions (some edited): the k-th is the k-th
    if [ins.original for _, ins in before].count(recorded.original) > 1:
        return None, recorded  # identical instructions and some added or removed: no telling which
    matcher = difflib.SequenceMatcher(None, [ins.original for _, ins in before], [ins.original for _, ins in flat],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= k < i2:
            if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
                j = j1 + (k - i1)
                same_stage = len(before) != len(flat) or before[k][0].index == flat[j][0].index
                return (j if same_stage and flat[j][1].keyword == recorded.keyword else None), recorded
            return (_GONE if tag == "delete" else None), recorded
    return None, recorded


def _locate(edit: Edit, ctx: FixContext, keyword: str) -> _Found:
    """The instruction the edit names, in the current text (which earlier fixes may have changed)."""
    assert edit.file is not None
    path = _display(edit, ctx)
    text = ctx.workspace.text(edit.file)
    dockerfile = _parse(text, path, ctx)
    flat = _flat(dockerfile)
    mapped, recorded = _mapped(edit, ctx, flat, whole=True)
    if isinstance(mapped, int):
        assert recorded is not None
        ins = flat[mapped][1]
        if ins.original != recorded.original and _shape(ins) != _shape(recorded):
            raise FixRefused(f"the instruction at {path}:{edit.line} was changed by another fix in a way this one "
                             "cannot follow; run deadweight fix again")
        found = _found(path, text, dockerfile, mapped)
    elif isinstance(mapped, _Gone):
        raise FixRefused(f"the instruction at {path}:{edit.line} was removed by another fix")
    else:
        exact = [k for k, (_, ins) in enumerate(flat) if edit.original and ins.original == edit.original]
        at = [k for k in exact if flat[k][1].start_line == edit.line]
        if at or len(exact) == 1:
            found = _found(path, text, dockerfile, (at or exact)[0])
        elif not edit.original and (line := [k for k, (_, ins) in enumerate(flat)
                                             if ins.start_line == edit.line and ins.keyword == keyword]):
            found = _found(path, text, dockerfile, line[0])
        elif exact:
            raise FixRefused(f"{len(exact)} instructions of {path} read as the one at line {edit.line} did; "
                             "cannot tell which one the audit meant")
        else:
            raise FixRefused(f"the instruction changed since the audit ({path}:{edit.line})")
    if found.ins.keyword == "ONBUILD":
        raise FixRefused(f"{found.where} is an ONBUILD instruction: it runs in the images built FROM this one; "
                         "edit it by hand")
    if found.ins.keyword != keyword:
        raise FixRefused(f"{found.where} is a {found.ins.keyword}, not a {keyword}")
    return found


def _run_installs(found: _Found) -> list[InstallCommand]:
    return [cmd for cmd in stage_installs(found.dockerfile, found.stage) if cmd.line == found.ins.start_line]


def _absolute(tokens: list[Token], joined: Joined, base: int) -> tuple[Token, ...]:
    out = []
    for tok in tokens:
        start, end = joined.span(tok)
        out.append(Token(tok.value, base + start, base + end, tok.op))
    return tuple(out)


def _after_keyword(tokens: list[Token], joined: Joined, ins: Instruction) -> list[Token]:
    """The tokens after the keyword and its ``--flags``, checked to be the arguments the parser read."""
    k = 1
    for _ in ins.flags:
        k += 1
    rest = tokens[k:]
    if not rest or joined.text[rest[0].start:].strip() != ins.args:
        raise WordsError("the arguments do not read as parsed")
    return rest


def _scripts(found: _Found) -> _Scripts:
    """The shell words of a RUN: its shell text, its heredoc bodies or its exec-form array."""
    ins = found.ins
    try:
        joined = join_instruction(ins.original, found.dockerfile.escape)
        form = parse_exec_or_shell(ins.args)
        if form.exec_form is not None:
            spans = exec_elements(ins.original, joined, form.exec_form)
            words = tuple(Token(v, found.base + s, found.base + e) for v, (s, e) in zip(form.exec_form, spans,
                                                                                       strict=True))
            argv = form.exec_form
            nested = len(argv) >= 3 and posixpath.basename(argv[0]) in SHELLS and argv[1] in SHELL_C_FLAGS
            return _Scripts(joined, (("exec", words),), nested)
        tokens = _after_keyword(shell_tokens(joined.text), joined, ins)
        parts: tuple[tuple[str, tuple[Token, ...]], ...]
        if not ins.heredocs:
            parts = (("shell", _absolute(tokens, joined, found.base)),)
        else:
            head = [t.value for t in tokens if not t.op and not t.value.startswith("<<")]
            if head and posixpath.basename(head[0]) not in SHELLS:
                return _Scripts(joined, (), False)  # RUN python3 <<EOF: not shell
            parts = tuple(("heredoc", tuple(shell_tokens(found.text[found.base + r.start:found.base + r.end],
                                                         found.base + r.start)))
                          for r in heredoc_regions(ins.original, joined.end, ins.heredocs))
    except WordsError as exc:
        raise FixRefused(f"cannot map the words of {found.where} back into the file: {exc}") from None
    nested = False
    for _form, toks in parts:
        for first, last in commands(list(toks)):
            if _recognise([t.value for t in toks[first:last + 1]]) == ("sh", "-c", 0):
                nested = True
    return _Scripts(joined, parts, nested)


def _first_plain(values: list[str], start: int) -> int | None:
    return next((k for k in range(start, len(values)) if not values[k].startswith("-")), None)


def _recognise(values: list[str]) -> tuple[str, str, int] | None:
    """(tool, action, index of the action word) of an install command, as ``installs`` recognises it."""
    i = command_start(values)
    if i >= len(values):
        return None
    prog = posixpath.basename(values[i])
    j = i + 1
    if prog in SHELLS and len(values) - j >= 2 and values[j] in SHELL_C_FLAGS:
        return ("sh", "-c", 0)
    if re.fullmatch(r"python[0-9.]*", prog) and len(values) - j >= 2 and values[j] == "-m":
        prog, j = values[j + 1], j + 2
    a = _first_plain(values, j)
    if a is None:
        return None
    action = values[a]
    if re.fullmatch(r"pip[0-9.]*", prog):
        return ("pip", action, a) if action in ("install", "sync", "download", "wheel", "uninstall",
                                                "compile") else None
    if prog == "uv":
        if action == "pip":
            a = _first_plain(values, a + 1)
            if a is None or values[a] not in ("install", "sync", "download", "wheel", "uninstall", "compile"):
                return None
            return ("uv", values[a], a)
        return ("uv", action, a) if action in ("sync", "add", "install") else None
    if prog in ("poetry", "pdm"):
        return (prog, action, a) if action in ("install", "add", "sync") else None
    if prog in ("apt-get", "apt"):
        return (prog, action, a) if action in ("install", "reinstall") else None
    if prog == "apk":
        return ("apk", action, a) if action == "add" else None
    return None


def _install_cmds(scripts: _Scripts) -> list[_Cmd]:
    out = []
    for n, (form, toks) in enumerate(scripts.parts):
        ranges = [(0, len(toks) - 1)] if form == "exec" else commands(list(toks))
        for first, last in ranges:
            words = toks[first:last + 1]
            hit = _recognise([w.value for w in words])
            if hit is not None and hit[0] != "sh":
                out.append(_Cmd(hit[0], hit[1], words, hit[2], form, n, first, last))
    return out


def _paired(found: _Found, scripts: _Scripts, tool: str, action: str) -> list[tuple[_Cmd, InstallCommand]]:
    """The RUN's ``tool action`` commands located in the text, each with what the extractor read from it."""
    located = [c for c in _install_cmds(scripts) if (c.tool, c.action) == (tool, action)]
    parsed = [c for c in _run_installs(found) if (c.tool, c.action) == (tool, action)]
    if len(located) != len(parsed):
        why = "inside a nested sh -c" if scripts.nested else "written in a way the editor does not follow"
        raise FixRefused(f"the {tool} {action} in {found.where} is {why}; edit it by hand")
    return list(zip(located, parsed, strict=True))


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


# --- checking -------------------------------------------------------------------------------------------------


def _same(a: Instruction, b: Instruction) -> bool:
    return (a.keyword, a.args, a.flags, a.original, a.heredocs) == (b.keyword, b.args, b.flags, b.original,
                                                                    b.heredocs)


def _reparse(found: _Found, new_text: str, ctx: FixContext, *, removed: bool = False) -> _Found | None:
    """Parse the edited text and check that nothing but the edited instruction changed (``removed``: that it
    is gone); the edited instruction as it now reads."""
    new_df = _parse(new_text, found.path, ctx)
    old_flat = _flat(found.dockerfile)
    new_flat = _flat(new_df)
    expected = old_flat[: found.index] + old_flat[found.index + 1:] if removed else old_flat
    if (len(new_flat) != len(expected) or len(new_df.stages) != len(found.dockerfile.stages)
            or new_df.escape != found.dockerfile.escape or new_df.directives != found.dockerfile.directives):
        raise FixRefused(f"the edit of {found.where} would change the Dockerfile's structure; edit it by hand")
    for k, ((old_stage, old), (new_stage, new)) in enumerate(zip(expected, new_flat, strict=True)):
        if old_stage.index != new_stage.index or (old_stage.name, old_stage.base_stage) != (new_stage.name,
                                                                                            new_stage.base_stage):
            raise FixRefused(f"the edit of {found.where} would change the stages; edit it by hand")
        if not removed and k == found.index:
            continue
        if not _same(old, new) or (old.keyword == "FROM" and old_stage.base != new_stage.base):
            raise FixRefused(f"the edit of {found.where} would change line {new.start_line} too; edit it by hand")
    if removed:
        return None
    return _found(found.path, new_text, new_df, found.index)


def _argvs(ins: Instruction) -> list[list[str]]:
    out: list[list[str]] = []
    for script in run_scripts(ins):
        out.extend(split_commands(script))
    return out


def _same_install(a: InstallCommand, b: InstallCommand, *, flags: bool = True, packages: bool = True) -> bool:
    keys = ("tool", "action", "requirement_files", "constraint_files", "editable", "local_paths", "index_urls",
            "extra_index_urls", "find_links", "stage_index")
    if any(getattr(a, k) != getattr(b, k) for k in keys):
        return False
    return (not flags or a.flags == b.flags) and (not packages or a.packages == b.packages)


def _buildkit(dockerfile: Dockerfile) -> bool:
    return any(key == "syntax" for key, _ in dockerfile.directives) or any(
        ins.flag_values("mount") for _, ins in _flat(dockerfile) if ins.keyword == "RUN")


def _cache_note(found: _Found, tool: str) -> str | None:
    target = _CACHE_TARGETS.get(tool)
    if target is None or not _buildkit(found.dockerfile):
        return None
    sharing = ",sharing=locked" if tool in ("apt-get", "apt") else ""
    return (f"BuildKit is in use: RUN --mount=type=cache,target={target}{sharing} on {found.where} would keep "
            f"the {tool} cache out of the image and reuse it across builds (not made; this fix is the smaller "
            "change)")


# --- add_install_flag -----------------------------------------------------------------------------------------


def _has_flag(cmd: InstallCommand, flag: str) -> bool:
    if flag in cmd.flags or any(f.startswith(flag + "=") for f in cmd.flags):
        return True
    if flag in _CACHE_FLAGS and (cmd.no_cache or cmd.cache_mount):
        return True  # the flag, PIP_NO_CACHE_DIR / UV_NO_CACHE in ENV or inline, or a cache mount
    return flag == "--no-install-recommends" and cmd.no_install_recommends


def add_install_flag(edit: AddInstallFlag, ctx: FixContext) -> None:
    """Insert `` FLAG`` right after the action word of the RUN's ``tool action`` commands that lack it."""
    found = _locate(edit, ctx, "RUN")
    if not edit.flag.startswith("-") or re.search(r"[\s\"'\\$`;&|]", edit.flag):
        raise FixRefused(f"{edit.flag!r} is not a plain option")
    scripts = _scripts(found)
    pairs = _paired(found, scripts, edit.tool, edit.action)
    if not pairs:
        raise FixRefused(f"{found.where} no longer runs {edit.tool} {edit.action}")
    todo = [cmd for cmd, parsed in pairs if not _has_flag(parsed, edit.flag)]
    if not todo:
        return
    inserts = []
    for cmd in todo:
        word = cmd.words[cmd.action_at]
        if cmd.form == "exec":
            sep = found.text[cmd.words[0].end:cmd.words[1].start] if len(cmd.words) > 1 else ", "
            if "\n" in sep or "\r" in sep:
                sep = ", "
            inserts.append((word.end, word.end, sep + json.dumps(edit.flag)))
        else:
            inserts.append((word.end, word.end, " " + edit.flag))
    new_text = _splice(found.text, inserts)
    new = _reparse(found, new_text, ctx)
    assert new is not None
    _check_flag(found, new, edit, len(todo))
    note = _cache_note(found, edit.tool) if edit.flag in _CACHE_FLAGS or edit.tool == "apk" else None
    if note:
        ctx.notes.append(note)
    if edit.tool == "poetry":
        _poetry_note(found, ctx)
    ctx.workspace.set(edit.file or "", new_text)


def _check_flag(old: _Found, new: _Found, edit: AddInstallFlag, count: int) -> None:
    before, after = _run_installs(old), _run_installs(new)
    changed = 0
    ok = len(before) == len(after)
    for a, b in zip(before, after, strict=False):
        if not ok:
            break
        if a.flags == b.flags:
            ok = _same_install(a, b)
            continue
        changed += 1
        ok = (_same_install(a, b, flags=False) and (a.tool, a.action) == (edit.tool, edit.action)
              and Counter(b.flags) == Counter(a.flags) + Counter([edit.flag]) and _has_flag(b, edit.flag))
    old_argv, new_argv = _argvs(old.ins), _argvs(new.ins)
    ok = ok and changed == count and len(old_argv) == len(new_argv) and all(
        a == b or (len(b) == len(a) + 1 and any(b[j] == edit.flag and b[:j] + b[j + 1:] == a for j in range(len(b))))
        for a, b in zip(old_argv, new_argv, strict=False))
    if not ok:
        raise FixRefused(f"adding {edit.flag} to {old.where} would not read back as that one change; "
                         "edit it by hand")


def _poetry_note(found: _Found, ctx: FixContext) -> None:
    env = found.stage.env
    configured = any("virtualenvs.create" in " ".join(argv) for ins in found.stage.of("RUN") for argv in _argvs(ins))
    if "POETRY_VIRTUALENVS_CREATE" not in env and not configured:
        ctx.notes.append(f"poetry creates a virtualenv for {found.where} (no POETRY_VIRTUALENVS_CREATE=false or "
                         "poetry config virtualenvs.create false): left as it is; set it if the image should "
                         "install into the system interpreter")


# --- add_cleanup ----------------------------------------------------------------------------------------------


def _cleanup_keys(command: str) -> frozenset[str]:
    """What the extractor counts ``command`` as (``apt-lists``, ``apt-clean``, ...), read by its own parser."""

    def kinds(text: str) -> set[str]:
        df = parse_dockerfile(f"FROM scratch\nRUN {text}\n")
        return {k for cmd in stage_installs(df, df.stages[0]) for k in cmd.cleanups}

    return frozenset(kinds(f"apt-get install -y x && {command}") - kinds("apt-get install -y x"))


def add_cleanup(edit: AddCleanup, ctx: FixContext) -> None:
    """End the RUN with `` && COMMAND`` (a continuation line of its own when the RUN spans lines)."""
    try:
        keys = _cleanup_keys(edit.command)
    except ParseError:
        keys = frozenset()
    if not keys or re.search(r"[\r\n`]|\$\(|&&|\|\||;", edit.command):
        raise FixRefused(f"{edit.command!r} is not a cleanup command the editor can check")
    found = _locate(edit, ctx, "RUN")
    installs = _run_installs(found)
    if not any(c.tool == edit.tool for c in installs):
        raise FixRefused(f"{found.where} no longer runs {edit.tool}")
    if keys <= set(installs[0].cleanups):
        return
    scripts = _scripts(found)
    if not scripts.parts or scripts.parts[0][0] == "exec":
        raise FixRefused(f"{found.where} is an exec-form RUN: there is no shell to run {edit.command} in")
    if scripts.parts[0][0] == "heredoc":
        insert = _heredoc_cleanup(found, scripts, edit.command)
    else:
        insert = _shell_cleanup(found, scripts, edit.command)
    new_text = _splice(found.text, [insert])
    new = _reparse(found, new_text, ctx)
    assert new is not None
    after = _run_installs(new)
    ok = (len(after) == len(installs) and all(_same_install(a, b) for a, b in zip(installs, after, strict=True))
          and all(keys <= set(b.cleanups) and b.cleans_cache >= a.cleans_cache
                  for a, b in zip(installs, after, strict=True))
          and _argvs(new.ins) == _argvs(found.ins) + split_commands(edit.command))
    if not ok:
        raise FixRefused(f"ending {found.where} with {edit.command} would not read back as that one change; "
                         "edit it by hand")
    note = _cache_note(found, edit.tool)
    if note:
        ctx.notes.append(note)
    ctx.workspace.set(edit.file or "", new_text)


def _shell_cleanup(found: _Found, scripts: _Scripts, command: str) -> tuple[int, int, str]:
    tokens = scripts.parts[0][1]
    if not tokens or tokens[-1].op:
        raise FixRefused(f"{found.where} ends with {tokens[-1].value if tokens else 'nothing'!r}; "
                         "add the cleanup by hand")
    last = tokens[-1]
    lines = scripts.joined.lines
    if len(lines) == 1:
        return (last.end, last.end, f" && {command}")
    original = found.ins.original
    escape = found.dockerfile.escape
    start, end, _ = lines[-2]
    trimmed = original[start:end].rstrip(" \t")
    before = trimmed[:-1]
    sep = before[len(before.rstrip(" \t")):] or " "
    texts = [original[s:e] for s, e, _ in lines]
    joins = [k for k, (s, e, cont) in enumerate(lines) if cont and original[s:e].rstrip(" \t")[:-1].rstrip()
             .endswith("&&")]
    trailing = bool(joins)
    leading = [text for text in texts[1:] if text.lstrip().startswith("&&")]
    # the model line: where a command starts after "&& \", else the last "&& ..." line, else the last line
    model = texts[joins[-1] + 1] if trailing else leading[-1] if leading else texts[-1]
    indent = model[: len(model) - len(model.lstrip())]
    eol = original[lines[0][1]:lines[0][1] + 2]
    eol = "\r\n" if eol == "\r\n" else "\n"
    if trailing:
        return (last.end, last.end, f" &&{sep}{escape}{eol}{indent}{command}")
    return (last.end, last.end, f"{sep}{escape}{eol}{indent}&& {command}")


def _heredoc_cleanup(found: _Found, scripts: _Scripts, command: str) -> tuple[int, int, str]:
    n, tokens = next(((k, toks) for k, (_, toks) in reversed(list(enumerate(scripts.parts)))
                      if any(not t.op for t in toks)), (0, ()))
    content = [t for t in tokens if not (t.op and t.value == "\n")]
    if not content or content[-1].op:
        raise FixRefused(f"the heredoc of {found.where} ends with an operator; add the cleanup by hand")
    last = content[-1]
    body = found.ins.heredocs[n].body
    text = found.text
    if not _SET_E.search(body):
        return (last.end, last.end, f" && {command}")  # keeps the script's exit status: it fails as before
    first_of_last = next(tokens[first] for first, last_k in reversed(commands(list(tokens)))
                         if tokens[last_k] == last)
    line_start = text.rfind("\n", 0, first_of_last.start) + 1
    indent_line = text[line_start:first_of_last.start]
    indent = indent_line[: len(indent_line) - len(indent_line.lstrip(" \t"))]
    end = text.find("\n", last.end)
    if end < 0:
        raise FixRefused(f"the heredoc of {found.where} has no end")
    eol = "\r\n" if text[end - 1:end] == "\r" else "\n"
    return (end + 1, end + 1, f"{indent}{command}{eol}")


# --- replace_base ---------------------------------------------------------------------------------------------

_REGISTRY_PREFIX = re.compile(r"^(?:docker\.io/)?(?:library/)?")


def _norm(ref: str) -> str:
    return _REGISTRY_PREFIX.sub("", ref.strip())


def _split_top(tag: str) -> tuple[str, str | None]:
    """A tag split at its first ``-`` outside ``${...}``: version part and variant part."""
    depth = 0
    for k, c in enumerate(tag):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "-" and depth == 0:
            return tag[:k], tag[k + 1:]
    return tag, None


def _slim_ref(raw: str, where: str) -> tuple[str, str | None]:
    """The image reference with the slim variant of its tag, and the distro suffix it kept."""
    if "@" in raw:
        raise FixRefused(f"the digest in {where} pins the full image; update it by hand (or pin the slim image's "
                         "digest)")
    slash = raw.rfind("/")
    colon = raw.find(":", slash + 1)
    name, tag = (raw, None) if colon < 0 else (raw[:colon], raw[colon + 1:])
    if tag is None or tag == "latest":
        return f"{name}:slim", None
    version, variant = _split_top(tag)
    if variant is None and version in _DISTROS:
        return f"{name}:slim-{version}", version
    if variant is None:
        return f"{name}:{version}-slim", None
    if variant in _DISTROS:
        return f"{name}:{version}-slim-{variant}", variant
    raise FixRefused(f"the tag {tag!r} in {where} is not a variant the editor knows how to make slim")


def _compiles(dockerfile: Dockerfile, stages: tuple[Stage, ...]) -> list[str]:
    return [f"{cmd.tool} --no-binary (line {cmd.line})" for stage in stages for cmd in stage_installs(dockerfile, stage)
            if cmd.tool in ("pip", "uv") and any(f.startswith("--no-binary") for f in cmd.flags)]


def replace_base(edit: ReplaceBase, ctx: FixContext) -> None:
    """Rewrite only the image reference of the FROM (``--platform``, ``AS name`` and ``${ARG}``s kept)."""

    def done(found: _Found) -> bool:
        return found.ins.keyword == "FROM" and _norm(found.stage.base).startswith(_norm(edit.new))

    found = _locate(edit, ctx, "FROM")
    if _norm(found.stage.base) != _norm(edit.old):
        if done(found):
            return
        raise FixRefused(f"{found.where} is now based on {found.stage.base}, not {edit.old}")
    if edit.builder:
        try:
            chain = found.dockerfile.chain(found.dockerfile.final_stage(ctx.service.build_target))
        except ParseError as exc:
            raise FixRefused(str(exc)) from None
        if found.stage not in chain:
            raise FixRefused(f"{found.where} is not the FROM of the final stage; only the final stage moves to "
                             f"{edit.new}")
        compiles = _compiles(found.dockerfile, chain)
        if compiles:
            raise FixRefused(f"the final stage compiles ({', '.join(compiles)}): it needs a builder stage (DW301) "
                             f"before it can move to {edit.new}")
    try:
        joined = join_instruction(found.ins.original, found.dockerfile.escape)
        tokens = _after_keyword(shell_tokens(joined.text), joined, found.ins)
    except WordsError as exc:
        raise FixRefused(f"cannot map the words of {found.where} back into the file: {exc}") from None
    image = tokens[0]
    start, end = joined.span(image)
    raw = found.ins.original[start:end]
    if raw != image.value or raw != found.ins.args.split()[0]:
        raise FixRefused(f"the image reference in {found.where} is quoted or escaped; edit it by hand")
    new_raw, distro = _slim_ref(raw, found.where)
    new_text = _splice(found.text, [(found.base + start, found.base + end, new_raw)])
    new = _reparse(found, new_text, ctx)
    assert new is not None
    want = _norm(edit.new) + (f"-{distro}" if distro and not edit.new.endswith(distro) else "")
    if _norm(new.stage.base) != want or (new.stage.name, new.stage.platform) != (found.stage.name,
                                                                              found.stage.platform):
        source = " (the tag comes from an ARG: change it there by hand)" if "$" in raw else ""
        raise FixRefused(f"{found.where} would be based on {new.stage.base}, not {want}{source}")
    ctx.workspace.set(edit.file or "", new_text)


# --- remove_package / replace_package -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pkg:
    found: _Found
    scripts: _Scripts
    cmd: _Cmd
    word: int  # index in cmd.words
    only: bool  # the only thing the command installs


def _package_words(cmd: _Cmd) -> list[int]:
    """Indexes (in ``cmd.words``) of the positional words after the action: packages, paths."""
    out = []
    k = cmd.action_at + 1
    while k < len(cmd.words):
        value = cmd.words[k].value
        if value.startswith("-") and value != "-":
            if value in PIP_VALUE_OPTS:
                k += 1  # its value is the next word
        else:
            out.append(k)
        k += 1
    return out


def _find_package(found: _Found, original: str) -> _Pkg | None:
    if found.ins.keyword != "RUN":
        return None
    scripts = _scripts(found)
    scope = {**found.stage.args, **found.stage.env}
    for cmd in _install_cmds(scripts):
        if cmd.tool not in ("pip", "uv") or cmd.action != "install":
            continue
        positional = _package_words(cmd)
        for k in positional:
            value = cmd.words[k].value
            if value == original or expand_vars(value, scope, found.dockerfile.escape, keep_unknown=True) == original:
                installs_from = any(w.value.split("=", 1)[0] in _INSTALLS_FROM or w.value[:2] in ("-r", "-e")
                                    for w in cmd.words[cmd.action_at + 1:])
                return _Pkg(found, scripts, cmd, k, len(positional) == 1 and not installs_from)
    return None


def _locate_package(edit: RemoveRequirement | ReplaceRequirement, ctx: FixContext,
                    done: Callable[[list[_Found]], bool]) -> _Pkg | None:
    if not edit.original:
        raise FixRefused("the audit did not record the package as written in the RUN")
    cache: dict[int, _Pkg | None] = {}

    def lookup(found: _Found) -> _Pkg | None:
        if found.index not in cache:
            cache[found.index] = _find_package(found, edit.original)
        return cache[found.index]

    assert edit.file is not None
    path = _display(edit, ctx)
    text = ctx.workspace.text(edit.file)
    dockerfile = _parse(text, path, ctx)
    flat = _flat(dockerfile)
    mapped, _recorded = _mapped(edit, ctx, flat, whole=False)
    if isinstance(mapped, _Gone):
        return None  # the RUN was removed (installing this and nothing else was all it did)
    if isinstance(mapped, int):
        found = _found(path, text, dockerfile, mapped)
        if found.ins.keyword == "ONBUILD":
            raise FixRefused(f"{found.where} is an ONBUILD instruction; edit it by hand")
        pkg = lookup(found)
        if pkg is not None:
            return pkg
        if done([found]):
            return None
        raise FixRefused(f"the RUN at {found.where} no longer installs {edit.original} as written")
    candidates = [_found(path, text, dockerfile, k) for k, (_, ins) in enumerate(flat) if ins.keyword == "RUN"]
    at = [f for f in candidates if f.ins.start_line == edit.line]
    if at and lookup(at[0]) is not None:
        pkg = lookup(at[0])
    else:
        hits = [f for f in candidates if lookup(f) is not None]
        if len(hits) > 1:
            raise FixRefused(f"{len(hits)} RUN instructions of {path} install {edit.original}; cannot tell which "
                             f"one line {edit.line} was")
        if not hits:
            onbuild = [ins for _, ins in flat if ins.keyword == "ONBUILD" and ins.start_line == edit.line]
            if onbuild:
                raise FixRefused(f"{path}:{edit.line} is an ONBUILD instruction; edit it by hand")
            if done(candidates):
                return None
            raise FixRefused(f"the RUN at {path}:{edit.line} no longer installs {edit.original} as written")
        pkg = lookup(hits[0])
    return pkg


def _names(found: _Found) -> set[str]:
    return {_req_name(p) for cmd in _run_installs(found) for p in cmd.packages}


def _req_name(text: str) -> str:
    m = _REQ_NAME.match(text.strip())
    return canonicalize_name(m.group(0)) if m else ""


def remove_package(edit: RemoveRequirement, ctx: FixContext) -> None:
    """Drop one package word from a ``pip install``; the whole command (or RUN) when it was all it installed."""
    pkg = _locate_package(edit, ctx, lambda fs: all(canonicalize_name(edit.package) not in _names(f) for f in fs))
    if pkg is None:
        return
    found = pkg.found
    if pkg.cmd.form == "exec":
        raise FixRefused(f"{found.where} is an exec-form RUN; remove {edit.original} by hand")
    if pkg.only:
        new_text, removed = _remove_command(pkg)
    else:
        new_text, removed = _splice(found.text, _word_deletion(pkg)), False
    new = _reparse(found, new_text, ctx, removed=removed)
    if new is not None:
        before, after = _argvs(found.ins), _argvs(new.ins)
        ok = _one_removed(before, after, pkg.only, pkg.cmd.words[pkg.word].value)
        old_installs, new_installs = _run_installs(found), _run_installs(new)
        if pkg.only:
            ok = ok and len(new_installs) == len(old_installs) - 1
        else:
            ok = ok and len(new_installs) == len(old_installs) and sum(
                not _same_install(a, b) for a, b in zip(old_installs, new_installs, strict=True)) == 1 and all(
                _same_install(a, b, packages=False) and (a.packages == b.packages or (
                    Counter(a.packages) - Counter(b.packages) == Counter([edit.original])
                    and len(b.packages) == len(a.packages) - 1))
                for a, b in zip(old_installs, new_installs, strict=True))
        if not ok:
            raise FixRefused(f"removing {edit.original} from {found.where} would not read back as that one change; "
                             "edit it by hand")
    else:
        ctx.notes.append(f"removed {found.where}: installing {edit.original} was all it did")
    ctx.workspace.set(edit.file or "", new_text)


def _one_removed(before: list[list[str]], after: list[list[str]], whole: bool, word: str) -> bool:
    if whole:
        return len(after) == len(before) - 1 and any(before[:k] + before[k + 1:] == after for k in range(len(before)))
    if len(after) != len(before):
        return False
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    return len(changed) == 1 and any(
        changed[0][0][:j] + changed[0][0][j + 1:] == changed[0][1] for j in range(len(changed[0][0])))


def _line_bounds(text: str, pos: int) -> tuple[int, int, int]:
    """(start, end without ending, end with ending) of the physical line holding ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    nl = text.find("\n", pos)
    full = len(text) if nl < 0 else nl + 1
    end = len(text) if nl < 0 else (nl - 1 if text[nl - 1:nl] == "\r" else nl)
    return start, end, full


def _word_deletion(pkg: _Pkg) -> list[tuple[int, int, str]]:
    """Delete a package word with the blank before it: its whole physical line when it stands alone there
    (on the RUN's last line, with the continuation of the line before it; comment lines between stay)."""
    text = pkg.found.text
    words = pkg.cmd.words
    tok = words[pkg.word]
    start, end, full = _line_bounds(text, tok.start)
    before, after = text[start:tok.start], text[tok.end:end]
    escape = pkg.found.dockerfile.escape if pkg.cmd.form == "shell" else "\\"
    alone = not before.strip() and after.strip() in ("", escape) and start > pkg.found.base
    if alone and after.strip() == escape:
        return [(start, full, "")]  # "    numpy \\" : the whole line
    last_of_run = pkg.cmd.form == "shell" and pkg.cmd.last == len(pkg.scripts.parts[pkg.cmd.script][1]) - 1
    if alone and pkg.word == len(words) - 1 and last_of_run:
        prev = words[pkg.word - 1]
        _, prev_end, _ = _line_bounds(text, prev.end - 1)
        if text[prev.end:prev_end].strip() != escape:
            return [(prev.end, tok.end, "")]
        return [(prev.end, prev_end, ""), (start, full, "")]
    if before.strip():
        gap = len(before) - len(before.rstrip(" \t"))
        return [(tok.start - gap, tok.end, "")]
    gap = len(after) - len(after.lstrip(" \t"))
    return [(tok.start, tok.end + gap, "")]


def _remove_command(pkg: _Pkg) -> tuple[str, bool]:
    """Text without the command (and the ``&&`` joining it), or without the RUN when it was the only one."""
    found = pkg.found
    text = found.text
    tokens = pkg.scripts.parts[pkg.cmd.script][1]
    first, last = pkg.cmd.first, pkg.cmd.last
    op_before = tokens[first - 1] if first > 0 else None
    op_after = tokens[last + 1] if last + 1 < len(tokens) else None
    others = [c for c in commands(list(tokens)) if c != (first, last)]
    for op in (op_before, op_after):
        if op is not None and op.value not in ("&&", ";", "\n"):
            raise FixRefused(f"the pip install in {found.where} is joined with {op.value!r}; remove it by hand")
    if not others and len(pkg.scripts.parts) == 1 and pkg.cmd.form == "shell":
        lines = text.splitlines(keepends=True)
        start = found.base
        end = start + sum(len(x) for x in lines[found.ins.start_line - 1:found.ins.end_line])
        return text[:start] + text[end:], True
    if not others:
        raise FixRefused(f"installing {pkg.cmd.words[pkg.word].value} is all the heredoc of {found.where} does; "
                         "remove the RUN by hand")
    if pkg.cmd.form == "heredoc" and "\n" in (op_before.value if op_before else "\n", op_after.value if op_after
                                              else "\n"):
        start, _, _ = _line_bounds(text, tokens[first].start)
        _, _, full = _line_bounds(text, tokens[last].end - 1)
        if (text[start:tokens[first].start].strip() or (op_after is not None and op_after.value != "\n")
                or (op_before is not None and op_before.value != "\n")):
            raise FixRefused(f"the pip install in the heredoc of {found.where} shares its line; remove it by hand")
        return text[:start] + text[full:], False
    if op_before is not None:
        prev = tokens[first - 2]
        start, _, _ = _line_bounds(text, op_before.start)
        _, end, full = _line_bounds(text, tokens[last].end - 1)
        escape = found.dockerfile.escape
        rest = text[tokens[last].end:end].strip()
        if pkg.cmd.form == "shell" and not text[start:op_before.start].strip() and start > found.base:
            if rest == escape:  # "    && pip install x \" : the whole line(s)
                return text[:start] + text[full:], False
            _, prev_end, _ = _line_bounds(text, prev.end - 1)
            if not rest and op_after is None and text[prev.end:prev_end].strip() == escape:
                return text[:prev.end] + text[prev_end:start] + text[full:], False  # the RUN's last line(s)
        return text[:prev.end] + text[tokens[last].end:], False
    assert op_after is not None
    nxt = tokens[last + 2]
    return text[:tokens[first].start] + text[nxt.start:], False


def replace_package(edit: ReplaceRequirement, ctx: FixContext) -> None:
    """Swap the project name (and with ``specifier`` the version) of one package word, keeping its quotes,
    extras and marker."""
    target = canonicalize_name(edit.name) if edit.name else None

    def done(founds: list[_Found]) -> bool:
        names = set().union(*(_names(f) for f in founds))
        return target is not None and canonicalize_name(edit.package) not in names and target in names

    pkg = _locate_package(edit, ctx, done)
    if pkg is None:
        return
    found = pkg.found
    tok = pkg.cmd.words[pkg.word]
    raw = found.text[tok.start:tok.end]
    quote = raw[0] if raw[:1] in ("'", '"') else ""
    m = _REQ_NAME.match(raw, len(quote))
    if m is None or canonicalize_name(m.group(0)) != canonicalize_name(edit.package):
        raise FixRefused(f"{raw} in {found.where} does not start with the name {edit.package}; edit it by hand")
    name_end = m.end()
    new_name = edit.name or m.group(0)
    rest = raw[name_end:]
    if edit.specifier is not None:
        extras = re.match(r"\[[^\]]*\]", rest)
        spec_start = extras.end() if extras else 0
        body = rest[spec_start:]
        stop = _REQ_SPEC_END.search(body.rstrip(quote) if quote else body)
        spec_end = stop.start() if stop else len(body) - (len(quote) if quote and body.endswith(quote) else 0)
        rest = rest[:spec_start] + edit.specifier + body[spec_end:]
    new_raw = raw[:m.start()] + new_name + rest
    if re.search(r"[\s\\$`]", new_name + (edit.specifier or "")):
        raise FixRefused(f"{new_name}{edit.specifier or ''} is not a plain requirement")
    new_text = _splice(found.text, [(tok.start, tok.end, new_raw)])
    new = _reparse(found, new_text, ctx)
    assert new is not None
    before, after = _argvs(found.ins), _argvs(new.ins)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b] if len(before) == len(after) else None
    ok = (changed is not None and len(changed) == 1 and len(changed[0][0]) == len(changed[0][1])
          and sum(x != y for x, y in zip(*changed[0], strict=True)) == 1)
    new_installs = _run_installs(new)
    ok = ok and any(target is None or _req_name(p) == target for c in new_installs for p in c.packages)
    if not ok:
        raise FixRefused(f"replacing {raw} in {found.where} would not read back as that one change; "
                         "edit it by hand")
    ctx.workspace.set(edit.file or "", new_text)

