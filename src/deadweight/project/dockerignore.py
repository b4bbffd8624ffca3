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
    automaton: _Automaton | None = None  # set for patterns the regexp would match in exponential time
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
        if self.automaton is not None:
            return self.automaton.matches(path)
        assert self.regex is not None
        return self.regex.match(path) is not None


def compile_pattern(pattern: Pattern) -> None:
    """Translate the pattern to a regexp exactly as patternmatcher's ``compile`` does (separator "/").

    Go matches that regexp with RE2, in linear time; Python's ``re`` backtracks, and ``*a*a*a…b`` against a
    long name of ``a``s takes exponential time. So a pattern with two or more stars is matched by
    ``_Automaton``, which simulates the same expression as a set of states (time: path length x pattern
    length); the regexp is still compiled, to reject the patterns Docker rejects, and used for the rest.
    """
    text = pattern.text
    pieces: list[tuple[str, str]] = []  # (kind, regexp text): the regexp is their concatenation
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
                        pieces.append(("any", ".*"))
                        kind = _REGEXP
                else:
                    pieces.append(("dirs", "(.*/)?"))
                    kind = _REGEXP
                if idx == 0:
                    kind = _SUFFIX
            else:
                pieces.append(("star", "[^/]*"))
                kind = _REGEXP
        elif ch == "?":
            pieces.append(("one", "[^/]"))
            kind = _REGEXP
        elif ch in _REGEX_SPECIAL:
            pieces.append(("lit", "\\" + ch))
        elif ch == "\\":
            if i < n:
                pieces.append(("escape", "\\" + text[i]))
                i += 1
                kind = _REGEXP
            else:
                pieces.append(("lit", "\\\\"))
        elif ch in "[]":
            pieces.append(("open" if ch == "[" else "close", ch))
            kind = _REGEXP
        else:
            pieces.append(("raw", ch))
        idx += 1
    pattern.match_type = kind
    if kind == _REGEXP:
        reg = "^" + "".join(piece for _, piece in pieces) + "$"
        try:
            pattern.regex = re.compile(reg, re.DOTALL)
        except re.error as exc:
            raise ParseError(f"bad .dockerignore pattern {pattern.text!r}: {exc}") from None
        if sum(1 for k, _ in pieces if k in _LOOPS) >= 2:
            pattern.automaton = _Automaton.build(pieces)


_LOOPS = frozenset({"star", "any", "dirs"})


@dataclass(frozen=True)
class _Automaton:
    """The pattern's regexp as a sequence of steps, run as a set of states over the path (no backtracking).

    Steps: ``lit`` (one given character), ``one`` (``[^/]``), ``star`` (``[^/]*``), ``any`` (``.*``), ``dirs``
    (``(.*/)?``) and ``class`` (a bracket expression, matched on one character by its own regexp). A state
    is a step index, or ``-(k + 1)`` for "inside the ``(.*/)?`` of step k".
    """

    steps: tuple[tuple[str, str, re.Pattern[str] | None], ...]

    @classmethod
    def build(cls, pieces: list[tuple[str, str]]) -> _Automaton | None:
        """None when the regexp holds something the steps cannot say (then the regexp is used as it is)."""
        steps: list[tuple[str, str, re.Pattern[str] | None]] = []
        klass: list[str] | None = None
        for kind, text in pieces:
            if klass is not None:
                if kind in ("star", "one", "any", "dirs", "open"):
                    return None
                klass.append(text)
                if kind == "close":
                    try:
                        steps.append(("class", "", re.compile("".join(klass), re.DOTALL)))
                    except re.error:
                        return None
                    klass = None
            elif kind == "open":
                klass = [text]
            elif kind in ("star", "one", "any", "dirs"):
                steps.append((kind, "", None))
            elif kind == "lit":
                steps.append(("lit", text[-1], None))
            elif kind == "escape":
                if text[1].isalnum():  # \d, \w ...: a regexp class, as Go's regexp reads it too
                    return None
                steps.append(("lit", text[1], None))
            elif kind == "raw" and text != "^":  # a bare ^ is an anchor to the regexp
                steps.append(("lit", text, None))
            else:
                return None
        return None if klass is not None else cls(tuple(steps))

    def _closure(self, states: set[int]) -> set[int]:
        out: set[int] = set()
        stack = list(states)
        while stack:
            k = stack.pop()
            if k in out:
                continue
            out.add(k)
            if 0 <= k < len(self.steps) and self.steps[k][0] in _LOOPS:
                stack.append(k + 1)
        return out

    def matches(self, path: str) -> bool:
        end = len(self.steps)
        current = self._closure({0})
        for char in path:
            following: set[int] = set()
            for k in current:
                if k < 0:  # inside (.*/)? of step -k-1: any character stays, a "/" may also leave
                    following.add(k)
                    if char == "/":
                        following.add(-k)
                    continue
                if k == end:
                    continue
                kind, literal, klass = self.steps[k]
                if kind == "lit":
                    if char == literal:
                        following.add(k + 1)
                elif kind == "one":
                    if char != "/":
                        following.add(k + 1)
                elif kind == "star":
                    if char != "/":
                        following.add(k)
                elif kind == "any":
                    following.add(k)
                elif kind == "dirs":
                    following.add(-(k + 1))
                    if char == "/":
                        following.add(k + 1)
                elif klass is not None and klass.fullmatch(char):
                    following.add(k + 1)
            current = self._closure(following)
            if not current:
                return False
        return end in current


def clean_path(path: str) -> str:
    """Go's filepath.Clean for slash paths ("" -> ".")."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


#: Patterns one ignore file may hold: real ones hold tens; each path of the context is matched against all.
MAX_PATTERNS = 10_000


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
            if len(patterns) >= MAX_PATTERNS:
                where = f"{source}:{number}" if source else f"line {number}"
                raise ParseError(f"{where}: more than {MAX_PATTERNS:,} patterns (every path is matched against "
                                 "each one)")
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
