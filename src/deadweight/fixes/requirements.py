"""Editor for requirements files (pip's format): remove or replace one requirement at the line the parser
recorded, keeping comments, continuations, hashes, markers, extras and line endings.

Every edit is made on the workspace's current text and verified by reading the result again with
deadweight's parser (``fixes/reqline.py``): the requirements, options and includes of the file must be
those before the edit, less the requirement removed or with exactly the one requirement replaced;
anything else is refused and the text left as it was. An edit already made (the package gone, the pin
already there) changes nothing.

A pin of a requirement with ``--hash`` options gets the hashes of the new version, read from the index pip
would use (the file's ``--index-url``/``--extra-index-url``, the service's, ``PIP_INDEX_URL``, else PyPI);
a lean variant (DW102) of a pinned requirement is checked to exist at that version. Offline, or with the
index unreachable, such edits are refused.

pip-tools: a ``requirements.in`` and its pip-compile output ``requirements.txt`` beside it (the header
names the ``.in``) are edited together, whichever of them the audit read. With pip-compile installed the
``.txt`` is regenerated in a scratch copy of both files with the options its header records; otherwise
(or with ``--no-lock``/``--offline``, or when pip-compile fails) the same line edit is made to it,
removing also what its ``# via`` annotations show only the removed package needed, and a note says to
run pip-compile.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path, PurePath

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from deadweight.errors import SourceError
from deadweight.fixes import reqline
from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.locks import run_tool
from deadweight.fixes.reqline import Entry
from deadweight.fixes.text import line_ending, lines
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement
from deadweight.pypi.index import IndexClient, IndexFile, pip_index_urls
from deadweight.pypi.store import JsonStore
from deadweight.redact import redact

__all__ = ["remove", "replace"]

_VIA_RE = re.compile(r"#\s*via\b(.*)", re.DOTALL)


# --- remove -------------------------------------------------------------------------------------------------


def remove(edit: RemoveRequirement, ctx: FixContext) -> None:
    """Delete the logical line declaring ``edit.package`` from ``edit.file`` (with its continuation lines,
    its trailing comment and the ``# via`` annotation below it); a comment line above it stays."""
    assert edit.file is not None
    removed = _remove_in(edit.file, edit.package, edit.line, edit.original, ctx)
    if removed is None:
        return
    compiled = _compiled_beside(edit.file, ctx)
    if compiled is not None and not _recompile(edit.file, compiled, ctx, {edit.package}, adds=False):
        _remove_compiled(compiled, edit.file, edit.package, ctx)
    source = _source_of(edit.file, ctx)
    if source is not None:
        _remove_source(source, edit.file, edit.package, ctx)


def _remove_source(source: str, compiled: str, package: str, ctx: FixContext) -> None:
    """``package`` was removed from ``compiled``, pip-compile's output of ``source``: remove it from
    ``source`` too (else the next pip-compile puts it back), then regenerate ``compiled`` or drop from it
    what only the package needed."""
    package = canonicalize_name(package)
    shown, shown_source = _show(compiled, ctx), _show(source, ctx)
    if _remove_in(source, package, 0, "", ctx) is None:
        ctx.notes.append(f"{shown} is compiled from {shown_source}, which does not declare {package}: "
                         "pip-compile pins it again while a requirement there needs it")
        return
    if _recompile(source, compiled, ctx, {package}, adds=False):
        ctx.notes.append(f"removed {package} from {shown_source} too, the source of {shown}")
        return
    text = ctx.workspace.text(compiled)
    items = reqline.entries(text, compiled)
    orphans = _orphans(items, lines(text), {package})
    if orphans:
        _delete(compiled, text, items, list(orphans.values()), ctx)
    also = f", and from {shown} {', '.join(sorted(orphans))}, which only it needed" if orphans else ""
    ctx.notes.append(f"removed {package} from {shown_source} too, the source of {shown}{also}; run pip-compile "
                     "to check")


def _remove_in(path: str, package: str, line: int, original: str, ctx: FixContext) -> Entry | None:
    text = ctx.workspace.text(path)
    before = reqline.entries(text, path)
    entry = reqline.locate(before, package, line, original, _others(path, package, line, original, ctx))
    if entry is None:
        return None  # already gone
    return _delete(path, text, before, [entry], ctx)


def _others(path: str, package: str, line: int, original: str, ctx: FixContext) -> list[str]:
    """How the audit saw the other declarations of ``package`` in ``path`` written (not this edit's)."""
    key = ctx.workspace.key(path)
    package = canonicalize_name(package)
    return [r.raw for r in ctx.service.requirements
            if r.name == package and (r.line, r.raw.strip()) != (line, original.strip())
            and ctx.workspace.key(r.source_file) == key]


def _delete(path: str, text: str, before: Sequence[Entry], doomed: Sequence[Entry], ctx: FixContext) -> Entry:
    physical = lines(text)
    spans = sorted(reqline.removal_span(physical, entry) for entry in doomed)
    keep = [True] * len(physical)
    for start, end in spans:
        for i in range(start - 1, end):
            keep[i] = False
    new = "".join(p for p, k in zip(physical, keep, strict=True) if k)
    expected = reqline.keys(before)
    expected.subtract(entry.key for entry in doomed)
    _verify(path, new, +expected, ctx)
    ctx.workspace.set(path, new)
    names = {e.requirement.name for e in doomed if e.requirement is not None}
    for entry in reqline.entries(new, path):
        if entry.requirement is not None and entry.requirement.name in names:
            ctx.notes.append(f"{entry.requirement.name} is also declared at {_show(path, ctx)}:"
                             f"{entry.logical.line}, which this fix leaves")
    return doomed[0]


def _verify(path: str, new: str, expected: Counter[reqline.Key], ctx: FixContext) -> None:
    after = reqline.keys(reqline.entries(new, path))
    if after != expected:
        lost = sorted(map(str, (expected - after).keys()))
        gained = sorted(map(str, (after - expected).keys()))
        raise FixRefused(f"editing {ctx.workspace.display(ctx.workspace.key(path))} would change more than the "
                         f"one requirement (lost {lost or 'nothing'}, gained {gained or 'nothing'}): not made")


# --- replace ------------------------------------------------------------------------------------------------


def replace(edit: ReplaceRequirement, ctx: FixContext) -> None:
    """Rewrite the requirement token of ``edit.package``: the name (``edit.name``) and/or the specifier
    (``edit.specifier``); extras, marker, options, comment and layout stay, ``--hash`` options are
    refreshed for the new version."""
    assert edit.file is not None
    if not edit.name and edit.specifier is None:
        raise FixRefused("the edit names neither a new project nor a new specifier")
    made = _replace_in(edit.file, edit, edit.line, edit.original, ctx)
    compiled = _compiled_beside(edit.file, ctx) if made else None
    touched = {edit.package, *([edit.name] if edit.name else [])}
    if compiled is not None and not _recompile(edit.file, compiled, ctx, touched, adds=bool(edit.name)) and \
            _replace_in(compiled, edit, 0, "", ctx):
        ctx.notes.append(f"{_show(compiled, ctx)}: made the same change without pip-compile; run pip-compile to "
                         f"check what {edit.name or edit.package} needs")
    source = _source_of(edit.file, ctx) if made else None
    if source is not None:
        shown, shown_source = _show(edit.file, ctx), _show(source, ctx)
        if not _replace_in(source, edit, 0, "", ctx):
            ctx.notes.append(f"{shown} is compiled from {shown_source}, which does not declare {edit.package}: "
                             "pip-compile undoes this change")
        elif _recompile(source, edit.file, ctx, touched, adds=bool(edit.name)):
            ctx.notes.append(f"made the same change to {shown_source}, the source of {shown}")
        else:
            ctx.notes.append(f"made the same change to {shown_source}, the source of {shown}; run pip-compile to "
                             "check")


def _replace_in(path: str, edit: ReplaceRequirement, line: int, original: str, ctx: FixContext) -> bool:
    text = ctx.workspace.text(path)
    before = reqline.entries(text, path)
    entry = reqline.locate(before, edit.package, line, original, _others(path, edit.package, line, original, ctx))
    if entry is None:
        return False  # gone (removed, or already renamed to the lean variant)
    req = entry.requirement
    assert req is not None
    if req.url or req.editable:
        raise FixRefused(f"{edit.package} is declared by URL or as editable: not rewritten")
    name = edit.name if edit.name and canonicalize_name(edit.name) != req.name else None
    specifier = edit.specifier
    if specifier is not None and reqline.normalized_specifier(specifier) == req.specifier:
        specifier = None
    if name is None and specifier is None:
        return False  # already pinned / already that name
    if name is not None:
        clash = [e for e in before if e.requirement is not None and e.requirement.name == canonicalize_name(name)]
        if clash:
            raise FixRefused(f"{name} is already declared at {_show(path, ctx)}:{clash[0].logical.line}: "
                             f"remove {edit.package} by hand rather than declare {name} twice")
    if name is not None and specifier is None and req.specifier:
        specifier = _lean_specifier(name, req.specifier, before, ctx)
    final_spec = reqline.normalized_specifier(specifier) if specifier is not None else req.specifier
    hashes: list[str] | None = None
    if entry.hashes:
        version = _exact(final_spec)
        if version is None:
            raise FixRefused(f"{edit.package} has --hash options but {final_spec or 'no version'} is not an exact "
                             "pin: the hashes cannot be refreshed")
        hashes = _hashes_of(name or req.name, version, before, ctx)
    physical = lines(text)
    start, end = entry.logical.line, entry.logical.end_line
    first = reqline.spec_rewrite(physical[start - 1].rstrip("\r\n"), edit.package, name=name, specifier=specifier,
                                 next_line=physical[start] if start < end else "")
    if hashes is not None:
        block = reqline.hash_rewrite([*physical[:start - 1], first + "\n", *physical[start:]], start, end, hashes)
    else:
        block = [first, *(p.rstrip("\r\n") for p in physical[start:end])]
    new = _splice(text, physical, start, end, block)
    expected = reqline.keys(before)
    expected[entry.key] -= 1
    expected[reqline.expected_key(entry, name=name, specifier=specifier, hashes=hashes)] += 1
    _verify(path, new, +expected, ctx)
    ctx.workspace.set(path, new)
    return True


def _splice(text: str, physical: Sequence[str], start: int, end: int, block: Sequence[str]) -> str:
    """Lines ``start``..``end`` replaced by ``block``, each new line keeping the ending of the old line it
    replaces (the last the last's, so a missing final newline stays missing)."""
    endings = [p[len(p.rstrip("\r\n")):] for p in physical[start - 1:end]]
    default = endings[0] if len(endings) > 1 else line_ending(text)
    out = []
    for i, content in enumerate(block):
        ending = endings[-1] if i == len(block) - 1 else endings[i] if i < len(endings) - 1 else default
        out.append(content + ending)
    return "".join([*physical[:start - 1], *out, *physical[end:]])


def _exact(specifier: str) -> str | None:
    if specifier.startswith("==") and "," not in specifier and "*" not in specifier:
        return specifier[2:].strip()
    if specifier.startswith("===") and "," not in specifier:
        return specifier[3:].strip()
    return None


def _lean_specifier(name: str, specifier: str, items: Sequence[Entry], ctx: FixContext) -> str | None:
    """The specifier the lean variant ``name`` gets for the old requirement's ``specifier``: the same when
    the index has a version it allows; for an exact pin it does not have, the nearest lower version (with a
    note). None: keep the specifier as it is."""
    files = _index_files(name, items, ctx)
    versions = sorted({v for f in files if not f.yanked and (v := f.version()) is not None})
    try:
        allowed = SpecifierSet(specifier)
    except InvalidSpecifier:
        raise FixRefused(f"{specifier!r} is not a valid specifier") from None
    pinned = _exact(specifier)
    if pinned is None:
        if any(allowed.contains(v, prereleases=True) for v in versions):
            return None
        raise FixRefused(f"the index has no {name} release that {specifier} allows")
    try:
        wanted = Version(pinned)
    except InvalidVersion:
        raise FixRefused(f"{pinned!r} is not a version") from None
    if wanted in versions:
        return None
    lower = [v for v in versions if v < wanted and (wanted.is_prerelease or not v.is_prerelease)]
    if not lower:
        raise FixRefused(f"the index has no {name} {pinned} and no release below it")
    chosen = lower[-1]
    ctx.notes.append(f"{name} has no release {pinned} on the index: pinned the nearest lower one, {chosen}")
    return f"=={chosen}"


def _hashes_of(name: str, version: str, items: Sequence[Entry], ctx: FixContext) -> list[str]:
    """``sha256:...`` of every file of ``name`` ``version`` on the indexes (sorted, as pip-compile writes)."""
    try:
        wanted = Version(version)
    except InvalidVersion:
        raise FixRefused(f"{version!r} is not a version: the hashes cannot be refreshed") from None
    files = [f for f in _index_files(name, items, ctx) if f.version() == wanted]
    if not files:
        raise FixRefused(f"the index has no file of {name} {version}: the hashes cannot be refreshed")
    missing = [f.filename for f in files if not f.sha256]
    if missing:
        raise FixRefused(f"the index gives no sha256 for {', '.join(missing)}: the hashes cannot be refreshed")
    return sorted({f"sha256:{f.sha256}" for f in files})


def _index_urls(items: Sequence[Entry], ctx: FixContext) -> list[str]:
    """The indexes pip would read for this file: its own options, the service's, the environment, PyPI."""
    options = [(o.name, o.value) for o in ctx.service.requirement_options]
    for entry in items:
        if entry.key[0] != "option":
            continue
        words = [str(w) for w in entry.key[1:]]
        i = 0
        while i < len(words):
            word = words[i]
            name, eq, value = word.partition("=")
            if not eq and word.startswith("-i") and len(word) > 2:
                name, value, eq = "-i", word[2:], "="
            if name in ("-i", "--index-url", "--extra-index-url") and not eq and i + 1 < len(words):
                value = words[i + 1]
                i += 1
            if name in ("-i", "--index-url", "--extra-index-url", "--no-index"):
                options.append((name, value))
            i += 1
    if any(name == "--no-index" for name, _ in options):
        raise FixRefused("the requirements say --no-index: there is no index to read versions and hashes from")
    return pip_index_urls(options, ctx.service.installs)


def _index_files(name: str, items: Sequence[Entry], ctx: FixContext) -> list[IndexFile]:
    """Every file of ``name`` on every index, read now (a fresh page, not the audit's cache)."""
    if ctx.settings.offline:
        raise FixRefused(f"running offline: the index cannot be asked about {name}")
    urls = _index_urls(items, ctx)
    out: list[IndexFile] = []
    with tempfile.TemporaryDirectory(prefix="deadweight-fix-") as scratch:
        store = JsonStore(Path(scratch))
        for url in urls:
            if "${" in url:
                raise FixRefused(f"the index URL {redact(url)} names an unset environment variable")
            try:
                out += IndexClient(url, store).project_files(name)
            except SourceError as exc:
                raise FixRefused(redact(f"cannot read the index: {exc}")) from None
    return out


# --- requirements.in and its compiled requirements.txt ------------------------------------------------------


def _show(path: str, ctx: FixContext) -> str:
    return ctx.workspace.display(ctx.workspace.key(path))


def _compiled_beside(path: str, ctx: FixContext) -> str | None:
    """The pip-compile output next to a ``.in`` file (``requirements.in`` -> ``requirements.txt``)."""
    if not path.endswith(".in"):
        return None
    compiled = path[:-3] + ".txt"
    return compiled if ctx.workspace.exists(compiled) else None


# pip-compile options that take a value as the next word (the rest are flags, or --name=value)
_COMPILE_VALUE_OPTS = frozenset({
    "--resolver", "--pip-args", "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
    "--extra", "--unsafe-package", "--build-deps-for", "--max-rounds", "--annotation-style",
    "--build-isolation-args",
})
# options naming other files: a scratch copy would not have them, so such a header is not re-run
_COMPILE_FILES = frozenset({"-c", "--constraint", "--config", "--cache-dir"})
# options that would change more than the edit (upgrades) or where the output goes: never passed on
_COMPILE_DROPPED = frozenset({"-U", "--upgrade", "--dry-run", "-q", "--quiet", "-v", "--verbose"})
_COMPILE_DROPPED_VALUE = frozenset({"-P", "--upgrade-package", "-o", "--output-file"})  # output: checked


def _compile_command(compiled_text: str, source_name: str, output_name: str) -> list[str] | None:
    """The pip-compile options recorded in the compiled file's header, when the header names exactly
    ``source_name`` (and ``output_name``, if it names one): running it again then reproduces the header.
    None: no header, or one naming other paths."""
    header = next((line for line in compiled_text.splitlines()[:12]
                   if re.match(r"^#\s+pip-compile(\s|$)", line)), None)
    if header is None:
        return None
    try:
        words = shlex.split(header.lstrip("#").strip())[1:]
    except ValueError:
        return None
    options: list[str] = []
    sources: list[str] = []
    output: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, value = word.partition("=")
        if not word.startswith("-"):
            sources.append(word)
        elif name in _COMPILE_DROPPED_VALUE:
            start = i
            if not eq:
                value = words[i + 1] if i + 1 < len(words) else ""
                i += 1
            if name in ("-o", "--output-file"):  # kept as written: the header shows it only when given
                output = value
                options += words[start:i + 1]
        elif name in _COMPILE_DROPPED:
            pass
        elif name in _COMPILE_FILES:
            return None
        elif not eq and name in _COMPILE_VALUE_OPTS:
            options += words[i:i + 2]
            i += 1
        else:
            options.append(word)
        i += 1
    if sources != [source_name] or output not in (None, output_name):
        return None
    return options


def _recompile(source: str, compiled: str, ctx: FixContext, touched: Collection[str], *, adds: bool) -> bool:
    """Regenerate ``compiled`` from the edited ``source`` with pip-compile, in a scratch directory holding
    the workspace's text of both (so pip-compile keeps every pin it need not change), and read the result
    into the workspace. False when pip-compile is not installed, ``--no-lock`` or ``--offline`` was given,
    the compiled file's header does not say how it was made, or pip-compile fails or changes more than the
    edit explains (a note says why): the caller keeps it in step by hand. ``touched``: the packages the
    edit is about, whose pins may change; ``adds``: whether new packages may appear (a lean variant's
    dependencies), else pip-compile may only drop pins."""
    exe = shutil.which("pip-compile")
    if exe is None or not ctx.settings.lock or ctx.settings.offline:
        return False
    source_key, compiled_key = ctx.workspace.key(source), ctx.workspace.key(compiled)
    compiled_text = ctx.workspace.text(compiled)
    options = _compile_command(compiled_text, source_key.name, compiled_key.name)
    if options is None:
        ctx.notes.append(f"{_show(compiled, ctx)}: its header does not say how pip-compile made it from "
                         f"{source_key.name}, so it was not regenerated")
        return False
    source_text = ctx.workspace.text(source)
    files = {source_key.name: source_text, compiled_key.name: compiled_text}
    for entry in reqline.entries(source_text, source):
        if entry.key[0] != "option":
            continue
        words = [str(w) for w in entry.key[1:]]
        for i, word in enumerate(words):
            name, eq, value = word.partition("=")
            if name not in ("-r", "--requirement", "-c", "--constraint") and not re.match(r"^-[rc]\S", word):
                continue
            if not eq:
                value = word[2:] if re.match(r"^-[rc]\S", word) else (words[i + 1] if i + 1 < len(words) else "")
            rel = PurePath(value)
            if not value or rel.is_absolute() or ".." in rel.parts or "://" in value or "$" in value:
                ctx.notes.append(f"{source_key.name} includes {value}: pip-compile was not run on a copy")
                return False
            files[str(rel)] = ctx.workspace.text(source_key.parent / rel)
    command = [*options, source_key.name]
    with tempfile.TemporaryDirectory(prefix="deadweight-pip-compile-") as scratch:
        for name, text in files.items():
            target = Path(scratch) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        try:
            run_tool([exe, "--quiet", *command], Path(scratch), "pip-compile")
        except FixRefused as exc:
            return _compile_failed(compiled, str(exc), ctx)
        try:
            new = (Path(scratch) / compiled_key.name).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return _compile_failed(compiled, f"cannot read what it wrote: {exc}", ctx)
    after = reqline.entries(new, compiled)
    unparsed = [e for e in after if e.key[0] == "unparsed"]
    if unparsed:
        return _compile_failed(compiled, f"it wrote a line deadweight cannot read: {unparsed[0].logical.raw!r}", ctx)
    pins_before = _pins(reqline.entries(compiled_text, compiled))
    pins_after = _pins(after)
    skip = {canonicalize_name(t) for t in touched}
    changed = sorted(n for n in pins_before.keys() & pins_after.keys() if pins_before[n] != pins_after[n]
                     and n not in skip)
    added = sorted(pins_after.keys() - pins_before.keys() - skip)
    if changed or (added and not adds):
        what = ", ".join([*(f"{n} {pins_before[n]} -> {pins_after[n]}" for n in changed), *(f"+{n}" for n in added)])
        return _compile_failed(compiled, f"it would also change {what}", ctx)
    ctx.workspace.set(compiled, new)
    ctx.commands.append(shlex.join(["pip-compile", *command]))
    return True


def _source_of(path: str, ctx: FixContext) -> str | None:
    """The ``.in`` that ``path`` was compiled from: beside it, and named by its pip-compile header."""
    if not path.endswith(".txt"):
        return None
    source = path[:-4] + ".in"
    if not ctx.workspace.exists(source):
        return None
    head = ctx.workspace.text(path).splitlines()[:12]
    name = PurePath(source).name
    if not any(re.match(r"^#\s+pip-compile(\s|$)", line) and name in line.split() for line in head):
        return None
    return source


def _pins(items: Sequence[Entry]) -> dict[str, str]:
    return {e.requirement.name: e.requirement.specifier for e in items if e.requirement is not None}


def _compile_failed(compiled: str, reason: str, ctx: FixContext) -> bool:
    """pip-compile did not give a usable file: say why; the caller keeps the file in step by hand."""
    ctx.notes.append(redact(f"pip-compile could not regenerate {_show(compiled, ctx)} ({reason})"))
    return False


def _sources(physical: Sequence[str], entry: Entry) -> tuple[set[str], set[str]] | None:
    """What pip-compile's ``# via`` annotation of ``entry`` names: (packages, files: ``-r x.in``,
    ``-c x.txt``, ``(pyproject.toml)``); None when the entry has no annotation."""
    last = entry.logical.end_line
    end = reqline.annotation_end(physical, last)
    text = "".join(physical[entry.logical.line - 1:end])
    m = _VIA_RE.search(text)
    if not m:
        return None
    packages: set[str] = set()
    files: set[str] = set()
    for raw in re.split(r"[,\n]", m.group(1)):
        item = raw.strip().lstrip("#").strip()
        if not item:
            continue
        if item.startswith(("-r", "-c", "(")):
            files.add(item)
        else:
            packages.add(canonicalize_name(item.split()[0]))
    return packages, files


def _orphans(items: Sequence[Entry], physical: Sequence[str], removed: Collection[str]) -> dict[str, Entry]:
    """The entries of a pip-compile output that only ``removed`` packages need, by the ``# via``
    annotations (transitively): pip-compile would drop them with those."""
    gone = set(removed)
    out: dict[str, Entry] = {}
    changed = True
    while changed:
        changed = False
        for entry in items:
            req = entry.requirement
            if req is None or req.name in gone:
                continue
            sources = _sources(physical, entry)
            if sources is None:
                continue
            needers, needing_files = sources
            if needers and not needing_files and needers <= gone:
                gone.add(req.name)
                out[req.name] = entry
                changed = True
    return out


def _remove_compiled(compiled: str, source: str, package: str, ctx: FixContext) -> None:
    """Keep ``compiled`` (pip-compile's output of ``source``) in step with removing ``package`` from
    ``source``: remove it, and what only it needed, when the ``# via`` annotations show nothing else needs
    them."""
    shown = _show(compiled, ctx)
    package = canonicalize_name(package)
    text = ctx.workspace.text(compiled)
    items = reqline.entries(text, compiled)
    physical = lines(text)
    in_name = PurePath(source).name
    target = next((e for e in items if e.requirement is not None and e.requirement.name == package), None)
    if target is None:
        ctx.notes.append(f"{shown} does not pin {package}; run pip-compile to regenerate it")
        return
    via = _sources(physical, target)
    if via is None:
        ctx.notes.append(f"{shown} has no '# via' annotations: {package} left in it; run pip-compile to "
                         "regenerate it")
        return
    packages, files = via
    if packages or any(PurePath(f.split()[-1]).name != in_name for f in files if f.startswith("-r")) or any(
            not f.startswith("-r") for f in files):
        others = sorted(packages) + sorted(files - {f"-r {in_name}"})
        ctx.notes.append(f"{shown}: {package} stays, pip-compile says it is also needed via {', '.join(others)}")
        return
    doomed: dict[str, Entry] = {package: target}
    doomed.update(_orphans(items, physical, doomed.keys()))
    _delete(compiled, text, items, list(doomed.values()), ctx)
    gone = ", ".join(sorted(doomed))
    ctx.notes.append(f"{shown}: removed {gone} as pip-compile's annotations show nothing else needs "
                     f"{'them' if len(doomed) > 1 else 'it'}; run pip-compile to check")
