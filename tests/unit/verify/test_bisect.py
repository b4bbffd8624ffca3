"""The bisection over ordered edits: the culprits it names, what it keeps, and how many subsets it tests."""

from __future__ import annotations

from collections.abc import Callable

from deadweight.verify.bisect import find_culprits


def _checker(
    breaks: dict[str, set[str]], needs: dict[str, set[str]] | None = None
) -> tuple[Callable[[tuple[str, ...]], frozenset[str]], list[tuple[str, ...]]]:
    """A test whose edit X makes the checks ``breaks[X]`` fail (only together with ``needs[X]``, when given);
    it records every subset it is asked about."""
    asked: list[tuple[str, ...]] = []

    def test(subset: tuple[str, ...]) -> frozenset[str]:
        asked.append(subset)
        out: set[str] = set()
        for edit in subset:
            if edit in breaks and (needs or {}).get(edit, set()) <= set(subset):
                out |= breaks[edit]
        return frozenset(out)

    return test, asked


def test_one_culprit_is_found_and_the_rest_kept() -> None:
    edits = tuple("abcdefgh")
    test, asked = _checker({"f": {"imports"}})
    result = find_culprits(edits, test)
    assert [c.edit for c in result.culprits] == ["f"]
    assert result.culprits[0].broke == {"imports"}
    assert result.kept == ("a", "b", "c", "d", "e", "g", "h")
    assert not result.still_failing
    # a binary search: far fewer subsets than edits, and none asked twice
    assert len(asked) == len(set(asked)) <= 6


def test_several_culprits_each_with_their_checks() -> None:
    test, _ = _checker({"b": {"start"}, "e": {"imports", "pip-check"}})
    result = find_culprits(tuple("abcdef"), test)
    assert {c.edit: c.broke for c in result.culprits} == {"b": {"start"}, "e": {"imports", "pip-check"}}
    assert result.kept == ("a", "c", "d", "f")


def test_an_edit_that_breaks_only_with_an_earlier_one_is_named() -> None:
    test, _ = _checker({"d": {"start"}}, needs={"d": {"b"}})
    result = find_culprits(tuple("abcde"), test)
    assert [c.edit for c in result.culprits] == ["d"]
    assert result.kept == ("a", "b", "c", "e")


def test_failures_of_the_baseline_are_nobodys_fault() -> None:
    def test(subset: tuple[str, ...]) -> frozenset[str]:
        return frozenset({"openapi"} | ({"imports"} if "c" in subset else set()))

    result = find_culprits(tuple("abc"), test, baseline=frozenset({"openapi"}))
    assert [c.edit for c in result.culprits] == ["c"]
    assert result.culprits[0].broke == {"imports"}
    assert not result.still_failing


def test_passing_edits_need_one_test_and_known_results_none() -> None:
    test, asked = _checker({})
    assert find_culprits(tuple("abc"), test).culprits == ()
    assert asked == [("a", "b", "c")]
    _, asked = _checker({})
    known = {("a", "b", "c"): frozenset()}
    result = find_culprits(tuple("abc"), lambda s: asked.append(s) or frozenset(), known=known)
    assert result.tests == 0 and asked == []


def test_every_edit_breaking_drops_them_all() -> None:
    test, _ = _checker({"a": {"x"}, "b": {"y"}})
    result = find_culprits(("a", "b"), test)
    assert result.kept == ()
    assert {c.edit for c in result.culprits} == {"a", "b"}
    assert not result.still_failing
