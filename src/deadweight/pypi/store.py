"""A small on-disk cache of index answers, keyed by URL, so repeated audits work offline.

Values are JSON documents written atomically (temp file + rename) so that an interrupted run never leaves a
half-written entry that a later offline run would trust. Concurrent writers of one key each replace the file
whole, so a reader sees one complete answer or the other, never a mix.

A store object also remembers what it decoded (``load``/``save``), so the services of one audit that share a
store read and parse each index page once, not once per service.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from threading import Lock
from typing import Any, TypeVar

T = TypeVar("T")


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
        self._decoded: dict[str, Any] = {}
        self._lock = Lock()

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

    def load(self, key: str, decode: Callable[[Any], T]) -> T | None:
        """``decode(get(key))``, remembered for the life of this store object; None on a miss or when
        ``decode`` rejects the value (``TypeError``/``ValueError``/``KeyError``). Each key has one decoder;
        decoded values are shared, so callers must not mutate them."""
        with self._lock:
            if key in self._decoded:
                return self._decoded[key]  # type: ignore[no-any-return]
        raw = self.get(key)
        if raw is None:
            return None
        try:
            value = decode(raw)
        except (TypeError, ValueError, KeyError):
            return None
        with self._lock:
            return self._decoded.setdefault(key, value)  # type: ignore[no-any-return]

    def save(self, key: str, raw: Any, decoded: T) -> T:
        """``put(key, raw)`` and remember ``decoded`` as what ``load`` returns for it."""
        self.put(key, raw)
        with self._lock:
            return self._decoded.setdefault(key, decoded)  # type: ignore[no-any-return]
