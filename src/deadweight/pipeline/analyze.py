"""Read an image once and account for every byte: ``analyze_image``.

The one place that drives a source: each layer is scanned as it streams (never extracted), verified by
``finish()``, placed by its index or, for ``docker save`` streams that hand layers out in archive
order, by the diff id ``finish()`` computed. Layers are stacked bottom first as soon as their turn
comes, so only out-of-order layers wait in memory, and each layer's entries are dropped once the
merged tree and the efficiency score have taken them in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from deadweight.errors import SourceError
from deadweight.inventory.efficiency import Efficiency, EfficiencyCalculator
from deadweight.inventory.filetree import FileTree, LayerScan, TreeBuilder, scan_layer
from deadweight.inventory.nogc import paused_gc
from deadweight.model.analysis import ImageAnalysis, LayerSummary
from deadweight.model.image import ImageConfig, LayerDescriptor
from deadweight.sources.base import ByteStream, ImageSource

if TYPE_CHECKING:
    from deadweight.cache import LayerCache

#: ``progress(layers_done, layers_total, bytes_read)``; bytes are uncompressed tar bytes read so far.
Progress = Callable[[int, int, int], None]


#: Report progress inside a layer at most once per this many bytes.
PROGRESS_STEP = 8 << 20


class _CountingStream:
    """Counts the uncompressed bytes that pass and reports them every ``PROGRESS_STEP`` bytes."""

    __slots__ = ("base", "count", "inner", "next_report", "report")

    def __init__(self, inner: ByteStream, base: int, report: Callable[[int], None] | None) -> None:
        self.inner = inner
        self.base = base
        self.count = 0
        self.report = report
        self.next_report = PROGRESS_STEP

    def _advance(self, n: int) -> None:
        self.count += n
        if self.report is not None and self.count >= self.next_report:
            self.next_report = self.count + PROGRESS_STEP
            self.report(self.base + self.count)

    def read(self, n: int = -1, /) -> bytes:
        data = self.inner.read(n)
        self._advance(len(data))
        return data

    def skip(self, n: int, /) -> None:
        self.inner.skip(n)
        self._advance(n)


def aligned_history(image_config: ImageConfig, layer_count: int) -> list[str]:
    """``created_by`` for each layer: history entries marked ``empty_layer`` have no layer of their own.

    An image without history (or with fewer entries than layers, as some builders write) gets ``""``
    for the layers it does not describe.
    """
    steps = [entry.created_by for entry in image_config.history if not entry.empty_layer]
    return [steps[i] if i < len(steps) else "" for i in range(layer_count)]


def _place(index: int, diff_id: str | None, image_config: ImageConfig, placed: set[int], ref: str) -> int:
    if index >= 0:
        return index
    if diff_id is None:
        raise SourceError(f"{ref}: the source could not say which layer a stream belongs to")
    positions = [position for position, expected in enumerate(image_config.diff_ids) if expected == diff_id]
    for position in positions:
        if position not in placed:
            return position
    if positions:
        raise SourceError(f"{ref}: layer {diff_id} delivered twice")
    raise SourceError(f"{ref}: layer {diff_id} is not in the image config's diff ids")


#: Remember the stack of an image's first layers when at least this many entries went into it since
#: the last stack remembered, and at least half its paths: a base layer, not a few files on top.
STACK_MIN_ENTRIES = 1000


def _from_cache(
    cache: LayerCache, image_config: ImageConfig, capture_key: str, calculator: EfficiencyCalculator | None
) -> FileTree | None:
    """The tree of an image whose every layer is cached, or None when one is not (then it is streamed).

    Without dive's score (which needs every layer's entries) the stack of a base another service of
    this run already built is reused, and a freshly built base is remembered for the next one.
    """
    diff_ids = image_config.diff_ids
    if not diff_ids:
        return None
    start, base = cache.stacked(capture_key, diff_ids) if calculator is None else (0, None)
    scans = []
    for index in range(start, len(diff_ids)):
        scan = cache.get(diff_ids[index], capture_key)
        if scan is None:
            return None
        scan.index = index
        scans.append(scan)
    builder = TreeBuilder(base)
    since = 0
    for scan in scans:
        builder.add(scan)
        if calculator is not None:
            calculator.add_layer(scan.entries)
            continue
        since += len(scan.entries)
        top = scan.index == len(diff_ids) - 1
        if not top and since >= STACK_MIN_ENTRIES and 2 * since >= builder.stacked_paths:
            cache.remember_stack(capture_key, diff_ids[: scan.index + 1], builder.snapshot())
            since = 0
    return builder.finish()


def analyze_image(
    source: ImageSource,
    *,
    want: Callable[[str], bool] | None = None,
    verify: bool = False,
    progress: Progress | None = None,
    cache: LayerCache | None = None,
    capture_key: str = "",
    efficiency: bool = True,
) -> ImageAnalysis:
    """Stream every layer of ``source`` once and build the image's analysis.

    ``want(path)`` selects files whose contents are kept (for the package inventory); ``verify`` checks
    every digest while streaming. Raises ``SourceError`` (and its subclasses) when the image cannot be
    read or does not hang together. With a ``cache`` (and ``capture_key`` naming what ``want`` keeps),
    an image whose every layer was scanned before is built without reading a byte of it, and layers
    whose diff id was computed while streaming are stored for next time. ``efficiency=False`` skips
    dive's score, which only ``inspect`` shows (a third of a cached rebuild): the analysis then says
    ``efficiency`` NaN (not computed), no wasted bytes and no inefficient paths.
    """
    image_config = source.config()
    descriptors: Sequence[LayerDescriptor] = source.layers()
    total = len(descriptors)
    if image_config.diff_ids and len(image_config.diff_ids) != total:
        raise SourceError(
            f"{source.ref}: the manifest lists {total} layers "
            f"but the config has {len(image_config.diff_ids)} diff ids"
        )
    builder = TreeBuilder()
    calculator = EfficiencyCalculator() if efficiency else None
    if cache is None:
        cached = None
    else:
        with paused_gc():
            cached = _from_cache(cache, image_config, capture_key, calculator)
    if cached is not None:
        if progress is not None:
            progress(total, total, 0)
        cached_ids: dict[int, str | None] = dict(enumerate(image_config.diff_ids))
        return _assemble(source.ref, image_config, descriptors, cached_ids, tree=cached, score=_score(calculator))
    pending: dict[int, LayerScan] = {}
    placed: set[int] = set()
    diff_ids: dict[int, str | None] = {}
    next_index = 0
    read_before = 0
    if progress is not None:
        progress(0, total, 0)

    for done, opened in enumerate(source.iter_layers(verify=verify)):
        descriptor = opened.descriptor
        label = f"{source.ref} layer {descriptor.index if descriptor.index >= 0 else done}"
        report = None if progress is None else (lambda count, done=done: progress(done, total, count))
        stream = _CountingStream(opened.stream, read_before, report)
        scan = scan_layer(stream, index=max(descriptor.index, 0), source=label, want=want)
        computed = opened.finish()
        position = _place(descriptor.index, computed or descriptor.diff_id, image_config, placed, source.ref)
        if position >= total or position in placed:
            raise SourceError(f"{source.ref}: layer {position} delivered twice or out of range")
        placed.add(position)
        scan.index = position
        scan.diff_id = computed or descriptor.diff_id
        if cache is not None and computed:
            cache.put(scan, capture_key)
        diff_ids[position] = scan.diff_id
        pending[position] = scan
        while next_index in pending:
            ready = pending.pop(next_index)
            builder.add(ready)
            if calculator is not None:
                calculator.add_layer(ready.entries)
            ready.entries = []  # the tree and the score have what they need
            next_index += 1
        read_before += stream.count
        if progress is not None:
            progress(done + 1, total, read_before)

    if next_index != total:
        missing = sorted(set(range(total)) - placed)
        raise SourceError(f"{source.ref}: layers {missing} were never delivered")
    tree = builder.finish()
    return _assemble(source.ref, image_config, descriptors, diff_ids, tree=tree, score=_score(calculator))


#: What an analysis says when dive's score was not asked for: not computed, rather than a made-up 1.0.
NOT_COMPUTED = Efficiency(score=float("nan"), wasted_bytes=0, inefficient=())


def _score(calculator: EfficiencyCalculator | None) -> Efficiency:
    return NOT_COMPUTED if calculator is None else calculator.result()


def _assemble(
    ref: str,
    image_config: ImageConfig,
    descriptors: Sequence[LayerDescriptor],
    diff_ids: dict[int, str | None],
    *,
    tree: FileTree,
    score: Efficiency,
) -> ImageAnalysis:
    created_by = aligned_history(image_config, len(descriptors))
    changes = tree.layer_changes
    shadowed = tree.shadowed_by_layer()
    layers = []
    for position, descriptor in enumerate(descriptors):
        change = changes[position]
        layers.append(
            LayerSummary(
                index=position,
                digest=descriptor.digest,
                diff_id=diff_ids.get(position) or descriptor.diff_id or _config_diff_id(image_config, position),
                size_bytes=tree.layer_sizes[position],
                compressed_bytes=descriptor.compressed_size,
                created_by=created_by[position],
                files_added=change.files_added,
                files_modified=change.files_modified,
                files_deleted=change.files_deleted,
                shadowed_bytes=shadowed.get(position, 0),
            )
        )
    return ImageAnalysis(
        ref=ref,
        image_config=image_config,
        layers=tuple(layers),
        tree=tree,
        size_bytes=sum(layer.size_bytes for layer in layers),
        visible_bytes=tree.visible_bytes,
        shadowed_bytes=tree.shadowed_bytes,
        efficiency=score.score,
        wasted_bytes=score.wasted_bytes,
        inefficient_paths=score.inefficient,
    )


def _config_diff_id(image_config: ImageConfig, position: int) -> str | None:
    return image_config.diff_ids[position] if position < len(image_config.diff_ids) else None

