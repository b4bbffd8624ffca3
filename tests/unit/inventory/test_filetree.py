"""The merged tree: overlayfs merge semantics and the byte invariant, on hand-made layer scans."""

from __future__ import annotations

import io
import tarfile

import pytest

from deadweight.errors import SourceError
from deadweight.inventory.filetree import (
    FileTree,
    LayerScan,
    ShadowedFile,
    build_tree,
    layer_size,
    scan_layer,
)
from deadweight.model.image import EntryKind, LayerEntry


def F(path: str, size: int = 0) -> LayerEntry:
    return LayerEntry(path, EntryKind.FILE, size)


def D(path: str) -> LayerEntry:
    return LayerEntry(path, EntryKind.DIR)


def S(path: str, target: str) -> LayerEntry:
    return LayerEntry(path, EntryKind.SYMLINK, 0, target)


def H(path: str, target: str) -> LayerEntry:
    return LayerEntry(path, EntryKind.HARDLINK, 0, target)


def W(path: str) -> LayerEntry:
    return LayerEntry(path, EntryKind.WHITEOUT)


def O(path: str) -> LayerEntry:  # noqa: E743 - reads like the other constructors
    return LayerEntry(path, EntryKind.OPAQUE)


def layer(index: int, *entries: LayerEntry, contents: dict[str, bytes] | None = None) -> LayerScan:
    items = list(entries)
    return LayerScan(index, items, contents or {}, layer_size(items))


def build(*layers: LayerScan) -> FileTree:
    tree = build_tree(layers)
    assert sum(scan.size_bytes for scan in layers) == tree.visible_bytes + tree.shadowed_bytes
    assert tree.visible_bytes == sum(node.size for node in tree.nodes())
    assert tree.shadowed_bytes == sum(item.size for item in tree.shadowed)
    return tree


def sizes(tree: FileTree) -> dict[str, int]:
    return {node.path: node.size for node in tree.nodes() if node.kind is not EntryKind.DIR}


def test_single_layer_counts_files_and_symlink_targets() -> None:
    tree = build(layer(0, D("usr"), D("usr/bin"), F("usr/bin/python", 100), S("usr/bin/py", "python")))
    assert sizes(tree) == {"usr/bin/python": 100, "usr/bin/py": 6}
    assert tree.visible_bytes == 106
    assert tree.shadowed == []
    node = tree.get("/usr/bin/py")
    assert node is not None
    assert node.kind is EntryKind.SYMLINK
    assert node.link_target == "python"
    assert node.layer == 0
    assert len(tree) == 4
    assert "usr/bin" in tree
    assert "usr/lib" not in tree


def test_implicit_parents_become_directories() -> None:
    tree = build(layer(0, F("a/b/c", 5)))
    node = tree.get("a/b")
    assert node is not None
    assert node.kind is EntryKind.DIR
    assert tree.listdir("") == ["a"]
    assert tree.listdir("a") == ["b"]


def test_file_over_file_shadows_the_older_bytes() -> None:
    tree = build(layer(0, F("app.bin", 1000)), layer(1, F("app.bin", 10)))
    assert sizes(tree) == {"app.bin": 10}
    assert tree.shadowed == [ShadowedFile("app.bin", 1000, layer=0, hidden_by=1)]
    assert tree.shadowed_bytes == 1000
    changes = tree.layer_changes[1]
    assert (changes.files_added, changes.files_modified, changes.files_deleted) == (0, 1, 0)


def test_whiteout_deletes_file_and_subtree_from_lower_layers() -> None:
    tree = build(
        layer(0, D("a"), F("a/x", 10), D("a/sub"), F("a/sub/y", 20), F("keep", 1)),
        layer(1, W("a")),
    )
    assert "a" not in tree
    assert "a/sub/y" not in tree
    assert sizes(tree) == {"keep": 1}
    assert sorted((s.path, s.size, s.layer, s.hidden_by) for s in tree.shadowed) == [
        ("a/sub/y", 20, 0, 1),
        ("a/x", 10, 0, 1),
    ]
    assert tree.layer_changes[1].files_deleted == 2


def test_whiteout_does_not_delete_the_same_layers_entries() -> None:
    # overlayfs cannot have both, but tars may carry both; the whiteout only reaches lower layers
    tree = build(layer(0, F("x", 10)), layer(1, F("x", 3), W("x")))
    assert sizes(tree) == {"x": 3}
    assert tree.shadowed_bytes == 10


def test_whiteout_of_missing_path_is_harmless() -> None:
    tree = build(layer(0, F("a", 1)), layer(1, W("nothing/here")))
    assert sizes(tree) == {"a": 1}
    assert tree.shadowed == []
    assert tree.get("nothing") is not None  # the whiteout's directory exists in the upper layer


def test_opaque_hides_lower_children_but_not_its_own_layers_regardless_of_order() -> None:
    tree = build(
        layer(0, D("d"), F("d/old", 7), D("d/deep"), F("d/deep/f", 3), F("other", 1)),
        # the new child comes before the marker in the tar: it must survive anyway
        layer(1, D("d"), F("d/new", 2), O("d"), F("d/after", 4)),
    )
    assert tree.listdir("d") == ["after", "new"]
    assert sizes(tree) == {"d/new": 2, "d/after": 4, "other": 1}
    assert tree.shadowed_bytes == 10
    assert {s.path for s in tree.shadowed} == {"d/old", "d/deep/f"}


def test_opaque_without_directory_entry_creates_the_directory() -> None:
    tree = build(layer(0, F("d/x", 5)), layer(1, O("d")))
    node = tree.get("d")
    assert node is not None
    assert node.kind is EntryKind.DIR
    assert tree.listdir("d") == []
    assert tree.shadowed_bytes == 5


def test_directory_replaced_by_file_and_back() -> None:
    tree = build(
        layer(0, D("p"), F("p/a", 10), F("p/b", 20)),
        layer(1, F("p", 5)),
        layer(2, D("p"), F("p/c", 1)),
    )
    assert sizes(tree) == {"p/c": 1}
    assert sorted((s.path, s.size, s.layer, s.hidden_by) for s in tree.shadowed) == [
        ("p", 5, 1, 2),
        ("p/a", 10, 0, 1),
        ("p/b", 20, 0, 1),
    ]
    one = tree.layer_changes[1]
    assert (one.files_added, one.files_modified, one.files_deleted) == (0, 1, 2)
    two = tree.layer_changes[2]
    assert (two.files_added, two.files_modified, two.files_deleted) == (1, 0, 1)


def test_directory_over_directory_merges() -> None:
    tree = build(layer(0, D("etc"), F("etc/a", 1)), layer(1, D("etc"), F("etc/b", 2)))
    assert tree.listdir("etc") == ["a", "b"]
    node = tree.get("etc")
    assert node is not None
    assert node.layer == 1
    assert tree.shadowed == []


def test_file_under_a_lower_file_replaces_it_with_a_directory() -> None:
    tree = build(layer(0, F("lib", 3)), layer(1, F("lib/x", 4)))
    node = tree.get("lib")
    assert node is not None
    assert node.kind is EntryKind.DIR
    assert tree.shadowed == [ShadowedFile("lib", 3, 0, 1)]


def test_symlink_replaced_shadows_its_target_length() -> None:
    tree = build(layer(0, S("link", "abcdef")), layer(1, F("link", 1)))
    assert tree.shadowed == [ShadowedFile("link", 6, 0, 1)]


def test_hardlink_costs_nothing_and_reads_its_target() -> None:
    tree = build(
        layer(0, F("bin/a", 50), H("bin/b", "bin/a"), contents={"bin/a": b"payload"}),
    )
    assert sizes(tree) == {"bin/a": 50, "bin/b": 0}
    node = tree.get("bin/b")
    assert node is not None
    assert node.kind is EntryKind.HARDLINK
    assert node.link_target == "bin/a"
    assert tree.read("bin/b") == b"payload"


def test_hardlink_keeps_bytes_when_target_is_deleted() -> None:
    tree = build(
        layer(0, F("a", 50), H("b", "a"), H("c", "a"), contents={"a": b"x" * 50}),
        layer(1, W("a")),
    )
    assert sizes(tree) == {"b": 50, "c": 0}
    assert tree.shadowed == []  # nothing is lost: the inode is still reachable through b
    assert tree.read("b") == b"x" * 50
    tree2 = build(
        layer(0, F("a", 50), H("b", "a")),
        layer(1, W("a")),
        layer(2, F("b", 1)),
    )
    assert sizes(tree2) == {"b": 1}
    assert tree2.shadowed == [ShadowedFile("b", 50, 0, 2)]


def test_hardlink_and_target_both_deleted_shadow_once() -> None:
    tree = build(layer(0, D("d"), F("d/a", 50), H("d/b", "d/a")), layer(1, W("d")))
    assert tree.visible_bytes == 0
    assert tree.shadowed_bytes == 50
    assert len(tree.shadowed) == 1


def test_hardlink_deleted_keeps_target_bytes() -> None:
    tree = build(layer(0, F("a", 50), H("b", "a")), layer(1, W("b")))
    assert sizes(tree) == {"a": 50}
    assert tree.shadowed == []


def test_dangling_hardlink_costs_nothing() -> None:
    tree = build(layer(0, F("a", 5)), layer(1, H("b", "a")))
    assert sizes(tree) == {"a": 5, "b": 0}
    assert tree.read("b") is None


def test_aufs_bookkeeping_is_not_content() -> None:
    tree = build(layer(0, LayerEntry(".wh..wh.plnk", EntryKind.OTHER), F("a", 1)))
    assert sizes(tree) == {"a": 1}


def test_read_follows_symlinks_and_returns_visible_version() -> None:
    tree = build(
        layer(0, F("etc/os-release", 3), contents={"etc/os-release": b"old"}),
        layer(1, F("usr/lib/os-release", 3), contents={"usr/lib/os-release": b"new"}),
        layer(2, W("etc/os-release"), S("etc/os-release", "../usr/lib/os-release")),
    )
    assert tree.read("/etc/os-release") == b"new"
    assert tree.read("usr/lib/os-release") == b"new"
    assert tree.read("etc") is None
    assert tree.read("missing") is None


def test_read_drops_hidden_versions() -> None:
    tree = build(
        layer(0, F("f", 3), contents={"f": b"one"}),
        layer(1, F("f", 3), contents={"f": b"two"}),
    )
    assert tree.read("f") == b"two"
    assert 0 not in tree._contents  # the hidden version's bytes were released


def test_resolve_like_the_kernel() -> None:
    tree = build(
        layer(
            0,
            D("usr"),
            D("usr/lib"),
            F("usr/lib/libc.so.6", 10),
            S("lib", "usr/lib"),  # relative, from the root
            S("usr/lib/libc.so", "/lib/libc.so.6"),  # absolute, through another link
            S("usr/lib/up", "../../usr/lib"),
            S("usr/lib/far", "../../../../usr"),  # .. stops at the root
            S("loop1", "loop2"),
            S("loop2", "loop1"),
            S("dangling", "nowhere"),
        )
    )
    assert tree.resolve("lib/libc.so.6") == "usr/lib/libc.so.6"
    assert tree.resolve("/usr/lib/libc.so") == "usr/lib/libc.so.6"
    assert tree.resolve("usr/lib/up/up/libc.so.6") == "usr/lib/libc.so.6"
    assert tree.resolve("usr/lib/far/lib") == "usr/lib"
    assert tree.resolve("lib/../lib") == "usr/lib"  # .. applies to the resolved directory (usr)
    assert tree.resolve("/") == ""
    assert tree.resolve("loop1") is None
    assert tree.resolve("dangling") is None
    assert tree.resolve("usr/lib/libc.so.6/x") is None  # a file is not a directory


def test_resolve_counts_hops() -> None:
    chain = [S(f"l{i}", f"l{i + 1}") for i in range(45)] + [F("l45", 1)]
    tree = build(layer(0, *chain))
    assert tree.resolve("l10") == "l45"  # 35 hops
    assert tree.resolve("l0") is None  # 45 hops: more than the kernel's 40


def test_walk_and_listdir_are_sorted_and_recursive() -> None:
    tree = build(layer(0, D("b"), F("b/z", 1), F("b/a", 1), D("b/m"), F("b/m/x", 1), F("a", 1)))
    assert [node.path for node in tree.walk("")] == ["a", "b", "b/a", "b/m", "b/m/x", "b/z"]
    assert [node.path for node in tree.walk("/b/m/")] == ["b/m/x"]
    assert list(tree.walk("a")) == []
    assert list(tree.walk("missing")) == []
    assert tree.listdir("b") == ["a", "m", "z"]
    assert tree.listdir("b/a") == []


def test_dir_sizes_are_recursive_visible_bytes() -> None:
    tree = build(
        layer(0, D("a"), F("a/x", 10), D("a/b"), F("a/b/y", 5), F("top", 1)),
        layer(1, F("a/x", 2)),
    )
    assert tree.dir_sizes() == {"": 8, "a": 7, "a/b": 5}


def test_layer_changes_count_non_directories_only() -> None:
    tree = build(
        layer(0, D("d"), F("d/a", 1), F("d/b", 1)),
        layer(1, D("d"), F("d/a", 2), F("d/c", 1), W("d/b"), D("e")),
    )
    zero, one = tree.layer_changes[0], tree.layer_changes[1]
    assert (zero.files_added, zero.files_modified, zero.files_deleted) == (2, 0, 0)
    assert (one.files_added, one.files_modified, one.files_deleted) == (1, 1, 1)
    assert tree.shadowed_by_layer() == {0: 2}


def test_invariant_over_a_messy_stack() -> None:
    scans = [
        layer(0, D("usr"), F("usr/a", 100), F("usr/b", 200), S("usr/c", "a"), F("x", 7), H("y", "x")),
        layer(1, W("usr/a"), F("usr/b", 50), D("usr/new"), F("usr/new/f", 9), W("x")),
        layer(2, O("usr"), D("usr"), F("usr/d", 3), F("y", 1)),
        layer(3, F("usr", 11)),
        layer(4, W("usr"), D("usr"), S("usr/link", "/x"), F("x", 5)),
    ]
    tree = build(*scans)
    assert sizes(tree) == {"usr/link": 2, "x": 5, "y": 1}
    assert tree.visible_bytes == 8
    assert tree.shadowed_bytes == 100 + 200 + 1 + 7 + 50 + 9 + 3 + 11


def test_scans_must_be_in_layer_order() -> None:
    with pytest.raises(ValueError, match="layer order"):
        build_tree([layer(1), layer(0)])


def _tar(*members: tuple[str, bytes | None, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == tarfile.DIRTYPE:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == tarfile.SYMTYPE:
                info.type = tarfile.SYMTYPE
                info.linkname = data.decode()
                tar.addfile(info)
            elif kind == tarfile.LNKTYPE:
                info.type = tarfile.LNKTYPE
                info.linkname = data.decode()
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


class _Stream:
    def __init__(self, buf: io.BytesIO) -> None:
        self._buf = buf

    def read(self, n: int = -1, /) -> bytes:
        return self._buf.read(n)

    def skip(self, n: int, /) -> None:
        if len(self._buf.read(n)) != n:
            raise SourceError("short")


def test_scan_layer_sizes_captures_and_classifies() -> None:
    buf = _tar(
        ("./app/", tarfile.DIRTYPE, b""),
        ("./app/main.py", None, b"print(1)\n"),
        ("./app/big.bin", None, b"\0" * 1000),
        ("./app/link", tarfile.SYMTYPE, b"main.py"),
        ("./app/hard", tarfile.LNKTYPE, b"app/big.bin"),
        ("./old/.wh.gone", None, b""),
        ("./old/.wh..wh..opq", None, b""),
    )
    scan = scan_layer(_Stream(buf), index=3, source="test", want=lambda p: p.endswith(".py"))
    assert scan.index == 3
    assert scan.size_bytes == 9 + 1000 + 7
    assert scan.contents == {"app/main.py": b"print(1)\n"}
    kinds = [(e.path, e.kind) for e in scan.entries]
    assert ("old/gone", EntryKind.WHITEOUT) in kinds
    assert ("old", EntryKind.OPAQUE) in kinds
    assert ("app/hard", EntryKind.HARDLINK) in kinds


def test_scan_layer_rejects_duplicate_files() -> None:
    buf = _tar(("a", None, b"1"), ("a", None, b"22"))
    with pytest.raises(SourceError, match="duplicate tar member 'a'"):
        scan_layer(_Stream(buf), index=0, source="img.tar")


def test_scan_layer_rejects_file_over_directory_in_one_layer() -> None:
    buf = _tar(("a/", tarfile.DIRTYPE, b""), ("a", None, b"1"))
    with pytest.raises(SourceError, match="duplicate"):
        scan_layer(_Stream(buf), index=0, source="img.tar")


def test_scan_layer_allows_repeated_directories() -> None:
    buf = _tar(("a/", tarfile.DIRTYPE, b""), ("a/", tarfile.DIRTYPE, b""), ("a/f", None, b"1"))
    assert scan_layer(_Stream(buf), index=0, source="img.tar").size_bytes == 1


def test_many_files_stay_compact() -> None:
    """200k paths must not need hundreds of MB: measure the tree's own structures."""
    import sys

    entries = [D(f"d{i}") for i in range(200)]
    entries += [F(f"d{i % 200}/file{i}.py", 1000 + i) for i in range(200_000)]
    tree = build_tree([layer(0, *entries)])
    total = sys.getsizeof(tree._nodes) + sum(sys.getsizeof(v) for v in tree._nodes.values())
    total += sum(sys.getsizeof(k) for k in tree._nodes)
    total += sys.getsizeof(tree._children) + sum(sys.getsizeof(s) for s in tree._children.values())
    assert total < 60 * 1024 * 1024
    assert tree.visible_bytes == sum(1000 + i for i in range(200_000))
