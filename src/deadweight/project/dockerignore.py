""".dockerignore with Docker's exact semantics (moby/patternmatcher and its ignorefile reader).

Why exact: DW401 tells users a file ships in the image; if our matcher disagreed with Docker's, the finding
(or the fix that edits .dockerignore) would be wrong. Rules: Go ``filepath.Match`` syntax plus ``**``;
``!`` re-includes; the last matching rule wins; a pattern that matches a parent directory matches the file;
leading ``/`` is stripped and patterns are cleaned (``filepath.Clean``); ``#`` lines are comments.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from deadweight.errors import ParseError
from deadweight.project.files import read_text

_EXACT, _PREFIX, _SUFFIX, _REGEXP = "exact", "prefix", "suffix", "regexp"
_REGEX_SPECIAL = set(".+()|{}$")


@dataclass
class Pattern:
    text: str  # cleaned pattern without "!"
    exclusion: bool  # a "!" rule (re-includes)
    line: int  # 1-based line in the ignore file (0 when built from a list)
    match_type: str = _EXACT
    regex: re.Pattern[str] | None = None
    _cache: dict[str, bool] = field(default_factory=dict, repr=False)

    def matches(self, path: str) -> bool:
        hit = self._cache.get(path)
        if hit is None:
            hit = self._match(path)
            if len(self._cache) < 200_000:
                self._cache[path] = hit
        return hit

    def _match(self, path: str) -> bool:
        if self.match_type == _EXACT:
            return path == self.text
        if self.match_type == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.match_type == _SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


def compile_pattern(pattern: Pattern) -> None:
    """Translate the pattern to a regexp exactly as patternmatcher's ``compile`` does (separator "/")."""
    text = pattern.text
    reg = "^"
    kind = _EXACT
    i = 0
    n = len(text)
    idx = 0  # index of the rune being scanned (patternmatcher's loop counter)
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        reg += ".*"
                        kind = _REGEXP
                else:
                    reg += "(.*/)?"
                    kind = _REGEXP
                if idx == 0:
                    kind = _SUFFIX
            else:
                reg += "[^/]*"
                kind = _REGEXP
        elif ch == "?":
            reg += "[^/]"
            kind = _REGEXP
        elif ch in _REGEX_SPECIAL:
            reg += "\\" + ch
        elif ch == "\\":
            if i < n:
                reg += "\\" + text[i]
                i += 1
                kind = _REGEXP
            else:
                reg += "\\\\"
        elif ch in "[]":
            reg += ch
            kind = _REGEXP
        else:
            reg += ch
        idx += 1
    reg += "$"
    pattern.match_type = kind
    if kind == _REGEXP:
        try:
            pattern.regex = re.compile(reg, re.DOTALL)
        except re.error as exc:
            raise ParseError(f"bad .dockerignore pattern {pattern.text!r}: {exc}") from None


def clean_path(path: str) -> str:
    """Go's filepath.Clean for slash paths ("" -> ".")."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


class IgnoreMatcher:
    """Decides whether a context-relative path is excluded from the build context."""

    def __init__(self, patterns: list[Pattern], source: str | None = None) -> None:
        self.patterns = patterns
        self.source = source
        self.has_exclusions = any(p.exclusion for p in patterns)

    @classmethod
    def from_lines(cls, lines: list[str], source: str | None = None) -> IgnoreMatcher:
        """Parse ignore-file lines with ignorefile.ReadAll + patternmatcher.New semantics."""
        patterns: list[Pattern] = []
        for number, raw in enumerate(lines, 1):
            line = raw.lstrip("\ufeff") if number == 1 else raw
            line = line.rstrip("\r\n")
            if line.startswith("#"):
                continue
            line = line.strip()
            if not line:
                continue
            invert = line.startswith("!")
            if invert:
                line = line[1:].strip()
            if line:
                line = clean_path(line)
                if len(line) > 1 and line.startswith("/"):
                    line = line[1:]
            if invert and not line:
                where = f"{source}:{number}" if source else f"line {number}"
                raise ParseError(f"{where}: illegal exclusion pattern '!'")
            pat = Pattern(clean_path(line), invert, number)
            compile_pattern(pat)
            patterns.append(pat)
        return cls(patterns, source)

    @classmethod
    def from_file(cls, path: str | Path) -> IgnoreMatcher:
        p = Path(path)
        text = read_text(p, ".dockerignore", exact=True, os_words=True)
        return cls.from_lines(text.splitlines(), str(p))

    @classmethod
    def empty(cls) -> IgnoreMatcher:
        return cls([], None)

    def excluded(self, path: str) -> bool:
        """MatchesOrParentMatches: later patterns win, a match on any parent directory counts."""
        path = clean_path(path)
        parent = posixpath.dirname(path) or "."
        parents = parent.split("/") if parent != "." else []
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            hit = pat.matches(path)
            if not hit and parents:
                for i in range(1, len(parents) + 1):
                    if pat.matches("/".join(parents[:i])):
                        hit = True
                        break
            if hit:
                matched = not pat.exclusion
        return matched

    def excluded_using_parent(
        self, path: str, parent: tuple[bool, ...] | None
    ) -> tuple[bool, tuple[bool, ...]]:
        """MatchesUsingParentResults, the form BuildKit's context walker uses.

        ``parent`` is what this returned for the parent directory (None at the top level, which falls back
        to checking every parent path). Returns (excluded, info to pass to this path's children).
        """
        matched = False
        info = [False] * len(self.patterns)
        for i, pat in enumerate(self.patterns):
            hit = parent[i] if parent else False
            if not hit:
                if pat.exclusion != matched:
                    continue
                hit = pat.matches(path)
                if not hit and not parent and "/" in path:
                    parts = path.split("/")[:-1]
                    hit = any(pat.matches("/".join(parts[: j + 1])) for j in range(len(parts)))
            info[i] = hit
            if hit:
                matched = not pat.exclusion
        return matched, tuple(info)

    def may_reinclude_under(self, directory: str) -> bool:
        """Whether an exclusion rule might re-include something below an excluded directory.

        Like the Docker CLI, we only descend into an excluded directory when some ``!`` rule could apply
        inside it; patterns with wildcards in their directory part are treated as possibly applying.
        """
        if not self.has_exclusions:
            return False
        prefix = directory + "/"
        depth = directory.count("/") + 1
        for pat in self.patterns:
            if not pat.exclusion:
                continue
            if pat.text.startswith(prefix) or pat.match_type == _SUFFIX:
                return True
            head = "/".join(pat.text.split("/")[:depth])
            if any(c in head for c in "*?[") or "**" in pat.text:
                return True
        return False


def find_dockerignore(context_dir: str | Path, dockerfile: str | Path | None = None) -> Path | None:
    """BuildKit prefers ``<Dockerfile name>.dockerignore`` next to the Dockerfile over ``.dockerignore``."""
    if dockerfile is not None:
        specific = Path(str(dockerfile) + ".dockerignore")
        if specific.is_file():
            return specific
    candidate = Path(context_dir) / ".dockerignore"
    return candidate if candidate.is_file() else None


def load_matcher(context_dir: str | Path, dockerfile: str | Path | None = None) -> IgnoreMatcher:
    found = find_dockerignore(context_dir, dockerfile)
    return IgnoreMatcher.from_file(found) if found else IgnoreMatcher.empty()
