"""Editor for pyproject.toml: remove a dependency, or rename or pin one, in PEP 621 dependencies and
optional-dependencies, PEP 735 dependency-groups, uv and PDM dev groups and Poetry's tables (the torch
family's CPU index routing is fixes/torch_cpu.py).

Every edit changes the entry's own line(s) and nothing else. tomlkit makes the edit first (round-trip);
its output is kept only when a line diff shows it touched nothing but the intended lines, else the edit is
made at the offsets the scanner (fixes/pyproject_scan.py) found, and when neither is confined the fix is
refused. Whatever is written is re-parsed with tomllib and with deadweight's own parser: the data must equal
the old data with exactly the intended change, and the declared requirements must differ by exactly the one
entry. An entry already removed or replaced (a pyproject shared by two services, a second run) is no change.

Which entry: the edit's ``file:line`` and ``original`` as the parser saw them, matched in the text as it was
read from disk (``workspace.original_text``) together with the group the service's declared requirement is
in, so a line moved by an earlier fix in the same plan, or a package declared in several groups, never
sends the edit to another group. It is then found again in the current text by its table and name.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from packaging.utils import canonicalize_name

from deadweight.errors import ParseError
from deadweight.fixes import locks
from deadweight.fixes.base import FixContext, FixRefused, FixSkipped
from deadweight.fixes.pyproject_entries import (
    Entry,
    container_of_declared,
    dependency_entries,
    extras_entries,
    source_entries,
)
from deadweight.fixes.pyproject_scan import Array, InlineTable, KeyValue, ScanError, Scanned, String, scan
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement
from deadweight.project.pyproject import parse_pyproject

__all__ = ["remove", "replace"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
# a PEP 508 requirement as written: name, extras, the version part, then a marker or a URL
_REQ_RE = re.compile(
    r"^(?P<name>\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?P<extras>\s*\[[^\]]*\])?(?P<spec>[^;@]*?)"
    r"(?P<rest>\s*(?:[;@].*)?)$",
    re.S,
)

Splice = tuple[int, int, str]  # replace text[start:end] with the string


# --- the two fixers -----------------------------------------------------------------------------------------


def remove(edit: RemoveRequirement, ctx: FixContext) -> None:
    """Drop ``edit.package`` from the one table the edit names (and its orphaned extras and uv source)."""
    path, text = _read(edit.file, ctx)
    entry = _current_entry(edit, path, text, ctx)
    if entry is None:
        return  # already removed
    scanned, target = entry
    project_name = parse_pyproject(text, str(path)).name
    if project_name is not None and target.name == project_name:
        raise FixRefused(f"{target.key!r} is the project's own extra: removing it changes what the extra installs")
    ops = [_Op("remove", target)]
    others = [e for e in dependency_entries(scanned) if e.name == target.name and e.start != target.start]
    if target.container[:2] == ("tool", "poetry") and not any(e.container[:2] == ("tool", "poetry") for e in others):
        ops += [_Op("remove-extra", None, array=arr, index=i, path=extra)
                for extra, arr, i in extras_entries(scanned, target.name)]
        if ops[1:]:
            ctx.notes.append(f"also removed {target.key} from [tool.poetry.extras]")
    if not others:
        pairs, headers = source_entries(scanned, target.name)
        if headers:
            raise FixRefused(f"[tool.uv.sources.{headers[0].path[-1]}] would be left without its dependency: "
                             "remove both by hand")
        ops += [_Op("remove-source", None, pair=p) for p in pairs]
        if pairs:
            ctx.notes.append(f"also removed the [tool.uv.sources] entry of {target.key}")
    new = _apply(text, scanned, ops, path)
    _verify_declared(text, new, path, removed=target)
    source = _poetry_source(target)
    if source and not any(_poetry_source(e) == source for e in dependency_entries(_scan(new, path))):
        ctx.notes.append(f"the Poetry source {source!r} is no longer used by any dependency")
    _commit(path, new, ctx)


def _poetry_source(entry: Entry) -> str | None:
    """The ``source = "name"`` of a Poetry entry."""
    pairs = entry.pairs if entry.kind == "table" else (
        entry.pair.value.entries if entry.pair is not None and isinstance(entry.pair.value, InlineTable) else [])
    for pair in pairs:
        if pair.path[-1] == "source" and isinstance(pair.value, String):
            return pair.value.value
    return None


def replace(edit: ReplaceRequirement, ctx: FixContext) -> None:
    """Rename (another distribution, keeping version, extras and marker) and/or re-pin ``edit.package``."""
    if edit.name is None and edit.specifier is None:
        raise FixRefused("the edit names neither a new name nor a new version")
    if edit.name is None and not ctx.settings.pin_pyproject:
        raise FixSkipped("pyproject.toml ranges are left alone (libraries should not pin): pass --pin-pyproject "
                         "to pin them, or pin in a lock file")
    path, text = _read(edit.file, ctx)
    new_name = edit.name
    entry = _current_entry(edit, path, text, ctx)
    if entry is None:
        return
    scanned, target = entry
    if _already_replaced(target, edit):
        return
    if new_name is not None and canonicalize_name(new_name) != target.name:
        clash = [e for e in dependency_entries(scanned)
                 if e.container == target.container and e.name == canonicalize_name(new_name)]
        if clash:
            raise FixRefused(f"{new_name} is already declared beside {target.key}: remove {target.key} instead")
        pairs, headers = source_entries(scanned, target.name)
        if pairs or headers:
            raise FixRefused(f"a [tool.uv.sources] entry names {target.key}: rename it and the source by hand")
    new = _apply(text, scanned, [_Op("replace", target, name=new_name, specifier=edit.specifier)], path)
    if new == text:
        return
    _verify_declared(text, new, path, replaced=target, name=new_name, specifier=edit.specifier)
    _commit(path, new, ctx)


# --- finding the entry --------------------------------------------------------------------------------------


def _read(file: str | None, ctx: FixContext) -> tuple[Path, str]:
    if file is None:
        raise FixRefused("the project does not say where this is declared")
    path = ctx.workspace.key(file)
    return path, ctx.workspace.text(path)


def _scan(text: str, path: Path) -> Scanned:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FixRefused(f"{path.name} is not valid TOML: {exc}") from None
    try:
        return scan(text)
    except ScanError as exc:
        raise FixRefused(f"cannot place the entries of {path.name}: {exc}") from None


def _containers(package: str, line: int, original: str, path: Path, ctx: FixContext) -> list[tuple[str, ...]]:
    """The tables the service's declared requirement at ``line`` comes from (empty: unknown)."""
    out: list[tuple[str, ...]] = []
    for req in ctx.service.requirements:
        if req.name != package or req.line != line or (original and req.raw.strip() != original.strip()):
            continue
        try:
            same = ctx.workspace.key(req.source_file) == path
        except (OSError, ValueError):
            same = False
        if same:
            out += container_of_declared(req.origin, req.group)
    return list(dict.fromkeys(out))


def _original_entry(package: str, line: int, original: str, path: Path, ctx: FixContext) -> Entry:
    """The entry the edit was made for, in the text as read from disk."""
    text = ctx.workspace.original_text(path)
    if text is None:
        raise FixRefused(f"{path.name} did not exist when the project was read")
    candidates = [e for e in dependency_entries(_scan(text, path)) if e.name == package]
    containers = _containers(package, line, original, path, ctx)
    if containers:
        candidates = [e for e in candidates if e.container in containers]
    if len({e.container for e in candidates}) > 1:
        scanned = scan(text)
        on_line = [e for e in candidates if scanned.line_of(e.start) <= line <= scanned.line_of(e.end)]
        candidates = on_line if len({e.container for e in on_line}) == 1 else []
    if not candidates:
        raise FixRefused(f"cannot find {package} in {path.name} where the audit saw it (line {line})")
    if len({e.container for e in candidates}) > 1:
        raise FixRefused(f"{package} is declared in several tables of {path.name} and line {line} names none")
    return candidates[0]


def _current_entry(edit: RemoveRequirement | ReplaceRequirement, path: Path, text: str,
                   ctx: FixContext) -> tuple[Scanned, Entry] | None:
    """The entry in the current text, or None when it is no longer there (already fixed)."""
    package = edit.package
    first = _original_entry(package, edit.line, edit.original, path, ctx)
    scanned = _scan(text, path)
    here = [e for e in dependency_entries(scanned) if e.container == first.container and e.name == package]
    if not here:
        return None
    if len(here) > 1:
        same = [e for e in here if e.key == first.key]
        if len(same) != 1:
            raise FixRefused(f"{package} is declared more than once in [{'.'.join(first.container)}]")
        here = same
    return scanned, here[0]


def _already_replaced(entry: Entry, edit: ReplaceRequirement) -> bool:
    if edit.name is not None and canonicalize_name(edit.name) != entry.name:
        return False
    return edit.specifier is None or _specifier_of(entry) == edit.specifier


def _specifier_of(entry: Entry) -> str | None:
    if entry.kind == "element":
        m = _REQ_RE.match(entry.key)
        return m.group("spec").strip().removeprefix("(").removesuffix(")").strip() if m else None
    version = _poetry_version(entry)
    return version.value if version else None


def _poetry_version(entry: Entry) -> String | None:
    if entry.kind == "key" and entry.pair is not None:
        value = entry.pair.value
        if isinstance(value, String):
            return value
        if isinstance(value, InlineTable):
            for sub in value.entries:
                if sub.path == ("version",) and isinstance(sub.value, String):
                    return sub.value
        return None
    for pair in entry.pairs:
        if pair.path[-1] == "version" and isinstance(pair.value, String):
            return pair.value
    return None


# --- the edit ----------------------------------------------------------------------------------------------


@dataclass
class _Op:
    kind: str  # "remove", "replace", "remove-extra", "remove-source"
    entry: Entry | None
    array: Array | None = None
    index: int = -1
    pair: KeyValue | None = None
    path: tuple[str, ...] = ()  # "remove-extra": the extra's array
    name: str | None = None
    specifier: str | None = None


def _apply(text: str, scanned: Scanned, ops: list[_Op], path: Path) -> str:
    """The edited text: tomlkit's when it is confined to the intended lines, else the scanner's splices."""
    splices: list[Splice] = []
    allowed: set[int] = set()
    refusal: FixRefused | None = None
    for op in ops:
        try:
            got = _splices(text, scanned, op)
        except FixRefused as exc:
            refusal, got = exc, []
        splices += got
        for start, end, _ in got:
            allowed |= set(range(scanned.line_of(start), scanned.line_of(max(start, end - 1)) + 1))
        if op.kind == "replace" and op.entry is not None:  # the entry's own lines, for tomlkit
            allowed |= set(range(scanned.line_of(op.entry.start), scanned.line_of(op.entry.end - 1) + 1))
    if refusal is not None:
        raise refusal  # the scanner could not place the edit: no allowed lines to check tomlkit against
    expected = _expected_data(tomllib.loads(text), ops)
    candidates = [t for t in (_tomlkit_edit(text, ops), _splice(text, splices))
                  if t is not None and _confined(text, t, allowed) and _data(t) == expected]
    if not candidates:
        raise FixRefused(f"the edit of {path.name} would touch more than the entry's lines, or does not read back "
                         "as the intended change")
    # tomlkit's round-trip unless the splices change fewer characters (tomlkit re-indents a closing bracket)
    return min(candidates, key=lambda t: _diff_size(text, t))


def _diff_size(before: str, after: str) -> int:
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


def _data(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _splice(text: str, splices: list[Splice]) -> str:
    out = text
    last = len(text) + 1
    for start, end, new in sorted(splices, key=lambda s: (s[0], s[1]), reverse=True):
        if end > last:
            raise FixRefused("overlapping edits of one line")
        out = out[:start] + new + out[end:]
        last = start
    return out


def _confined(before: str, after: str, allowed: set[int]) -> bool:
    """Whether a line diff of ``before`` and ``after`` only removes or changes lines in ``allowed``."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert" or not all(i + 1 in allowed for i in range(i1, i2)):
            return False
    return True


def _line_bounds(scanned: Scanned, start: int, end: int) -> tuple[int, int, str, str]:
    """The physical lines of ``[start, end)``: the offset of the first line's start, the offset after the last
    line's ending, and the text before ``start`` and after ``end`` on those lines."""
    first, last = scanned.line_of(start), scanned.line_of(max(start, end - 1))
    line_start, _ = scanned.line_span(first)
    _, body_end = scanned.line_span(last)
    after_ending = scanned.line_starts[last] if last < len(scanned.line_starts) else len(scanned.text)
    return line_start, after_ending, scanned.text[line_start:start], scanned.text[end:body_end]


_TAIL_RE = re.compile(r"^[ \t]*(,[ \t]*)?(#.*)?$")


def _splices(text: str, scanned: Scanned, op: _Op) -> list[Splice]:
    if op.kind == "replace":
        assert op.entry is not None
        return _replace_splices(op.entry, op.name, op.specifier)
    if op.kind == "remove-source":
        assert op.pair is not None
        return [_remove_pair_lines(scanned, op.pair.key_start, op.pair.value.end)]
    if op.kind == "remove-extra":
        assert op.array is not None
        return [_remove_element(scanned, op.array, op.index)]
    entry = op.entry
    assert entry is not None
    if entry.kind == "element":
        assert entry.array is not None
        return [_remove_element(scanned, entry.array, entry.index)]
    if entry.kind == "key":
        assert entry.pair is not None
        return [_remove_pair_lines(scanned, entry.pair.key_start, entry.pair.value.end)]
    return [_remove_table(scanned, entry)]


def _remove_element(scanned: Scanned, array: Array, index: int) -> Splice:
    item = array.items[index]
    comma = array.commas[index]
    end = comma + 1 if comma is not None else item.end
    line_start, after_ending, before, tail = _line_bounds(scanned, item.start, end)
    alone = not before.strip() and _TAIL_RE.match(tail) and not tail.lstrip(" \t,").startswith(("]", '"', "'"))
    if alone and (index + 1 == len(array.items) or scanned.line_of(array.items[index + 1].start)
                  > scanned.line_of(end)) and (index == 0 or scanned.line_of(_item_end(array, index - 1))
                                               < scanned.line_of(item.start)):
        return line_start, after_ending, ""  # the element's own line(s), its comment with it
    # the element shares its line: cut it with its comma (the last one: with the comma before it)
    if index + 1 < len(array.items):
        nxt = array.items[index + 1]
        if scanned.line_of(nxt.start) == scanned.line_of(end):
            return item.start, nxt.start, ""
        return item.start, _skip_spaces(scanned.text, end), ""
    if index > 0:  # the last one: cut from the end of the one before ("a", "b"] -> "a"]; "a", "b",] -> "a",])
        prev = array.items[index - 1].end
        if "#" not in scanned.text[prev:item.start]:
            return prev, item.end, ""
    return item.start, _skip_spaces(scanned.text, end), ""


def _item_end(array: Array, index: int) -> int:
    comma = array.commas[index]
    return comma + 1 if comma is not None else array.items[index].end


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _remove_pair_lines(scanned: Scanned, start: int, end: int) -> Splice:
    line_start, after_ending, before, tail = _line_bounds(scanned, start, end)
    if before.strip() or not re.match(r"^[ \t]*(#.*)?$", tail):
        raise FixRefused("the entry shares its line with something else")
    return line_start, after_ending, ""


def _remove_table(scanned: Scanned, entry: Entry) -> Splice:
    """``[tool.poetry.dependencies.pkg]`` and its key/values, with one blank line that separated it."""
    assert entry.header is not None
    nxt = [h for h in scanned.headers if h.start > entry.header.start]
    limit = nxt[0].start if nxt else len(scanned.text)
    if entry.end > limit:
        raise FixRefused("the table's values run past the next table")
    line_start, after_ending, before, tail = _line_bounds(scanned, entry.header.start, entry.end)
    if before.strip() or not re.match(r"^[ \t]*(#.*)?$", tail):
        raise FixRefused("the table shares its lines with something else")
    # a blank line after it (before the next table) goes too when a blank line already precedes it
    first = scanned.line_of(entry.header.start)
    prev_blank = first == 1 or not scanned.text[slice(*scanned.line_span(first - 1))].strip()
    last = scanned.line_of(max(entry.end - 1, entry.header.start))
    if prev_blank and last + 1 <= len(scanned.line_starts):
        s, e = scanned.line_span(last + 1)
        if not scanned.text[s:e].strip():
            after_ending = scanned.line_starts[last + 1] if last + 1 < len(scanned.line_starts) else len(scanned.text)
    return line_start, after_ending, ""


def _replace_splices(entry: Entry, name: str | None, specifier: str | None) -> list[Splice]:
    out: list[Splice] = []
    if entry.kind == "element":
        assert entry.string is not None
        new = _rewrite_requirement(entry.string.value, name, specifier)
        out.append((entry.string.start, entry.string.end, _quoted(entry.string, new)))
        return out
    if name is not None and canonicalize_name(name) != entry.name:
        if entry.kind == "table":
            raise FixRefused(f"renaming the [{'.'.join((*entry.container, entry.key))}] table is not supported: "
                             "rename it by hand")
        assert entry.pair is not None
        if entry.pair.dotted != 1:
            raise FixRefused(f"{entry.key} is a dotted key: rename it by hand")
        out.append((entry.pair.key_start, entry.pair.key_end, name if _BARE_KEY.match(name) else f'"{name}"'))
    if specifier is not None:
        version = _poetry_version(entry)
        if version is None:
            raise FixRefused(f"{entry.key} has no version string to pin (a path, git or url dependency?)")
        out.append((version.start, version.end, _quoted(version, specifier)))
    return out


def _rewrite_requirement(requirement: str, name: str | None, specifier: str | None) -> str:
    m = _REQ_RE.match(requirement)
    if m is None:
        raise FixRefused(f"cannot read the requirement {requirement!r}")
    if specifier is not None and m.group("rest").lstrip().startswith("@"):
        raise FixRefused(f"{requirement!r} is a direct reference: it has no version to pin")
    head = m.group("name")
    if name is not None:
        head = head[: len(head) - len(head.lstrip())] + name
    spec = m.group("spec")
    if specifier is not None:
        lead = spec[: len(spec) - len(spec.lstrip())]
        paren = spec.strip().startswith("(") and spec.strip().endswith(")")
        spec = lead + (f"({specifier})" if paren else specifier)
    return head + (m.group("extras") or "") + spec + m.group("rest")


def _quoted(token: String, value: str) -> str:
    """``value`` in the quotes ``token`` was written with."""
    if token.quote not in ('"', "'"):
        raise FixRefused("the requirement is a multi-line string: edit it by hand")
    bad = token.quote + "\\" if token.quote == '"' else token.quote
    if any(c in value for c in bad) or any(ord(c) < 32 for c in value):
        raise FixRefused(f"{value!r} cannot be written in {token.quote} quotes without escapes")
    return token.quote + value + token.quote


# --- tomlkit and the checks -----------------------------------------------------------------------------------


def _tomlkit_edit(text: str, ops: list[_Op]) -> str | None:
    """The same edit made by tomlkit, or None when tomlkit cannot make it (a rename: tomlkit moves the key)."""
    try:
        doc = tomlkit.parse(text)
        for op in ops:
            if op.kind == "replace" and op.name is not None and op.entry is not None and op.entry.kind != "element" \
                    and canonicalize_name(op.name) != op.entry.name:
                return None
        for op in ops:
            _tomlkit_op(doc, op)
        return tomlkit.dumps(doc)
    except Exception:  # tomlkit's own errors, and anything it does not support
        return None


def _node(doc: Any, path: tuple[str, ...]) -> Any:
    node = doc
    for part in path:
        node = node[part]
    return node


def _tomlkit_op(doc: Any, op: _Op) -> None:
    if op.kind == "remove-extra":
        del _node(doc, op.path)[op.index]
        return
    if op.kind == "remove-source":
        assert op.pair is not None
        del _node(doc, op.pair.path[:-1])[op.pair.path[-1]]
        return
    entry = op.entry
    assert entry is not None
    container = _node(doc, entry.container)
    if entry.kind == "element":
        if op.kind == "remove":
            del container[entry.index]
        else:
            assert entry.string is not None
            new = _rewrite_requirement(entry.string.value, op.name, op.specifier)
            container[entry.index] = tomlkit.string(new, literal=entry.string.quote == "'")
        return
    if op.kind == "remove":
        del container[entry.key]
        return
    version = _poetry_version(entry)
    if version is None or op.specifier is None:
        raise _NoTomlkit
    value = container[entry.key]
    literal = version.quote == "'"
    if isinstance(value, str):
        container[entry.key] = tomlkit.string(op.specifier, literal=literal)
    else:
        value["version"] = tomlkit.string(op.specifier, literal=literal)


class _NoTomlkit(Exception):
    pass


def _expected_data(data: dict[str, Any], ops: list[_Op]) -> dict[str, Any]:
    """The TOML data after exactly the intended change."""
    out = copy.deepcopy(data)
    removals: list[tuple[list[Any], int]] = []
    for op in ops:
        if op.kind == "remove-extra":
            removals.append((_node(out, op.path), op.index))
            continue
        if op.kind == "remove-source":
            assert op.pair is not None
            del _node(out, op.pair.path[:-1])[op.pair.path[-1]]
            continue
        entry = op.entry
        assert entry is not None
        container = _node(out, entry.container)
        if entry.kind == "element":
            assert entry.string is not None
            if op.kind == "remove":
                removals.append((container, entry.index))
            else:
                container[entry.index] = _rewrite_requirement(entry.string.value, op.name, op.specifier)
            continue
        if op.kind == "remove":
            del container[entry.key]
            continue
        value = container.pop(entry.key) if op.name else container[entry.key]
        if op.specifier is not None:
            if isinstance(value, str):
                value = op.specifier
            else:
                value["version"] = op.specifier
        container[op.name or entry.key] = value
    for values, i in sorted(removals, key=lambda r: r[1], reverse=True):
        del values[i]
    return out


def _declared(text: str, path: Path) -> Counter[tuple[Any, ...]]:
    try:
        res = parse_pyproject(text, str(path))
    except ParseError as exc:
        raise FixRefused(f"the edited {path.name} does not parse: {exc}") from None
    return Counter((r.origin, r.group, r.name, r.specifier, r.extras, r.marker, r.url)
                   for r in (*res.requirements, *res.optional))


def _verify_declared(before: str, after: str, path: Path, *, removed: Entry | None = None,
                     replaced: Entry | None = None, name: str | None = None, specifier: str | None = None) -> None:
    """deadweight's own parser must see exactly one declaration gone (or changed), the rest as it was."""
    old, new = _declared(before, path), _declared(after, path)
    gone, added = old - new, new - old
    entry = removed or replaced
    assert entry is not None
    ok = sum(gone.values()) == 1 and next(iter(gone))[2] == entry.name
    if removed is not None:
        ok = ok and not added
    elif ok:
        was = next(iter(gone))
        want_name = canonicalize_name(name) if name else was[2]
        ok = sum(added.values()) == 1
        if ok:
            now = next(iter(added))
            want_spec = now[3] if specifier is None else specifier
            ok = (now[0], now[1], now[2], now[3], now[4], now[5]) == (was[0], was[1], want_name, want_spec, was[4],
                                                                        was[5])
    if not ok:
        raise FixRefused(f"the edited {path.name} does not declare exactly the intended change")


def _commit(path: Path, new: str, ctx: FixContext) -> None:
    if new == ctx.workspace.text(path):
        return
    ctx.workspace.set(path, new)
    locks.regenerate(path.parent, ctx)

