"""Build final file trees for inventory tests: layers of files, installed distributions with RECORDs.

Contents are captured only where ``capture.wanted`` says so, exactly as the real streaming pass does,
so a test that forgets a metadata file in the selector fails here too.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from deadweight.inventory.capture import wanted
from deadweight.inventory.filetree import FileTree, LayerScan, build_tree, layer_size
from deadweight.model.image import EntryKind, ImageConfig, LayerEntry, Platform
from tests.support.wheels import metadata, record_hash


@dataclass(frozen=True)
class Sym:
    target: str


@dataclass(frozen=True)
class Gone:
    """A whiteout: deletes the path from lower layers."""


@dataclass(frozen=True)
class Dir:
    pass


Value = bytes | int | Sym | Gone | Dir
Layer = Mapping[str, Value]


def scan(index: int, files: Layer) -> LayerScan:
    entries: list[LayerEntry] = []
    contents: dict[str, bytes] = {}
    for raw_path, value in files.items():
        path = raw_path.strip("/")
        if isinstance(value, Sym):
            entries.append(LayerEntry(path, EntryKind.SYMLINK, 0, value.target))
        elif isinstance(value, Gone):
            entries.append(LayerEntry(path, EntryKind.WHITEOUT))
        elif isinstance(value, Dir):
            entries.append(LayerEntry(path, EntryKind.DIR))
        elif isinstance(value, int):
            entries.append(LayerEntry(path, EntryKind.FILE, value))
        else:
            entries.append(LayerEntry(path, EntryKind.FILE, len(value)))
            if wanted(path):
                contents[path] = value
    return LayerScan(index, entries, contents, layer_size(entries))


def tree(*layers: Layer) -> FileTree:
    return build_tree([scan(i, files) for i, files in enumerate(layers)])


def config(
    *, env: tuple[str, ...] = (), workdir: str = "", arch: str = "amd64", os_name: str = "linux"
) -> ImageConfig:
    return ImageConfig(
        digest=None, platform=Platform(os_name, arch), diff_ids=(), env=env, working_dir=workdir
    )


def dist(
    env: str,
    name: str,
    version: str,
    files: Mapping[str, bytes | int],
    *,
    requires: tuple[str, ...] = (),
    extras: tuple[str, ...] = (),
    meta_extra: str = "",
    entry_points: str = "",
    requested: bool = True,
    installer: str = "pip",
    record: bool = True,
    record_override: bytes | None = None,
) -> dict[str, Value]:
    """Image paths of an installed distribution (pip layout), with a correct RECORD.

    ``files`` keys are relative to ``env`` (``../../../bin/x`` for scripts); int values are sizes of
    uncaptured payload (shared libraries), bytes are real contents.
    """
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    members: dict[str, bytes | int] = dict(files)
    members[f"{info}/METADATA"] = (metadata(name, version, requires, extras) + meta_extra).encode()
    members[f"{info}/INSTALLER"] = installer.encode() + b"\n"
    if requested:
        members[f"{info}/REQUESTED"] = b""
    if entry_points:
        members[f"{info}/entry_points.txt"] = entry_points.encode()
    rows = []
    for rel, value in members.items():
        if isinstance(value, int):
            rows.append(f"{rel},sha256=x,{value}")
        else:
            rows.append(f"{rel},{record_hash(value)},{len(value)}")
    rows.append(f"{info}/RECORD,,")
    if record_override is not None:
        members[f"{info}/RECORD"] = record_override
    elif record:
        members[f"{info}/RECORD"] = ("\n".join(rows) + "\n").encode()
    return {posixpath.normpath(f"{env}/{rel}"): value for rel, value in members.items()}
