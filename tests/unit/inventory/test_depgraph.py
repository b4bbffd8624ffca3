"""Closures and exclusive bytes: shared dependencies are not counted for one user."""

from __future__ import annotations

from deadweight.inventory.depgraph import DepGraph


def diamond() -> DepGraph:
    # app -> left, right; left -> base; right -> base; other -> right
    return DepGraph(
        {"app": ["left", "right"], "left": ["base"], "right": ["base"], "other": ["right"]},
        {"app": 1, "left": 10, "right": 100, "base": 1000, "other": 10000},
    )


def test_closure_is_transitive() -> None:
    assert diamond().closure(["app"]) == {"app", "left", "right", "base"}


def test_exclusive_bytes_of_diamond_top_excludes_what_others_still_need() -> None:
    g = diamond()
    # removing app frees app and left; right and base stay for "other"
    assert g.freed_by_removing("app") == {"app", "left"}
    assert g.exclusive_bytes("app") == 11


def test_exclusive_bytes_without_the_other_user_frees_the_whole_diamond() -> None:
    g = DepGraph(
        {"app": ["left", "right"], "left": ["base"], "right": ["base"]},
        {"app": 1, "left": 10, "right": 100, "base": 1000},
    )
    assert g.exclusive_bytes("app") == 1111
    # one arm alone: the base is still needed by the other arm
    assert g.freed_by_removing("left") == {"left"}


def test_a_required_distribution_still_frees_itself_but_not_shared_deps() -> None:
    g = diamond()
    assert g.freed_by_removing("base") == {"base"}
    assert g.freed_by_removing("right") == {"right"}  # base is still needed through left


def test_cycles_terminate() -> None:
    g = DepGraph({"a": ["b"], "b": ["a", "c"], "c": []}, {"a": 1, "b": 2, "c": 4})
    assert g.closure(["a"]) == {"a", "b", "c"}
    assert g.exclusive_bytes("a") == 7


def test_unknown_and_self_edges_are_dropped() -> None:
    g = DepGraph({"a": ["a", "not-installed"]}, {"a": 5})
    assert g.edges == {"a": []}
    assert g.dependents() == {"a": []}
