"""What ships: the build context after .dockerignore, and which of its files COPY/ADD put in the final image.

Why: DW401 reports context files that end up in the image without being needed (a venv, .git, data,
notebooks); it needs (context path, image path, size) for every shipped file. Only metadata is read
(``os.scandir`` + lstat), symlinks are never followed (Docker sends them as links), and excluded trees are
skipped whole unless a ``!`` rule could re-include something inside them.
"""

from __future__ import annotations

import bisect
import os
import posixpath
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deadweight.model.project import Dockerfile, Instruction, ShippedFile, Stage
from deadweight.project.dockerfile import copy_sources_and_dest
from deadweight.project.dockerignore import IgnoreMatcher, Pattern, compile_pattern
from deadweight.project.shellwords import expand_vars, parse_key_values, split_words


@dataclass
class ContextIndex:
    """Files (and directories) of the build context that Docker would send, sorted by path."""

    root: str
    files: dict[str, int] = field(default_factory=dict)  # rel path -> size (symlinks: link size)
    dirs: set[str] = field(default_factory=set)
    _sorted: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())

    def sorted_paths(self) -> list[str]:
        if len(self._sorted) != len(self.files):
            self._sorted = sorted(self.files)
        return self._sorted

    def under(self, directory: str) -> list[str]:
        """Files below ``directory`` ("." = everything)."""
        paths = self.sorted_paths()
        if directory in (".", ""):
            return list(paths)
        prefix = directory + "/"
        start = bisect.bisect_left(paths, prefix)
        end = bisect.bisect_left(paths, prefix + "\U0010ffff")
        return paths[start:end]


def walk_context(root: str | Path, matcher: IgnoreMatcher | None = None) -> ContextIndex:
    """Walk the context without following symlinks, pruning excluded trees; never reads file contents."""
    matcher = matcher or IgnoreMatcher.empty()
    index = ContextIndex(str(root))
    stack: list[tuple[str, str, tuple[bool, ...] | None]] = [(str(root), "", None)]
    use_patterns = bool(matcher.patterns)
    while stack:
        abs_dir, rel_dir, parent_info = stack.pop()
        try:
            entries = list(os.scandir(abs_dir))
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            excluded, info = matcher.excluded_using_parent(rel, parent_info) if use_patterns else (False, ())
            if is_dir:
                if excluded and not matcher.may_reinclude_under(rel):
                    continue
                if not excluded:
                    index.dirs.add(rel)
                stack.append((entry.path, rel, info))
                continue
            if excluded:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            index.files[rel] = st.st_size if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode) else 0
    # a directory re-included via "!" on a file inside it still counts as present
    for path in index.files:
        parent = posixpath.dirname(path)
        while parent and parent not in index.dirs:
            index.dirs.add(parent)
            parent = posixpath.dirname(parent)
    return index


@dataclass
class _Scope:
    args: dict[str, str]
    env: dict[str, str]
    workdir: str


def shipped_files(
    dockerfile: Dockerfile,
    index: ContextIndex,
    target: str | None = None,
) -> list[ShippedFile]:
    """Context files that reach the final stage (directly, via inherited stages, or via COPY --from)."""
    memo: dict[int, list[ShippedFile]] = {}
    final = dockerfile.final_stage(target)
    files = _stage_files(dockerfile, final, index, memo, set())
    return sorted(files, key=lambda f: (f.image_path, f.context_path))


def _stage_files(
    dockerfile: Dockerfile,
    stage: Stage,
    index: ContextIndex,
    memo: dict[int, list[ShippedFile]],
    active: set[int],
) -> list[ShippedFile]:
    if stage.index in memo:
        return memo[stage.index]
    if stage.index in active:
        return []
    active = active | {stage.index}
    out: list[ShippedFile] = []
    scope = _Scope({}, {}, "/")
    if stage.base_stage is not None:
        parent = dockerfile.stages[stage.base_stage]
        out.extend(_stage_files(dockerfile, parent, index, memo, active))
        scope.env.update(parent.env)
        scope.workdir = parent.workdir
    by_path: dict[str, ShippedFile] = {f.image_path: f for f in out}
    for ins in stage.instructions:
        _track(ins, stage, scope, dockerfile.escape)
        if ins.keyword not in ("COPY", "ADD"):
            continue
        values = {**scope.args, **scope.env}
        sources, dest = copy_sources_and_dest(ins, dockerfile.escape, values)
        if not sources:
            continue
        dest_abs = posixpath.normpath(dest if dest.startswith("/") else posixpath.join(scope.workdir, dest))
        as_dir = (
            dest.endswith("/")
            or dest in (".", "./")
            or len(sources) > 1
            or any(_has_wildcard(s) for s in sources)
            or dest_abs == scope.workdir
            or any(p.startswith(dest_abs + "/") for p in by_path)
        )
        from_ref = ins.flag("from")
        if from_ref is not None:
            other = dockerfile.stage(from_ref)
            if other is None or other.index == stage.index:
                continue  # an external image: nothing from our context
            moved = _from_stage(
                dockerfile, other, index, memo, active, sources=sources, dest=dest_abs, as_dir=as_dir, ins=ins
            )
            for f in moved:
                by_path[f.image_path] = f
            continue
        for ctx_path, img_path in _map_sources(index, sources, dest_abs, as_dir):
            by_path[img_path] = ShippedFile(ctx_path, img_path, index.files[ctx_path], ins.start_line)
    result = list(by_path.values())
    memo[stage.index] = result
    return result


def stage_files(
    dockerfile: Dockerfile,
    stage: Stage,
    index: ContextIndex,
    memo: dict[int, list[ShippedFile]] | None = None,
) -> list[ShippedFile]:
    """Context files present in ``stage``'s filesystem (image paths of that stage)."""
    return _stage_files(dockerfile, stage, index, {} if memo is None else memo, set())


def instruction_workdirs(dockerfile: Dockerfile, stage: Stage) -> dict[int, str]:
    """WORKDIR in effect at each instruction of ``stage``, keyed by the instruction's start line."""
    scope = _Scope({}, {}, "/")
    if stage.base_stage is not None:
        parent = dockerfile.stages[stage.base_stage]
        scope.env.update(parent.env)
        scope.workdir = parent.workdir
    out: dict[int, str] = {}
    for ins in stage.instructions:
        out[ins.start_line] = scope.workdir
        _track(ins, stage, scope, dockerfile.escape)
    return out


def _track(ins: Instruction, stage: Stage, scope: _Scope, escape: str) -> None:
    if ins.keyword == "ARG":
        for word in split_words(ins.args, escape):
            key = word.partition("=")[0]
            if key in stage.args:
                scope.args[key] = stage.args[key]
    elif ins.keyword == "ENV":
        for key, value in parse_key_values(ins.args, escape, {**scope.args, **scope.env}):
            scope.env[key] = value
    elif ins.keyword == "WORKDIR":
        wd = expand_vars(" ".join(split_words(ins.args, escape)), {**scope.args, **scope.env}, escape)
        if wd:
            joined = wd if wd.startswith("/") else posixpath.join(scope.workdir, wd)
            scope.workdir = posixpath.normpath(joined)


def _has_wildcard(src: str) -> bool:
    return any(c in src for c in "*?[")


def _map_sources(
    index: ContextIndex, sources: list[str], dest: str, as_dir: bool
) -> list[tuple[str, str]]:
    """(context path, image path) for COPY sources, with Docker's directory/file/wildcard rules."""
    out: list[tuple[str, str]] = []
    for src in sources:
        if "://" in src:
            continue  # ADD <url>: not from the context
        # sources are resolved inside the context root: "../x" and "/x" both mean "x"
        src_clean = posixpath.normpath("/" + src).lstrip("/") or "."
        matches = _glob(index, src_clean) if _has_wildcard(src_clean) else [src_clean]
        for match in matches:
            if match == "." or match in index.dirs:
                base = dest.rstrip("/") + "/"
                cut = 0 if match == "." else len(match) + 1
                out.extend((path, base + path[cut:]) for path in index.under(match))
            elif match in index.files:
                target = posixpath.join(dest, posixpath.basename(match)) if as_dir else dest
                out.append((match, posixpath.normpath(target)))
    return out


def _glob(index: ContextIndex, pattern: str) -> list[str]:
    """Paths (files and dirs) matching a Go filepath.Match pattern with the same number of components."""
    pat = Pattern(pattern, False, 0)
    compile_pattern(pat)
    depth = pattern.count("/")
    candidates = [p for p in (*index.files, *index.dirs) if p.count("/") == depth]
    return sorted(p for p in candidates if pat.matches(p))


def _from_stage(
    dockerfile: Dockerfile,
    other: Stage,
    index: ContextIndex,
    memo: dict[int, list[ShippedFile]],
    active: set[int],
    *,
    sources: list[str],
    dest: str,
    as_dir: bool,
    ins: Instruction,
) -> list[ShippedFile]:
    """Context files that ``other`` holds below ``sources``, relocated to ``dest``."""
    held = _stage_files(dockerfile, other, index, memo, active)
    out: list[ShippedFile] = []
    stage_name = other.name or str(other.index)
    for src in sources:
        src_abs = posixpath.normpath(src if src.startswith("/") else posixpath.join(other.workdir, src))
        regex = _glob_regex(src_abs) if _has_wildcard(src_abs) else None
        depth = src_abs.count("/")
        for f in held:
            if regex is not None:
                if not regex.match(f.image_path):
                    continue
                parts = f.image_path.split("/")
                matched, rest = "/".join(parts[: depth + 1]), "/".join(parts[depth + 1 :])
                # a matched file goes to dest/<name>; a matched directory's contents go to dest/
                name = rest or posixpath.basename(matched)
                target = posixpath.join(dest, name)
            elif f.image_path == src_abs:
                target = posixpath.join(dest, posixpath.basename(src_abs)) if as_dir else dest
            elif src_abs == "/" or f.image_path.startswith(src_abs + "/"):
                rel = f.image_path[len(src_abs) :].lstrip("/")
                target = posixpath.join(dest, rel)
            else:
                continue
            target = posixpath.normpath(target)
            out.append(ShippedFile(f.context_path, target, f.size_bytes, ins.start_line, stage_name))
    return out


def _glob_regex(pattern: str) -> re.Pattern[str]:
    pat = Pattern(pattern, False, 0)
    compile_pattern(pat)
    if pat.regex is not None:
        return re.compile(pat.regex.pattern.rstrip("$") + "(/.*)?$")
    return re.compile(re.escape(pattern) + "(/.*)?$")


def context_summary(files: Mapping[str, int]) -> tuple[int, int]:
    """(file count, total bytes) of a context index's files."""
    return len(files), sum(files.values())


def walk_and_ship(
    context_dir: str | Path, dockerfile: Dockerfile, matcher: IgnoreMatcher, target: str | None = None
) -> tuple[ContextIndex, list[ShippedFile]]:
    index = walk_context(Path(context_dir), matcher)
    return index, shipped_files(dockerfile, index, target)
