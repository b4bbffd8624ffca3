"""Editor for .dockerignore (DW401): create or extend the ignore file in effect with exactly the patterns that
exclude the clutter, each checked against what the build and the running image need.

The ignore file in effect is ``<Dockerfile>.dockerignore`` beside the Dockerfile when the workspace has one
(BuildKit prefers it), else the context's ``.dockerignore`` (created when missing). The patterns go in a block
under ``# added by deadweight fix (DW401)``: appended at the end, or, when the file has ``!`` rules, inserted
before the first of them (with the comment lines just above it), because Docker's last match wins: a pattern
after ``!data/keep.csv`` would exclude that file again, one before it leaves every existing line meaning what
it meant. Nothing above the block changes.

A pattern is skipped when the file already has it or already excludes what it would (idempotent), and dropped
with a note when it would exclude something needed (``dockerignore_needs``): a COPY/ADD source named in any
stage of any service built with this ignore file, the Dockerfile, the ignore files, requirements, pyproject or
lock files, or a path the shipped code and settings name. Every pattern dropped (and none there from an
earlier run): refused. The result is
re-read with deadweight's own matcher (``project/dockerignore.IgnoreMatcher``) and checked: each needed path
and each path a ``!`` rule keeps stays as it was, and the clutter the patterns name is excluded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from deadweight.errors import ParseError
from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.dockerignore_needs import collect_needs, runtime_needs
from deadweight.fixes.text import insert_lines, line_ending, lines
from deadweight.fixes.workspace import Workspace
from deadweight.model.project import Service, ShippedFile
from deadweight.model.remedy import AddDockerignore
from deadweight.project.context import walk_context
from deadweight.project.dockerignore import IgnoreMatcher, clean_path

__all__ = ["HEADER", "add_patterns", "ignore_file"]

HEADER = "# added by deadweight fix (DW401)"


def ignore_file(workspace: Workspace, service: Service, context: Path) -> Path:
    """The ignore file the service's build reads (or would create): ``<Dockerfile>.dockerignore`` first."""
    if service.dockerfile_path:
        specific = workspace.key(str(service.dockerfile_path) + ".dockerignore")
        if workspace.exists(specific):
            return specific
    return workspace.key(context / ".dockerignore")


def _matcher(text: str, display: str) -> IgnoreMatcher:
    try:
        return IgnoreMatcher.from_lines(text.splitlines(), display)
    except ParseError as exc:
        raise FixRefused(str(exc)) from None


def _clean(pattern: str) -> str:
    """The pattern as the matcher keeps it; refused for what the remedy never means (``!``, empty)."""
    text = pattern.strip()
    if not text or text.startswith(("!", "#")) or "\n" in text or "\r" in text:
        raise FixRefused(f"the remedy's pattern {pattern!r} is not a plain exclusion")
    text = clean_path(text)
    return text[1:] if len(text) > 1 and text.startswith("/") else text


def _single(pattern: str) -> IgnoreMatcher:
    return _matcher(pattern + "\n", "pattern")


def _probes(pattern: str, shipped: Iterable[ShippedFile]) -> list[str]:
    """Paths the pattern is meant to exclude: its literal form and the shipped files it matches."""
    single = _single(pattern)
    literal = pattern.removeprefix("**/")
    out = [literal] if not any(c in literal for c in "*?[\\") else []
    out.extend(f.context_path for f in shipped if f.from_stage is None and single.excluded(f.context_path))
    return list(dict.fromkeys(out))


def _position(text: str, old: IgnoreMatcher) -> int:
    """The 1-based line the block goes before: the first ``!`` rule (and the comments just above it), else
    the end."""
    physical = lines(text)
    negations = [p.line for p in old.patterns if p.exclusion]
    if not negations:
        return len(physical) + 1
    at = min(negations)
    while at > 1 and physical[at - 2].lstrip().startswith("#"):
        at -= 1
    return at


def _with_block(text: str, patterns: Sequence[str], at: int) -> str:
    physical = lines(text)
    if not physical:
        return "".join(line + "\n" for line in (HEADER, *patterns))
    if at <= len(physical):
        return insert_lines(text, at, [HEADER, *patterns, ""])
    tail = [line.rstrip("\r\n") for line in physical]
    if HEADER in tail:
        start = len(tail) - 1 - tail[::-1].index(HEADER)
        if all(line.strip() and not line.lstrip().startswith(("#", "!")) for line in tail[start + 1:]):
            return insert_lines(text, at, list(patterns))  # our block ends the file: extend it
    lead = [""] if tail[-1].strip() else []
    return insert_lines(text, at, [*lead, HEADER, *patterns])


def _conflict(new: IgnoreMatcher, old: IgnoreMatcher, needed: dict[str, str]) -> str | None:
    for path, why in needed.items():
        if new.excluded(path) and not old.excluded(path):
            return f"{path}: {why}"
    return None


def add_patterns(edit: AddDockerignore, ctx: FixContext) -> None:
    service, workspace = ctx.service, ctx.workspace
    if not service.context_dir:
        raise FixRefused(f"service {service.name} has no build context")
    context = Path(service.context_dir).resolve()
    if not context.is_dir():
        raise FixRefused(f"the build context {service.context_dir} is not a directory")
    key = ignore_file(workspace, service, context)
    display = workspace.display(key)
    text = workspace.text(key) if workspace.exists(key) else ""
    old = _matcher(text, display)
    present = {p.text for p in old.patterns if not p.exclusion}
    wanted = list(dict.fromkeys(_clean(p) for p in edit.patterns))
    todo = [p for p in wanted if p not in present
            and not ((probes := _probes(p, service.shipped)) and all(old.excluded(x) for x in probes))]
    if not todo:
        return  # every pattern is there, or already excludes what it would: nothing to do
    sharing = [s for s in ctx.project.services if s.context_dir and s.dockerfile_path
               and Path(s.context_dir).resolve() == context and ignore_file(workspace, s, context) == key]
    if service not in sharing:
        sharing.append(service)
    index = walk_context(context, old)
    needs = collect_needs(workspace, sharing, context, index)
    at = _position(text, old)

    def matcher_with(patterns: Sequence[str]) -> IgnoreMatcher:
        return _matcher(_with_block(text, patterns, at), display)

    kept: list[str] = []
    for pattern in todo:
        why = _conflict(matcher_with([pattern]), old, needs.paths)
        if why:
            ctx.notes.append(f"not adding {pattern}: it would exclude {why}")
        else:
            kept.append(pattern)
    while kept:  # the code that still ships is what runs: drop until what it names stays
        runtime = runtime_needs(needs, context, index, matcher_with(kept))
        dropped = [(p, why) for p in kept if (why := _conflict(matcher_with([p]), old, runtime))]
        if not dropped:
            break
        for pattern, why in dropped:
            ctx.notes.append(f"not adding {pattern}: it would exclude {why}")
            kept.remove(pattern)
    if not kept:
        if len(todo) < len(wanted):
            return  # the others are there already (a run before): what is left is needed, and noted
        raise FixRefused("every pattern would exclude something the image needs: " + "; ".join(ctx.notes))
    new_text = _with_block(text, kept, at)
    _verify(text, new_text, at=at, old=old, kept=kept, display=display,
            needed={**needs.paths, **runtime_needs(needs, context, index, _matcher(new_text, display))},
            listing=[*index.files, *index.dirs], shipped=service.shipped)
    if text and line_ending(text) != "\n":
        ctx.notes.append(f"{display} keeps its CRLF line endings")
    workspace.set(key, new_text)


def _verify(text: str, new_text: str, *, at: int, old: IgnoreMatcher, kept: Sequence[str], display: str,
            needed: dict[str, str], listing: Sequence[str], shipped: Sequence[ShippedFile]) -> None:
    """Re-read with deadweight's matcher: exactly the block added, needed and re-included paths unchanged."""
    before, after = lines(text), lines(new_text)
    head = before[: at - 1]
    if head and not (after[: len(head) - 1] == head[:-1] and (
            after[len(head) - 1] == head[-1]  # the last line above keeps its bytes, or only gains a line ending
            or (head[-1] == head[-1].rstrip("\r\n") and after[len(head) - 1].rstrip("\r\n") == head[-1]))):
        raise FixRefused(f"the edit of {display} would change lines above the block: not made")
    tail = before[at - 1:]
    if tail and after[len(after) - len(tail):] != tail:
        raise FixRefused(f"the edit of {display} would change lines below the block: not made")
    new = _matcher(new_text, display)
    if not set(kept) <= {p.text for p in new.patterns if not p.exclusion}:
        raise FixRefused(f"re-reading {display} does not give the patterns added: not made")
    if (why := _conflict(new, old, needed)) is not None:
        raise FixRefused(f"the edit of {display} would exclude {why}: not made")
    negations = [p for p in old.patterns if p.exclusion]
    for path in listing:
        if not old.excluded(path) and any(n.matches(path) for n in negations) and new.excluded(path):
            raise FixRefused(f"the edit of {display} would exclude {path} again, which a ! rule keeps: not made")
    for pattern in kept:
        single = _single(pattern)
        for f in shipped:
            if (f.from_stage is None and single.excluded(f.context_path) and not new.excluded(f.context_path)
                    and not any(n.matches(f.context_path) for n in negations)):
                raise FixRefused(f"{pattern} in {display} would not exclude {f.context_path}: not made")
