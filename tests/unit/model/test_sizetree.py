"""model/sizetree: the bounded size tree the HTML treemaps draw."""

from __future__ import annotations

from deadweight.model.sizetree import SizeNode, bounded_trees, count_nodes


def _walk(node: SizeNode) -> list[SizeNode]:
    return [node, *(n for c in node.children for n in _walk(c))]


def _sums_hold(node: SizeNode) -> None:
    if node.children:
        assert sum(c.size_bytes for c in node.children) == node.size_bytes, node
        for child in node.children:
            _sums_hold(child)


def test_small_tree_is_opened_whole_with_lone_directory_chains_merged() -> None:
    files = [
        ("usr/lib/python3.11/site-packages/a.py", 10),
        ("usr/lib/python3.11/site-packages/b.py", 30),
        ("etc/os-release", 5),
    ]
    (root,) = bounded_trees([("layer 0", "layer", files)], 100)
    assert (root.name, root.kind, root.size_bytes) == ("layer 0", "layer", 45)
    usr, etc = root.children
    assert (usr.name, usr.path, usr.kind) == (
        "usr/lib/python3.11/site-packages",
        "usr/lib/python3.11/site-packages",
        "dir",
    )
    assert [(c.name, c.path, c.kind, c.size_bytes) for c in usr.children] == [
        ("b.py", "usr/lib/python3.11/site-packages/b.py", "file", 30),
        ("a.py", "usr/lib/python3.11/site-packages/a.py", "file", 10),
    ]
    assert (etc.name, etc.children[0].path) == ("etc", "etc/os-release")


def test_a_big_tree_stays_within_the_limit_and_adds_up() -> None:
    # 20 000 files in 200 directories of three sizes: far more than the 300 nodes allowed
    files = [(f"site/pkg{d:03}/mod{f:03}.py", (d % 3 + 1) * 1000 + f) for d in range(200) for f in range(100)]
    roots = [("layer 0", "layer", files), ("hidden", "shadowed", [("root/.cache/x", 7)])]
    trees = bounded_trees(roots, 300)
    assert count_nodes(trees) <= 300
    assert [t.name for t in trees] == ["layer 0", "hidden"]
    assert trees[0].size_bytes == sum(size for _, size in files)
    for tree in trees:
        _sums_hold(tree)
    folded = [n for n in _walk(trees[0]) if n.kind == "folded"]
    assert folded and all(n.folded > 1 and not n.children for n in folded)
    # opened biggest first: the kept entries are in size order, the folded ones come after them
    (site,) = trees[0].children
    kept = [c for c in site.children if c.kind != "folded"]
    assert [c.size_bytes for c in kept] == sorted((c.size_bytes for c in kept), reverse=True)
    assert bounded_trees(roots, 300) == trees  # the same input, the same tree


def test_each_root_is_a_node_even_at_a_tiny_limit() -> None:
    trees = bounded_trees([("a", "layer", [("x/y", 5)]), ("b", "layer", []), ("c", "layer", [("z", 1)])], 1)
    assert [(t.name, t.size_bytes, t.children) for t in trees] == [("a", 5, ()), ("b", 0, ()), ("c", 1, ())]
