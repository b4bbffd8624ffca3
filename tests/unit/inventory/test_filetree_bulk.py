"""FileTree's bulk queries (``paths``, ``files``, ``stat``) say exactly what ``nodes()``/``get`` say."""

from __future__ import annotations

from deadweight.inventory.filetree import FileTree, LayerScan, build_tree, layer_size
from deadweight.model.image import EntryKind, LayerEntry


def _scan(index: int, *entries: LayerEntry) -> LayerScan:
    items = list(entries)
    return LayerScan(index, items, {}, layer_size(items))


def _tree() -> FileTree:
    """Files replaced, whited out, hard- and sym-linked, a directory over a file: every kind of node."""
    return build_tree(
        [
            _scan(
                0,
                LayerEntry("usr", EntryKind.DIR),
                LayerEntry("usr/bin/python3.11", EntryKind.FILE, 5000),
                LayerEntry("usr/bin/python3", EntryKind.SYMLINK, 0, "python3.11"),
                LayerEntry("bin", EntryKind.SYMLINK, 0, "usr/bin"),
                LayerEntry("etc/motd", EntryKind.FILE, 10),
                LayerEntry("opt/a", EntryKind.FILE, 7),
                LayerEntry("opt/b", EntryKind.HARDLINK, 0, "opt/a"),
                LayerEntry("dev/null", EntryKind.OTHER),
            ),
            _scan(
                1,
                LayerEntry("etc/motd", EntryKind.FILE, 99),
                LayerEntry("opt/a", EntryKind.WHITEOUT),
                LayerEntry("srv/app.py", EntryKind.FILE, 3),
            ),
        ]
    )


def test_files_are_the_non_directory_nodes_as_tuples() -> None:
    tree = _tree()
    expected = [(n.path, n.size, n.layer) for n in tree.nodes() if n.kind is not EntryKind.DIR]
    assert list(tree.files()) == expected
    as_dict = {path: (size, layer) for path, size, layer in tree.files()}
    assert as_dict["etc/motd"] == (99, 1)  # the visible version
    assert as_dict["opt/b"] == (7, 0)  # the hard link inherited the hidden carrier's bytes
    assert "opt/a" not in as_dict and "usr" not in as_dict
    assert sum(size for _path, size, _layer in tree.files()) == tree.visible_bytes


def test_paths_are_every_node_path() -> None:
    tree = _tree()
    assert sorted(tree.paths()) == sorted(n.path for n in tree.nodes())
    assert {"usr", "usr/bin", "srv"} <= set(tree.paths())


def test_stat_agrees_with_get_for_every_path() -> None:
    tree = _tree()
    for node in tree.nodes():
        assert tree.stat(node.path) == (node.kind, node.size, node.layer)
    assert tree.stat("") == (EntryKind.DIR, 0, 0)
    assert tree.stat("bin") == (EntryKind.SYMLINK, len("usr/bin"), 0)  # not followed
    assert tree.stat("bin/python3") is None  # only get/resolve follow links
    assert tree.stat("opt/a") is None  # whited out
    assert tree.stat("nowhere") is None
