"""Layer analysis cache: a layer's scan (entries, captured contents, size) keyed by its diff id.

Layers are content-addressed, so a scan never goes stale: a second audit of a fleet reads no image bytes
at all when every layer is cached, and a base layer shared by ten services is scanned once. Only scans
whose diff id was computed while streaming are stored (never a diff id an unverified archive merely
claims), and values are JSON, not pickle, so a tampered cache can at worst give wrong numbers, never run
code. SQLite gives atomic writes and safe concurrent readers.

In memory, for one run, the cache also keeps a few *stacks*: the unfinished tree of an image's first
layers, so the next service on the same base starts from it instead of decoding and stacking the base's
tens of thousands of entries again (most of a warm audit's tree time in a fleet on one base).
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from base64 import b64decode, b64encode
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from deadweight.inventory.filetree import FileTree, LayerScan
from deadweight.model.image import EntryKind, LayerEntry

SCHEMA_VERSION = 1

#: Stacks kept in memory at once (least recently used dropped first): each holds a tree's paths, so a
#: fleet of big images must not keep one per service; the base everyone shares stays in by being used.
MAX_STACKS = 4

_KIND_OF = {kind.value: kind for kind in EntryKind}  # a dict lookup, not EntryKind(value), per entry


class LayerCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._stacks: OrderedDict[tuple[str, tuple[str, ...]], FileTree] = OrderedDict()

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=10)
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS layers (diff_id TEXT, capture TEXT, version INTEGER, data BLOB,"
                    " PRIMARY KEY (diff_id, capture))"
                )
            except sqlite3.Error:
                self._db = None  # an unusable cache only costs time
        return self._db

    def get(self, diff_id: str, capture: str) -> LayerScan | None:
        db = self._conn()
        if db is None:
            return None
        try:
            row = db.execute(
                "SELECT data FROM layers WHERE diff_id = ? AND capture = ? AND version = ?",
                (diff_id, capture, SCHEMA_VERSION),
            ).fetchone()
            if row is None:
                return None
            doc = json.loads(zlib.decompress(row[0]))
            kinds = _KIND_OF
            entries = [LayerEntry(p, kinds[k], s, t, m) for p, k, s, t, m in doc["entries"]]
            contents = {path: b64decode(data) for path, data in doc["contents"].items()}
            return LayerScan(index=-1, entries=entries, contents=contents, size_bytes=int(doc["size"]),
                             diff_id=diff_id)
        except (sqlite3.Error, ValueError, KeyError, TypeError, zlib.error):
            return None

    def put(self, scan: LayerScan, capture: str) -> None:
        db = self._conn()
        if db is None or not scan.diff_id:
            return
        doc = {
            "size": scan.size_bytes,
            "entries": [(e.path, e.kind.value, e.size, e.link_target, e.mode) for e in scan.entries],
            "contents": {path: b64encode(data).decode() for path, data in scan.contents.items()},
        }
        blob = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO layers VALUES (?, ?, ?, ?)",
                           (scan.diff_id, capture, SCHEMA_VERSION, blob))
        except sqlite3.Error:
            return

    def stacked(self, capture: str, diff_ids: Sequence[str]) -> tuple[int, FileTree | None]:
        """``(k, tree)``: the deepest remembered stack of the first ``k`` of ``diff_ids``, or ``(0, None)``.

        The tree is the cache's own: build on it through ``TreeBuilder(tree)``, which copies it.
        """
        for k in range(len(diff_ids), 0, -1):
            key = (capture, tuple(diff_ids[:k]))
            tree = self._stacks.get(key)
            if tree is not None:
                self._stacks.move_to_end(key)
                return k, tree
        return 0, None

    def remember_stack(self, capture: str, diff_ids: Sequence[str], tree: FileTree) -> None:
        """Keep ``tree``, the unfinished stack of exactly the layers ``diff_ids``, for this run."""
        self._stacks[(capture, tuple(diff_ids))] = tree
        self._stacks.move_to_end((capture, tuple(diff_ids)))
        while len(self._stacks) > MAX_STACKS:
            self._stacks.popitem(last=False)

    def close(self) -> None:
        self._stacks.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
