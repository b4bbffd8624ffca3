"""A small on-disk cache of index answers, keyed by URL, so repeated audits work offline.

Values are JSON documents written atomically (temp file + rename) so that an interrupted run never leaves a
half-written entry that a later offline run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    """``$DEADWEIGHT_CACHE_DIR``, else ``$XDG_CACHE_HOME/deadweight``, else ``~/.cache/deadweight``."""
    explicit = os.environ.get("DEADWEIGHT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "deadweight"


class JsonStore:
    """Maps string keys to JSON values under ``directory``; unreadable entries count as misses."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.directory / digest[:2] / f"{digest}.json"

    def get(self, key: str) -> Any | None:
        try:
            with self._path(key).open(encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("key") != key:
            return None
        return doc.get("value")

    def put(self, key: str, value: Any) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "value": value}, fh)
            os.replace(tmp, path)
        except OSError:
            return  # a cache that cannot be written only costs time
