"""The merged file tree of an image, and where every byte of every layer went.

Layers are change sets (OCI image spec, "Applying Changesets"): each one adds or replaces files and
deletes lower ones with whiteouts. Stacking them the way overlayfs does gives the file system a
container sees; bytes a layer stores that are no longer visible are *shadowed*: still shipped and
stored, never readable. Every byte of ``sum(scan.size_bytes)`` ends up in exactly one of
``visible_bytes`` and ``shadowed_bytes``; tests hold the module to that.

Memory is bounded by the number of paths, not their contents: a visible node is one packed ``int``
(kind, layer and size) in a dict keyed by path, plus one entry in its parent's child set. Contents are
kept only for the files a caller asked to capture, and only for their visible versions.

This module does no I/O except :func:`scan_layer`, which reads a tar stream handed to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from deadweight.errors import SourceError
from deadweight.model.image import EntryKind, LayerEntry
from deadweight.sources.base import ByteStream
from deadweight.sources.tarstream import iter_tar

#: Longest chain of symlinks followed before a path counts as a loop (Linux's MAXSYMLINKS).
MAX_SYMLINK_HOPS = 40

_FILE, _DIR, _SYMLINK, _HARDLINK, _OTHER = range(5)
_CODES = {
    EntryKind.FILE: _FILE,
    EntryKind.DIR: _DIR,
    EntryKind.SYMLINK: _SYMLINK,
    EntryKind.HARDLINK: _HARDLINK,
    EntryKind.OTHER: _OTHER,
}
_KINDS = (EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK, EntryKind.HARDLINK, EntryKind.OTHER)
_KIND_MASK = 0b111
_LAYER_BITS = 20
_LAYER_MASK = (1 << _LAYER_BITS) - 1
_SIZE_SHIFT = 3 + _LAYER_BITS
#: aufs bookkeeping entries (``.wh..wh.plnk``...) are not content; overlayfs never shows them.
_AUFS_PREFIX = ".wh..wh."


def _pack(kind: int, layer: int, size: int) -> int:
    return (size << _SIZE_SHIFT) | (layer << 3) | kind


def _kind(value: int) -> int:
    return value & _KIND_MASK


def _layer(value: int) -> int:
    return (value >> 3) & _LAYER_MASK


def _size(value: int) -> int:
    return value >> _SIZE_SHIFT


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _norm(path: str) -> str:
    """Image paths are relative to the root: accept ``/usr/bin``, ``usr/bin/`` and ``./usr/bin`` alike."""
    path = path.strip("/")
    while path.startswith("./"):
        path = path[2:].lstrip("/")
    return "" if path == "." else path


def entry_cost(entry: LayerEntry) -> int:
    """Bytes one tar member adds to a layer's size as Docker's overlay2 driver counts it.

    Regular files count their size, symlinks the length of their target (their ``st_size``); hard
    links count nothing (the bytes are the target's, counted once); directories, whiteouts and device
    nodes count nothing.
    """
    if entry.kind is EntryKind.FILE:
        return entry.size
    if entry.kind is EntryKind.SYMLINK and entry.link_target is not None:
        return len(entry.link_target.encode("utf-8", "surrogateescape"))
    return 0


def layer_size(entries: Sequence[LayerEntry]) -> int:
    """Sum of :func:`entry_cost` over a layer's entries: the layer's ``size_bytes``."""
    return sum(entry_cost(entry) for entry in entries)


@dataclass(slots=True)
class LayerScan:
    """The result of reading one layer's tar once: its entries, captured contents and size."""

    index: int
    entries: list[LayerEntry]
    contents: dict[str, bytes]
    size_bytes: int
    diff_id: str | None = None


@dataclass(frozen=True, slots=True)
class FileNode:
    """A visible path of the merged tree.

    ``size`` is what the node costs: a file's size, a symlink's target length, 0 for directories and
    for hard links (unless the link's target was hidden and the shared bytes moved to the link).
    ``layer`` is the index of the layer that put the visible version there.
    """

    path: str
    kind: EntryKind
    size: int
    layer: int
    link_target: str | None = None


@dataclass(frozen=True, slots=True)
class ShadowedFile:
    """``size`` bytes that layer ``layer`` stores at ``path`` and that layer ``hidden_by`` hid."""

    path: str
    size: int
    layer: int
    hidden_by: int


@dataclass(frozen=True, slots=True)
class LayerChanges:
    """What one layer did to the non-directory paths below it."""

    index: int
    files_added: int = 0  # paths that did not exist below
    files_modified: int = 0  # paths that existed below and were replaced
    files_deleted: int = 0  # paths below that this layer made disappear (whiteouts, dirs over files...)


@dataclass(slots=True)
class _Counts:
    added: int = 0
    modified: int = 0
    deleted: int = 0


@dataclass(slots=True)
class _HardlinkGroups:
    """Hard-linked files only (rare): which visible names share an inode, and who carries its bytes.

    An inode is named by ``(layer, path of its regular-file member)``; ``members[key][0]`` carries the
    bytes. When a carrier is hidden while another name stays visible, the bytes move to that name.
    """

    members: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    size: dict[tuple[int, str], int] = field(default_factory=dict)
    member_of: dict[str, tuple[int, str]] = field(default_factory=dict)


class FileTree:
    """The file system a container of the image sees, with byte accounting. Build it with :func:`build_tree`.

    Paths are relative to the image root without a leading ``/``; the root itself is ``""``. Query
    methods accept a leading ``/`` too.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, int] = {}
        self._children: dict[str, set[str]] = {"": set()}
        self._links: dict[str, str] = {}
        self._hardlinks = _HardlinkGroups()
        self._contents: dict[int, dict[str, bytes]] = {}
        self._shadowed: list[tuple[str, int, int, int]] = []
        self._changes: dict[int, LayerChanges] = {}
        self.layer_sizes: dict[int, int] = {}  # layer index -> its scan's size_bytes
        self.visible_bytes = 0
        self.shadowed_bytes = 0

    # ----------------------------------------------------------------- queries

    def get(self, path: str) -> FileNode | None:
        """The visible node at ``path`` (symlinks not followed); the root is a directory of layer 0."""
        path = _norm(path)
        if not path:
            return FileNode("", EntryKind.DIR, 0, 0)
        value = self._nodes.get(path)
        return None if value is None else self._node(path, value)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        path = _norm(path)
        return not path or path in self._nodes

    def __len__(self) -> int:
        """Number of visible nodes, directories included, the root excluded."""
        return len(self._nodes)

    def nodes(self) -> Iterator[FileNode]:
        """Every visible node including directories (not the root), in no particular order."""
        for path, value in self._nodes.items():
            yield self._node(path, value)

    def paths(self) -> Iterable[str]:
        """Every visible path, directories included (not the root), in no particular order.

        The bulk form of ``nodes()`` for loops that need only the paths: no node is built.
        """
        return self._nodes.keys()

    def files(self) -> Iterator[tuple[str, int, int]]:
        """``(path, size, layer)`` of every visible non-directory, in ``nodes()`` order.

        The bulk form of ``nodes()`` for per-file loops over a whole image (the inventory, the
        breakdown, rules): tuples instead of one ``FileNode`` per path, which costs several times more.
        """
        for path, value in self._nodes.items():
            if value & _KIND_MASK != _DIR:
                yield path, value >> _SIZE_SHIFT, (value >> 3) & _LAYER_MASK

    def file_sizes(self) -> dict[str, int]:
        """Every visible non-directory and its size: ``files()`` as one dict, built without a tuple per path."""
        return {path: value >> _SIZE_SHIFT for path, value in self._nodes.items() if value & _KIND_MASK != _DIR}

    def stat(self, path: str) -> tuple[EntryKind, int, int] | None:
        """``(kind, size, layer)`` of the visible node at ``path``, symlinks not followed; ``get`` without a node.

        ``path`` must already be normalised (no leading ``/``, no ``./``): this is the per-path lookup
        of bulk loops, which have image paths in that form. The root (``""``) is a directory of layer 0.
        """
        value = self._nodes.get(path)
        if value is None:
            return (EntryKind.DIR, 0, 0) if path == "" else None
        return _KINDS[value & _KIND_MASK], value >> _SIZE_SHIFT, (value >> 3) & _LAYER_MASK

    def listdir(self, path: str) -> list[str]:
        """Names of the children of directory ``path`` (``""`` is the root), sorted; [] if not a directory."""
        path = _norm(path)
        kids = self._children.get(path)
        if not kids:
            return []
        cut = len(path) + 1 if path else 0
        return sorted(child[cut:] for child in kids)

    def walk(self, prefix: str) -> Iterator[FileNode]:
        """Every visible node strictly under directory ``prefix``, depth first, children sorted by name."""
        prefix = _norm(prefix)
        if prefix in self._children:
            yield from self._walk_dir(prefix)

    def _walk_dir(self, directory: str) -> Iterator[FileNode]:
        stack: list[Iterator[str]] = [iter(sorted(self._children.get(directory, ())))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                continue
            yield self._node(child, self._nodes[child])
            kids = self._children.get(child)
            if kids:
                stack.append(iter(sorted(kids)))

    def read(self, path: str) -> bytes | None:
        """Captured content of the visible version of ``path``, following symlinks and hard links.

        ``None`` when the path is missing, dangling, not a regular file, or was not captured.
        """
        real = self.resolve(path)
        if real is None:
            return None
        value = self._nodes.get(real)
        if value is None:
            return None
        kind = _kind(value)
        if kind == _FILE:
            return self._contents.get(_layer(value), {}).get(real)
        if kind == _HARDLINK:
            key = self._hardlinks.member_of.get(real)
            if key is not None:
                return self._contents.get(key[0], {}).get(key[1])
        return None

    def resolve(self, path: str) -> str | None:
        """Resolve symlinks in every component the way the kernel does, from the image root.

        Absolute targets restart at the image root, relative ones at the link's directory, ``..`` stops
        at the root. Returns the real path (``""`` for the root), or ``None`` when a component is
        missing, a non-directory is walked through, or more than 40 links are followed (a loop).
        """
        return self._walk([part for part in reversed(path.split("/")) if part], [], 0)[0]

    def resolver(self) -> Callable[[str], str | None]:
        """:meth:`resolve` for many paths: each parent directory is resolved once, then remembered.

        Gives exactly what ``resolve`` gives (the walk goes on from the parent's state, links counted
        the same). For bulk lookups on a finished tree: the memory is wrong once the tree changes.
        """
        parents: dict[str, tuple[list[str], int] | None] = {}

        def resolve(path: str) -> str | None:
            parent, _, name = path.rpartition("/")
            if not parent or name in ("", ".", ".."):
                return self.resolve(path)
            if parent in parents:
                state = parents[parent]
            else:
                real, parts, hops = self._walk([part for part in reversed(parent.split("/")) if part], [], 0)
                value = self._nodes.get(real) if real else None
                # walked alone, the parent's last name escaped the "must be a directory" test
                ok = real == "" or (value is not None and _kind(value) == _DIR)
                state = parents[parent] = (parts, hops) if ok else None
            if state is None:
                return None
            return self._walk([name], list(state[0]), state[1])[0]

        return resolve

    def _walk(self, pending: list[str], resolved: list[str], hops: int) -> tuple[str | None, list[str], int]:
        """Resolve ``pending`` (reversed names) from ``resolved``: (real path or None, names, links followed)."""
        while pending:
            name = pending.pop()
            if name == ".":
                continue
            if name == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/".join([*resolved, name])
            value = self._nodes.get(candidate)
            if value is None:
                return None, resolved, hops
            kind = _kind(value)
            if kind == _SYMLINK:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return None, resolved, hops
                target = self._links.get(candidate, "")
                if target.startswith("/"):
                    resolved = []
                pending.extend(part for part in reversed(target.split("/")) if part)
                continue
            if pending and kind != _DIR:
                return None, resolved, hops
            resolved.append(name)
        return "/".join(resolved), resolved, hops

    @property
    def shadowed(self) -> list[ShadowedFile]:
        """Every non-empty version of a non-directory that is stored in a layer and hidden by a later one."""
        return [ShadowedFile(*item) for item in self._shadowed]

    @property
    def layer_changes(self) -> dict[int, LayerChanges]:
        """Added / modified / deleted non-directory paths per layer index."""
        return dict(self._changes)

    def shadowed_by_layer(self) -> dict[int, int]:
        """Shadowed bytes per layer that stores them."""
        out: dict[int, int] = {}
        for _path, size, layer, _hidden_by in self._shadowed:
            out[layer] = out.get(layer, 0) + size
        return out

    def dir_sizes(self) -> dict[str, int]:
        """Recursive visible bytes of every directory, the root (``""``) included.

        Each node adds its bytes to its parent, then directories, deepest first, add their totals to
        theirs: linear in the number of nodes, however deep the tree (adding every file to every ancestor
        would cost depth times more).
        """
        sizes = dict.fromkeys(self._children, 0)
        for path, value in self._nodes.items():
            size = _size(value)
            if size:
                sizes[path.rpartition("/")[0]] += size
        for directory in sorted((d for d in sizes if d), key=lambda d: d.count("/"), reverse=True):
            sizes[directory.rpartition("/")[0]] += sizes[directory]
        return sizes

    def copy(self) -> FileTree:
        """An independent copy, to stack more layers on without touching this one.

        Costs a dict copy per structure, far less than re-applying the layers: stacking one base's
        layers once for a whole fleet of services built on it is what this is for.
        """
        other = FileTree()
        other._nodes = dict(self._nodes)
        other._children = {path: set(kids) for path, kids in self._children.items()}
        other._links = dict(self._links)
        groups = self._hardlinks
        other._hardlinks = _HardlinkGroups(
            {key: list(names) for key, names in groups.members.items()}, dict(groups.size), dict(groups.member_of)
        )
        other._contents = {layer: dict(contents) for layer, contents in self._contents.items()}
        other._shadowed = list(self._shadowed)
        other._changes = dict(self._changes)
        other.layer_sizes = dict(self.layer_sizes)
        other.visible_bytes = self.visible_bytes
        other.shadowed_bytes = self.shadowed_bytes
        return other

    def _node(self, path: str, value: int) -> FileNode:
        kind = _kind(value)
        link = self._links.get(path) if kind in (_SYMLINK, _HARDLINK) else None
        return FileNode(path, _KINDS[kind], _size(value), _layer(value), link)

    # ---------------------------------------------------------------- building

    def _apply(self, scan: LayerScan) -> None:
        """Stack one layer on top of the tree. Deletions act on lower layers only, so they go first."""
        layer = scan.index
        if not 0 <= layer <= _LAYER_MASK:
            raise ValueError(f"layer index out of range: {layer}")
        counts = _Counts()
        for entry in scan.entries:
            if entry.kind is EntryKind.WHITEOUT and entry.path in self._nodes:
                counts.deleted += self._remove(entry.path, layer)
            elif entry.kind is EntryKind.OPAQUE:
                for child in list(self._children.get(entry.path, ())):
                    counts.deleted += self._remove(child, layer)
        nodes = self._nodes
        children = self._children
        file_stamp = _pack(_FILE, layer, 0)
        dir_stamp = _pack(_DIR, layer, 0)
        added = visible = 0
        for entry in scan.entries:
            path = entry.path
            if not path:
                continue  # the root's own entry
            kind = entry.kind
            if kind is EntryKind.FILE or kind is EntryKind.DIR:
                # The common case, inline: a new file or directory in an existing directory, or a
                # directory merged into one below. Anything else takes the general path (_add).
                parent = path.rpartition("/")[0]
                up = nodes.get(parent) if parent else _DIR
                if up is not None and up & _KIND_MASK == _DIR:
                    old = nodes.get(path)
                    if old is None:
                        if kind is EntryKind.FILE:
                            nodes[path] = (entry.size << _SIZE_SHIFT) | file_stamp
                            visible += entry.size
                            added += 1
                        else:
                            nodes[path] = dir_stamp
                            children.setdefault(path, set())
                        children[parent].add(path)
                        continue
                    if kind is EntryKind.DIR and old & _KIND_MASK == _DIR:
                        nodes[path] = dir_stamp  # merged: the lower directory's children stay
                        continue
            if entry.kind is EntryKind.WHITEOUT:
                self._ensure_dirs(_parent(path), layer, counts)
            elif entry.kind is EntryKind.OPAQUE:
                self._ensure_dirs(path, layer, counts)
            elif not (entry.kind is EntryKind.OTHER and path.rpartition("/")[2].startswith(_AUFS_PREFIX)):
                self._add(entry, layer, counts)
        counts.added += added
        self.visible_bytes += visible
        if scan.contents:
            self._contents[layer] = dict(scan.contents)
        self._changes[layer] = LayerChanges(layer, counts.added, counts.modified, counts.deleted)
        self.layer_sizes[layer] = scan.size_bytes

    def _ensure_dirs(self, path: str, layer: int, counts: _Counts) -> None:
        """Make ``path`` and its ancestors directories; a non-directory in the way is hidden.

        Iterative: a layer may name a file thousands of directories deep with none of them listed.
        """
        missing: list[str] = []  # path, then its ancestors, up to the first one that is a directory
        while path:
            value = self._nodes.get(path)
            if value is not None and _kind(value) == _DIR:
                break
            missing.append(path)
            path = _parent(path)
        for directory in reversed(missing):  # top down, as the recursive form did
            if directory in self._nodes:
                counts.deleted += self._remove(directory, layer)
            self._insert(directory, _pack(_DIR, layer, 0))

    def _add(self, entry: LayerEntry, layer: int, counts: _Counts) -> None:
        path = entry.path
        self._ensure_dirs(_parent(path), layer, counts)
        code = _CODES[entry.kind]
        old = self._nodes.get(path)
        if old is not None:
            if code == _DIR and _kind(old) == _DIR:
                self._nodes[path] = _pack(_DIR, layer, 0)  # merged: the lower directory's children stay
                return
            removed = self._remove(path, layer)
            if code == _DIR:
                counts.deleted += removed  # a directory now stands where a file was
            else:
                if _layer(old) < layer:
                    counts.modified += 1
                else:
                    counts.added += 1
                if _kind(old) == _DIR:
                    counts.deleted += removed  # the files under the directory this one replaced
        elif code != _DIR:
            counts.added += 1

        size = 0
        if code == _FILE:
            size = entry.size
        elif code == _SYMLINK:
            size = entry_cost(entry)
            self._links[path] = entry.link_target or ""
        elif code == _HARDLINK:
            self._link_inode(path, entry.link_target or "", layer)
        self._insert(path, _pack(code, layer, size))
        self.visible_bytes += size

    def _link_inode(self, path: str, target: str, layer: int) -> None:
        """Join ``path`` to the inode of ``target``, which must be a file earlier in the same layer."""
        self._links[path] = target
        value = self._nodes.get(target)
        if value is None or _layer(value) != layer:
            return  # dangling or cross-layer link: no bytes to share
        groups = self._hardlinks
        if _kind(value) == _HARDLINK:
            key = groups.member_of.get(target)
            if key is None:
                return
        elif _kind(value) == _FILE:
            key = (layer, target)
            if key not in groups.members:
                groups.members[key] = [target]
                groups.size[key] = _size(value)
                groups.member_of[target] = key
        else:
            return
        groups.members[key].append(path)
        groups.member_of[path] = key

    def _insert(self, path: str, value: int) -> None:
        self._nodes[path] = value
        self._children[_parent(path)].add(path)
        if _kind(value) == _DIR:
            self._children.setdefault(path, set())

    def _remove(self, path: str, hidden_by: int) -> int:
        """Remove ``path`` and its subtree, hiding their bytes; returns how many non-directories went."""
        self._children[_parent(path)].discard(path)
        removed = 0
        stack = [path]
        while stack:
            current = stack.pop()
            value = self._nodes.pop(current)
            if _kind(value) == _DIR:
                stack.extend(self._children.pop(current, ()))
                continue
            removed += 1
            self._links.pop(current, None)
            self._hide(current, value, hidden_by)
        return removed

    def _hide(self, path: str, value: int, hidden_by: int) -> None:
        size = _size(value)
        groups = self._hardlinks
        key = groups.member_of.pop(path, None) if groups.member_of else None
        if key is not None:
            members = groups.members[key]
            position = members.index(path)
            del members[position]
            if members:
                if position == 0:  # the carrier went away: the bytes move to the next visible name
                    heir = members[0]
                    heir_value = self._nodes[heir]
                    self._nodes[heir] = _pack(_kind(heir_value), _layer(heir_value), groups.size[key])
                    self.visible_bytes += groups.size[key] - _size(heir_value)
                    self.visible_bytes -= size
                return
            del groups.members[key]
            del groups.size[key]
        self.visible_bytes -= size
        if size:
            self._shadowed.append((path, size, _layer(value), hidden_by))
            self.shadowed_bytes += size

    def _prune_contents(self) -> None:
        """Drop captured contents of versions that are no longer visible."""
        groups = self._hardlinks
        for layer, contents in list(self._contents.items()):
            kept = {
                path: data
                for path, data in contents.items()
                if ((value := self._nodes.get(path)) is not None and _kind(value) == _FILE and _layer(value) == layer)
                or (layer, path) in groups.members
            }
            if kept:
                self._contents[layer] = kept
            else:
                del self._contents[layer]


class TreeBuilder:
    """Builds a :class:`FileTree` one layer at a time, so a caller can drop each scan once it is added.

    ``base`` (from :meth:`snapshot`) resumes on layers already stacked: the next scan must come after them.
    """

    def __init__(self, base: FileTree | None = None) -> None:
        self._tree = base.copy() if base is not None else FileTree()
        self._last = max(self._tree.layer_sizes, default=-1)
        self._done = False

    @property
    def stacked_paths(self) -> int:
        """Visible paths of the layers stacked so far."""
        return len(self._tree)

    def snapshot(self) -> FileTree:
        """A copy of the layers stacked so far, unfinished, for another builder to resume from."""
        if self._done:
            raise RuntimeError("TreeBuilder.finish() was already called")
        return self._tree.copy()

    def add(self, scan: LayerScan) -> None:
        """Stack ``scan``; layers must come bottom first, with increasing indices."""
        if self._done:
            raise RuntimeError("TreeBuilder.finish() was already called")
        if scan.index <= self._last:
            raise ValueError(f"layer {scan.index} added after layer {self._last}: scans must be in layer order")
        self._tree._apply(scan)
        self._last = scan.index

    def finish(self) -> FileTree:
        self._done = True
        self._tree._prune_contents()
        return self._tree


def build_tree(scans: Sequence[LayerScan]) -> FileTree:
    """Stack the layers (bottom first) into the merged tree a container sees."""
    builder = TreeBuilder()
    for scan in scans:
        builder.add(scan)
    return builder.finish()


def scan_layer(
    stream: ByteStream,
    *,
    index: int,
    source: str,
    want: Callable[[str], bool] | None = None,
) -> LayerScan:
    """Read one layer's tar in a single pass: its entries, the contents ``want`` selects, and its size.

    A path that appears twice in one layer, unless both times as a directory, is a broken archive
    (tar extraction would silently keep the last one, and the layer's size would be ambiguous).
    """
    entries: list[LayerEntry] = []
    contents: dict[str, bytes] = {}
    seen: dict[str, bool] = {}  # path -> is a directory
    size = 0
    for member in iter_tar(stream, source=source, want=want):
        entry = member.entry
        kind = entry.kind
        if kind not in (EntryKind.WHITEOUT, EntryKind.OPAQUE):
            is_dir = kind is EntryKind.DIR
            before = seen.get(entry.path)
            if before is not None and not (before and is_dir):
                raise SourceError(f"{source}: duplicate tar member {entry.path!r} in one layer")
            seen[entry.path] = is_dir
        entries.append(entry)
        size += entry_cost(entry)
        if member.content is not None:
            contents[entry.path] = member.content
    return LayerScan(index=index, entries=entries, contents=contents, size_bytes=size)
