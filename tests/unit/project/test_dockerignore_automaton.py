"""Patterns with several stars are matched without backtracking, with the regexp's exact answers."""

from __future__ import annotations

import time

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deadweight.project.dockerignore import IgnoreMatcher, Pattern, _Automaton, compile_pattern

PATTERN_CHARS = st.sampled_from(["a", "b", "/", "*", "**", "?", "[ab]", "[^a]", ".", "\\*"])
PATH_CHARS = st.sampled_from(["a", "b", "/", ".", "*"])


def _pattern(text: str) -> Pattern:
    pattern = Pattern(text, False, 1)
    compile_pattern(pattern)
    return pattern


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(PATTERN_CHARS, max_size=4).map("".join), min_size=3, max_size=4),
       st.sampled_from(["*", "**", "**/"]), st.lists(PATH_CHARS, max_size=12).map("".join))
def test_the_automaton_agrees_with_the_regexp(parts: list[str], star: str, path: str) -> None:
    text = star.join(parts)  # at least two stars: the patterns the automaton matches
    pattern = _pattern(text)
    assume(pattern.automaton is not None)  # "**" at the very start or end makes a prefix/suffix pattern
    assert pattern.regex is not None and isinstance(pattern.automaton, _Automaton)
    assert pattern.automaton.matches(path) == (pattern.regex.match(path) is not None), (text, path)


def test_many_stars_against_a_long_name_is_fast() -> None:
    matcher = IgnoreMatcher.from_lines(["*a" * 30 + "b"])
    start = time.process_time()
    assert not matcher.excluded("a" * 60)
    assert matcher.excluded("a" * 40 + "b")
    assert time.process_time() - start < 5  # the regexp took longer than the age of the universe


def test_double_star_directories() -> None:
    matcher = IgnoreMatcher.from_lines(["**/node_modules/**/*.js"])
    assert matcher.patterns[0].automaton is not None
    assert matcher.excluded("web/node_modules/x/y.js")
    assert matcher.excluded("node_modules/y.js")
    assert not matcher.excluded("web/node_modules/y.ts")
