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


def _link_tree() -> FileTree:
    """Merged /usr, relative and absolute links, links to files and to nothing, a loop, a long chain."""
    entries = [
        LayerEntry("usr/bin/tool", EntryKind.FILE, 4),
        LayerEntry("usr/lib/libz.so.1.3", EntryKind.FILE, 9),
        LayerEntry("usr/lib/libz.so.1", EntryKind.SYMLINK, 0, "libz.so.1.3"),
        LayerEntry("usr/lib/libz.so", EntryKind.SYMLINK, 0, "/usr/lib/libz.so.1"),
        LayerEntry("usr/lib/sub/inner", EntryKind.FILE, 1),
        LayerEntry("usr/lib/up", EntryKind.SYMLINK, 0, "../bin"),
        LayerEntry("bin", EntryKind.SYMLINK, 0, "usr/bin"),
        LayerEntry("lib", EntryKind.SYMLINK, 0, "/usr/lib"),
        LayerEntry("etc/file", EntryKind.FILE, 2),
        LayerEntry("etc/dangling", EntryKind.SYMLINK, 0, "nowhere"),
        LayerEntry("etc/loop", EntryKind.SYMLINK, 0, "loop"),
        LayerEntry("etc/root", EntryKind.SYMLINK, 0, "/"),
        LayerEntry("chain/l0", EntryKind.SYMLINK, 0, "/usr/lib"),
    ]
    # chain/l39 -> l38 -> ... -> l0 -> /usr/lib: 40 links to reach the directory
    entries += [LayerEntry(f"chain/l{i}", EntryKind.SYMLINK, 0, f"l{i - 1}") for i in range(1, 40)]
    return build_tree([_scan(0, *entries)])


def test_resolver_gives_what_resolve_gives() -> None:
    tree = _link_tree()
    resolve = tree.resolver()
    names = ["tool", "libz.so", "libz.so.1", "inner", "sub", "up", "file", "dangling", "loop", ".", "..", "x", ""]
    dirs = ["", "usr", "usr/bin", "usr/lib", "lib", "lib/sub", "lib/up", "bin", "etc", "etc/file", "etc/root",
            "etc/root/lib", "etc/loop", "etc/dangling", "chain/l38", "chain/l39", "lib/libz.so", "/lib", "./usr/lib",
            "usr//lib", "nope"]
    paths = [f"{d}/{n}" if d else n for d in dirs for n in names]
    answers = {path: tree.resolve(path) for path in paths}
    for _ in range(2):  # the second round answers from what the first remembered
        assert {path: resolve(path) for path in paths} == answers
    assert answers["lib/libz.so"] == "usr/lib/libz.so.1.3"
    assert answers["lib/up/tool"] == "usr/bin/tool"
    assert answers["etc/root/lib/inner"] is None and answers["etc/root/lib/sub"] == "usr/lib/sub"
    assert answers["etc/file/x"] is None  # through a file
    assert answers["chain/l38/inner"] is None  # 39 links, then "inner" is no name there
    assert answers["chain/l38/libz.so.1"] == "usr/lib/libz.so.1.3"  # 39 + 1 = 40 links: still allowed
    assert answers["chain/l39/sub"] == "usr/lib/sub"  # 40 links
    assert answers["chain/l39/libz.so.1"] is None  # 41 links: a loop as far as the kernel is concerned
