"""``docker:NAME``: an image in the local Docker engine, read through the Engine API.

The config comes from ``image inspect`` (Config, RootFS.Layers, Os, Architecture, Id) plus
``image history``; the layers come from one streamed ``docker save`` (``GET /images/NAME/get``)
taken apart by ``iter_archive_stream`` without touching the disk. The engine writes layers in its own
order, so layers come out with ``index == -1`` and ``finish()`` returns the diff id that places them.

The engine's history API says neither which entries are empty layers nor in which format it was
built; :func:`align_history` reconstructs ``empty_layer`` so that the non-empty entries line up with
``RootFS.Layers``, as they do in the real config.

When the engine keeps the image with overlay2 on this machine and its storage is readable (root, or a
rootless engine's own files), the layers are read straight from that storage instead
(:mod:`deadweight.sources.engine_storage`): the same tar bytes ``docker save`` would send, without
the engine re-tarring every file. Otherwise, or with ``SourceOptions(fast_path=False)``
(``--no-fast-path``), the ``docker save`` stream is used, and a one-line note (logged as a warning on
the ``deadweight.sources`` logger, which reaches stderr when nothing else handles it) says why.

Every engine call goes through :class:`deadweight.engine.client.Engine`, the one client builds and runs use
too; the docker SDK is imported lazily there, so reading archives or registries never pays for it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from deadweight.engine.client import Engine, describe
from deadweight.errors import DigestMismatchError, SourceError
from deadweight.model.image import ImageConfig, LayerDescriptor, Platform
from deadweight.sources.base import ByteStream, ImageSource, OpenedLayer, SourceOptions
from deadweight.sources.docker_archive import iter_archive_stream
from deadweight.sources.engine_storage import StoredLayer, iter_stored_layers, locate
from deadweight.sources.manifest import parse_config
from deadweight.sources.streams import ChunkStream

LOG = logging.getLogger("deadweight.sources")

SAVE_CHUNK = 4 << 20
PROBE_TIMEOUT = 5.0

#: Dockerfile instructions that never produce a layer (classic builder and BuildKit alike).
METADATA_INSTRUCTIONS = frozenset(
    {"ENV", "LABEL", "CMD", "ENTRYPOINT", "EXPOSE", "USER", "ARG", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
     "VOLUME", "ONBUILD", "MAINTAINER"}
)
LAYER_INSTRUCTIONS = frozenset({"RUN", "ADD", "COPY", "WORKDIR"})
_NOP = re.compile(r"#\(nop\)\s*")


def _instruction(created_by: str) -> tuple[str, bool]:
    """The Dockerfile keyword behind a history entry and whether it was a ``#(nop)`` entry."""
    text = created_by.strip()
    nop = _NOP.search(text)
    if nop:
        text = text[nop.end() :]
    elif text.startswith(("/bin/sh -c ", "|")):
        return "RUN", False
    word = text.split(None, 1)[0].upper() if text else ""
    return word, bool(nop)


def _rank(created_by: str) -> int:
    """0: surely no layer; 1: cannot tell; 2: surely a layer (when its size says nothing)."""
    word, nop = _instruction(created_by)
    if word in METADATA_INSTRUCTIONS:
        return 0
    if word in LAYER_INSTRUCTIONS:
        return 1 if (nop and word == "WORKDIR") else 2
    return 0 if nop else 1


def align_history(entries: Sequence[tuple[str, int]], layer_count: int) -> list[bool]:
    """``empty_layer`` for each ``(created_by, size)`` history entry, oldest first.

    Entries with a size have a layer. Of the size-0 entries, exactly as many as are still needed to
    account for every layer get one, most layer-like first (a ``RUN`` that changed nothing still
    commits a layer; an ``ENV`` never does). When the counts cannot agree (squashed or foreign
    images), fall back to the instruction alone.
    """
    sized = [size > 0 for _, size in entries]
    zero = [i for i, (_, size) in enumerate(entries) if size <= 0]
    needed = layer_count - sum(sized)
    if 0 <= needed <= len(zero):
        chosen = sorted(zero, key=lambda i: (-_rank(entries[i][0]), i))[:needed]
        has_layer = list(sized)
        for i in chosen:
            has_layer[i] = True
        return [not x for x in has_layer]
    return [size <= 0 and _rank(created_by) == 0 for created_by, size in entries]


#: Socket read timeout for the ``docker save`` stream, in seconds.
SAVE_TIMEOUT = 900.0


def daemon_has(name: str, *, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a reachable local engine has image ``name``; ``False`` on any doubt, quickly."""
    with Engine(timeout=timeout) as engine:
        return engine.has_image(name)


class _ChunkReader(ChunkStream):
    """``read(n)`` over the SDK's chunk generator; transport failures become ``SourceError``."""

    def __init__(self, chunks: Iterator[bytes], source: str, on_error: Callable[[BaseException], SourceError]):
        super().__init__()
        self._chunks = chunks
        self._source = source
        self._on_error = on_error

    def _next_chunk(self) -> bytes:
        while True:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return b""
            except SourceError:
                raise
            except Exception as exc:
                raise self._on_error(exc) from None
            if chunk:
                return chunk

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class _CheckedLayer(OpenedLayer):
    """Passes a streamed layer through, checking on ``finish()`` that the engine sent a layer we expect."""

    def __init__(self, inner: OpenedLayer, expected: set[str], seen: set[str], source: str) -> None:
        self._inner = inner
        self.descriptor = inner.descriptor
        self._expected = expected
        self._seen = seen
        self._source = source

    @property
    def stream(self) -> ByteStream:
        return self._inner.stream

    def finish(self) -> str | None:
        diff_id = self._inner.finish()
        if diff_id is not None:
            if diff_id not in self._expected:
                raise DigestMismatchError(
                    f"{self._source}: the engine sent a layer ({diff_id}) that the image does not list"
                )
            self._seen.add(diff_id)
        return diff_id


class DaemonSource(ImageSource):
    """An image in the local engine. Construction inspects it (fast); layers stream on demand."""

    def __init__(self, name: str, options: SourceOptions | None = None, *, client: Any = None) -> None:
        self.name = name.removeprefix("docker:")
        self.ref = f"docker:{self.name}"
        self._options = options or SourceOptions()
        self._owns_client = client is None
        self._engine = Engine(timeout=self._options.timeout, client=client)
        try:
            self._engine.sdk()  # connect now, so that "cannot reach" names no API call
        except Exception as exc:
            raise SourceError(f"{self.ref}: cannot reach the Docker engine ({describe(exc)})") from None
        try:
            inspect = self._engine.inspect_image(self.name, ref=self.ref)
            history = self._engine.history(self.name, ref=self.ref)
        except BaseException:
            self.close()
            raise
        self._config = self._build_config(inspect, history)
        self._layers = tuple(
            LayerDescriptor(index=i, digest=diff_id, diff_id=diff_id, media_type=None)
            for i, diff_id in enumerate(self._config.diff_ids)
        )
        wanted = Platform.parse(self._options.platform) if self._options.platform else None
        if wanted is not None and not self._config.platform.matches(wanted):
            self.close()
            raise SourceError(f"{self.ref}: the image is {self._config.platform}, not {wanted}")
        #: The layers in the engine's storage when they can be read there, else None (``fast_path_note`` says why).
        self.stored: list[StoredLayer] | None = None
        self.fast_path_note: str | None = None
        if self._options.fast_path:
            self.stored, self.fast_path_note = self._locate_storage(inspect)
            if self.fast_path_note is not None:
                LOG.warning(
                    "deadweight: note: %s: not reading the engine's storage (%s); streaming docker save instead",
                    self.ref, self.fast_path_note,
                )

    def _locate_storage(self, inspect: dict[str, Any]) -> tuple[list[StoredLayer] | None, str | None]:
        try:
            info = self._engine.sdk().api.info()
        except Exception as exc:
            return None, f"docker info failed: {describe(exc)}"
        if not isinstance(info, dict) or not isinstance(inspect, dict):
            return None, "the engine's answers are not what the fast path reads"
        return locate(inspect, info)

    # -- config -----------------------------------------------------------------------------

    def _build_config(self, inspect: dict[str, Any], history: list[dict[str, Any]]) -> ImageConfig:
        rootfs = inspect.get("RootFS") or {}
        diff_ids = list(rootfs.get("Layers") or [])
        entries = list(reversed(history or []))  # the API lists newest first
        empty = align_history(
            [(str(h.get("CreatedBy") or ""), int(h.get("Size") or 0)) for h in entries], len(diff_ids)
        )
        raw_history: list[dict[str, Any]] = []
        for item, is_empty in zip(entries, empty, strict=True):
            record: dict[str, Any] = {"created_by": str(item.get("CreatedBy") or "")}
            created = item.get("Created")
            if isinstance(created, int | float) and created > 0:
                record["created"] = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if item.get("Comment"):
                record["comment"] = str(item["Comment"])
            if is_empty:
                record["empty_layer"] = True
            raw_history.append(record)
        doc: dict[str, Any] = {
            "architecture": inspect.get("Architecture") or "unknown",
            "os": inspect.get("Os") or "unknown",
            "config": inspect.get("Config") or {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": raw_history,
        }
        if inspect.get("Variant"):
            doc["variant"] = inspect["Variant"]
        if inspect.get("Created"):
            doc["created"] = inspect["Created"]
        image_id = inspect.get("Id")
        return parse_config(json.dumps(doc).encode(), image_id if isinstance(image_id, str) else None, self.ref)

    # -- ImageSource ------------------------------------------------------------------------

    def config(self) -> ImageConfig:
        return self._config

    def layers(self) -> Sequence[LayerDescriptor]:
        return self._layers

    def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
        """From the engine's storage when it is readable (``verify`` rehashes every byte), else one ``docker
        save`` stream, where every layer's diff id is computed and checked regardless."""
        if self.stored is not None:
            yield from iter_stored_layers(self.stored, self._layers, self.ref, verify=verify)
            return
        del verify  # the archive stream hashes every layer to place it, so checking is free
        # The engine may take minutes to start sending a multi-GB save, and the SDK's timeout applies to
        # every socket read: the stream gets its own client with a long one.
        saver = Engine(timeout=max(self._options.timeout, SAVE_TIMEOUT)) if self._owns_client else self._engine
        chunks = saver.save(self.name, ref=self.ref, chunk_size=SAVE_CHUNK)
        reader = _ChunkReader(chunks, self.ref, lambda exc: saver.read_error(self.ref, "save", exc))
        expected = set(self._config.diff_ids)
        seen: set[str] = set()
        try:
            for layer in iter_archive_stream(reader, self.ref):  # type: ignore[arg-type]
                yield _CheckedLayer(layer, expected, seen, self.ref)
        finally:
            reader.close()
            if saver is not self._engine:
                saver.close()
        missing = expected - seen
        if missing:
            raise SourceError(
                f"{self.ref}: the engine's save stream lacked {len(missing)} of the image's layers"
            )

    def close(self) -> None:
        if getattr(self, "_engine", None) is not None:
            self._engine.close()  # closes the SDK client only when it made it
