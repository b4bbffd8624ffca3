"""The pieces of a requirements file a fixer edits, read with deadweight's own parser.

``entries`` reads the text the way ``project/requirements.py`` does (logical lines, comments removed,
``${VAR}`` expanded, per-requirement options split off) and gives every logical line a comparable ``key``:
the requirement's name, specifier, extras, marker, URL and options (hashes sorted), or an option line's
words (``-r``/``-c`` includes, index URLs). Two texts hold the same requirements, options and includes when
their keys are the same multiset; that is what every edit is verified against.

The functions that change text (``spec_rewrite``, ``hash_rewrite``) work on physical lines and touch only
the requirement token or the ``--hash`` options; everything else on the line stays as written.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from deadweight.fixes.refused import FixRefused
from deadweight.model.project import DeclaredRequirement
from deadweight.project.requirements import LogicalLine, logical_lines, parse_requirement_text
from deadweight.project.shellwords import shell_split

__all__ = [
    "Entry",
    "Key",
    "annotation_end",
    "entries",
    "expected_key",
    "hash_rewrite",
    "keys",
    "locate",
    "normalized_specifier",
    "removal_span",
    "spec_rewrite",
]

Key = tuple[object, ...]

_PER_REQ = ("--hash", "--config-settings", "--global-option", "--install-option", "-C")
_PER_REQ_RE = re.compile(r"(^|\s)(" + "|".join(re.escape(o) for o in _PER_REQ) + r")(=|\s)")
_OP = r"(?:===|==|!=|~=|<=|>=|<|>)"
_SPEC_RE = re.compile(
    r"^(?P<indent>\s*)"
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?P<extras>\s*\[[^\]\\#]*\])?"
    r"(?P<gap>\s*)"
    rf"(?P<spec>\(\s*[^)\\#]*\)|{_OP}\s*[^\s,;#\\]+(?:\s*,\s*{_OP}\s*[^\s,;#\\]+)*)?"
)
_HASH_TOKEN_RE = re.compile(r"--hash(?:=|\s+)\S+")
_HASH_LINE_RE = re.compile(r"^(?P<indent>\s*)--hash(?:=|\s+)[^\s\\#]+(?P<tail>\s*\\?)?(?P<comment>\s+#.*)?$")
_INDENTED_COMMENT_RE = re.compile(r"^[ \t]+#")
_COMMENT_LINE_RE = re.compile(r"^\s*#")


@dataclass(frozen=True, slots=True)
class Entry:
    """One logical line: the requirement it declares (None for options and lines the parser rejects)."""

    logical: LogicalLine
    requirement: DeclaredRequirement | None
    hashes: tuple[str, ...]  # "sha256:..." as written, in order
    key: Key


def _options(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The per-requirement options of a logical line: hashes (in order) and the others (name, value)."""
    m = _PER_REQ_RE.search(text)
    if not m:
        return (), ()
    try:
        words = shell_split(text[m.start():])
    except ValueError:
        return (), (("unparsed", text[m.start():]),)
    hashes: list[str] = []
    others: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        name, eq, value = words[i].partition("=")
        if not eq and i + 1 < len(words):
            value = words[i + 1]
            i += 1
        if name == "--hash":
            hashes.append(value)
        else:
            others.append((name, value))
        i += 1
    return tuple(hashes), tuple(others)


def entries(text: str, source_file: str, env: Mapping[str, str] | None = None) -> list[Entry]:
    """Every logical line of ``text`` (a requirements file at ``source_file``) with its key."""
    env = os.environ if env is None else env
    base = Path(source_file).parent
    out: list[Entry] = []
    for ll in logical_lines(text, env):
        line = ll.text
        if line.startswith("-") and not line.startswith(("-e", "--editable")):
            try:
                words: tuple[str, ...] = tuple(shell_split(line))
            except ValueError:
                words = (line,)
            out.append(Entry(ll, None, (), ("option", *words)))
            continue
        editable = line.startswith(("-e", "--editable"))
        if editable:
            line = re.sub(r"^(-e|--editable)(=|\s+)?", "", line).strip()
        req = parse_requirement_text(line, source_file, ll, editable=editable, base_dir=base)
        if req is None:
            out.append(Entry(ll, None, (), ("unparsed", ll.text)))
            continue
        hashes, others = _options(line)
        key: Key = ("req", req.name, req.specifier, req.extras, req.marker, req.url, req.editable,
                    tuple(sorted(hashes)), others)
        out.append(Entry(ll, req, hashes, key))
    return out


def keys(items: Sequence[Entry]) -> Counter[Key]:
    return Counter(entry.key for entry in items)


def normalized_specifier(specifier: str) -> str:
    """``specifier`` as the parser stores it (packaging's ``SpecifierSet`` text)."""
    try:
        return str(Requirement(f"x{specifier}").specifier)
    except InvalidRequirement:
        raise FixRefused(f"{specifier!r} is not a valid version specifier") from None


def expected_key(entry: Entry, *, name: str | None = None, specifier: str | None = None,
                 hashes: Sequence[str] | None = None) -> Key:
    """The key ``entry`` has once its name, specifier or hashes are replaced."""
    req = entry.requirement
    assert req is not None
    tag, old_name, old_spec, extras, marker, url, editable, old_hashes, others = entry.key
    return (tag, canonicalize_name(name) if name else old_name,
            normalized_specifier(specifier) if specifier is not None else old_spec, extras, marker, url, editable,
            tuple(sorted(hashes)) if hashes is not None else old_hashes, others)


def locate(items: Sequence[Entry], package: str, line: int, original: str,
           others: Sequence[str] = ()) -> Entry | None:
    """The entry declaring ``package`` that the edit means; None when the file no longer declares it.

    ``others`` are the other declarations of the package the audit saw in this file (as written): they
    are not this edit's. The edit's is the one at ``line`` still written as ``original``, else the one so
    written nearest ``line`` (earlier edits moved it), as long as more are so written than ``others``
    account for; else, when the text changed since the audit, the only declaration ``others`` do not
    account for. None of them left: already gone. Several and none as recorded: ``FixRefused``
    (ambiguous).
    """
    package = canonicalize_name(package)
    found = [e for e in items if e.requirement is not None and e.requirement.name == package]
    original = original.strip()
    pool = Counter(o.strip() for o in others)
    twins = pool[original] if original else 0
    same = [e for e in found if not original or e.logical.raw.strip() == original]
    if len(same) > twins:
        at_line = [e for e in same if e.logical.line == line]
        return at_line[0] if at_line else min(same, key=lambda e: abs(e.logical.line - line))
    unexplained = []
    for entry in found:
        raw = entry.logical.raw.strip()
        if pool[raw] > 0:
            pool[raw] -= 1  # one of the other declarations the audit saw
        else:
            unexplained.append(entry)
    if not unexplained:
        return None
    if len(unexplained) == 1:
        return unexplained[0]
    where = ", ".join(str(e.logical.line) for e in unexplained)
    raise FixRefused(f"{package} is declared at lines {where} and none reads {original!r} any more: ambiguous")


def annotation_end(physical: Sequence[str], last: int) -> int:
    """The last physical line (1-based) of the indented comments right below line ``last`` (pip-compile's
    ``# via`` block), ``last`` itself when there are none."""
    end = last
    while end < len(physical) and _INDENTED_COMMENT_RE.match(physical[end]):
        end += 1
    return end


def removal_span(physical: Sequence[str], entry: Entry) -> tuple[int, int]:
    """The physical lines (1-based, inclusive) removing ``entry`` deletes: its own lines (continuations,
    its trailing comment) and the indented comments right below it that annotate it (pip-compile's
    ``# via``). A comment line on its own above it, or unindented below it, stays."""
    start, end = entry.logical.line, entry.logical.end_line
    # a comment line that ends a continuation belongs to the logical line for pip, but unless it is an
    # indented annotation it is a comment of its own: it stays
    last = end
    while last > start and _COMMENT_LINE_RE.match(physical[last - 1]) and not _INDENTED_COMMENT_RE.match(
            physical[last - 1]):
        last -= 1
    if last < end:
        return start, last
    return start, annotation_end(physical, end)


def spec_rewrite(line: str, package: str, *, name: str | None, specifier: str | None, next_line: str = "") -> str:
    """The physical line ``line`` (the first line of the requirement, without its ending) with the name
    replaced by ``name`` and/or the version specifier by ``specifier``; extras, spacing, marker, options and
    comment stay as written. ``next_line``: the physical line after it, when ``line`` continues there."""
    m = _SPEC_RE.match(line)
    if not m or canonicalize_name(m.group("name")) != canonicalize_name(package):
        raise FixRefused(f"the line does not start with the requirement {package}: {line.strip()!r}")
    rest = line[m.end():]
    if rest.startswith(("@", " @")) or (not m.group("spec") and rest.lstrip().startswith("@")):
        raise FixRefused(f"{package} is a direct reference (name @ URL): not rewritten")
    if specifier is not None and not m.group("spec") and rest.strip() == "\\" and \
            next_line.lstrip().startswith(("<", ">", "=", "!", "~", "(", "[", ",")):
        raise FixRefused(f"the version or extras of {package} continue on the next line: not rewritten")
    new_name = name if name else m.group("name")
    extras = m.group("extras") or ""
    gap = m.group("gap")
    spec = m.group("spec")
    if specifier is None:
        middle = gap + (spec or "")
    elif spec:
        middle = gap + specifier
    else:
        middle = specifier + gap
    return m.group("indent") + new_name + extras + middle + rest


def hash_rewrite(physical: Sequence[str], start: int, end: int, hashes: Sequence[str]) -> list[str]:
    """The physical lines ``start``..``end`` (1-based; the text of each without its ending) with their
    ``--hash`` options replaced by ``hashes`` (``sha256:...``), in the layout the line uses: one option per
    continuation line (pip-compile's), or all on one line. A layout not understood: ``FixRefused``."""
    block = [p.rstrip("\r\n") for p in physical[start - 1:end]]
    written = next((m.group(0) for text in block if (m := _HASH_TOKEN_RE.search(text))), "--hash=")
    spaced = re.match(r"--hash(\s+)", written)
    joint = spaced.group(1) if spaced else "="  # --hash=sha256:... or --hash sha256:..., as the line writes it
    tokens = [f"--hash{joint}{h}" for h in hashes]
    if not tokens:
        raise FixRefused("no hashes to write")
    first, rest = block[0], block[1:]
    hash_lines = [i for i, text in enumerate(rest) if _HASH_TOKEN_RE.search(text)]
    if not _HASH_TOKEN_RE.search(first) and hash_lines and hash_lines == list(range(len(rest))) and all(
            _HASH_LINE_RE.match(text) for text in rest):
        matches = [_HASH_LINE_RE.match(text) for text in rest]
        indent = matches[0].group("indent") if matches[0] else "    "
        tails = [(m.group("tail") or "") if m else "" for m in matches]
        cont = next((t for t in tails if t.strip() == "\\"), " \\")
        last_tail = tails[-1]
        last_comment = (matches[-1].group("comment") or "") if matches[-1] else ""
        out = [first]
        for i, token in enumerate(tokens):
            if i < len(tokens) - 1:
                out.append(indent + token + cont)
            else:
                out.append(indent + token + last_tail + last_comment)
        return out
    if not hash_lines and len(_HASH_TOKEN_RE.findall(first)) > 0:
        found = list(_HASH_TOKEN_RE.finditer(first))
        sep = first[found[0].end():found[1].start()] if len(found) > 1 else " "
        if sep.strip():
            raise FixRefused("the --hash options are not next to each other: not rewritten")
        new_first = first[:found[0].start()] + sep.join(tokens) + first[found[-1].end():]
        return [new_first, *rest]
    raise FixRefused("the --hash options are spread over the lines in a layout deadweight does not rewrite")
