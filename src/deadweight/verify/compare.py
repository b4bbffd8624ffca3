"""Compare two images from the images themselves, read by deadweight's own reader (``pipeline.analyze`` and the
inventory): total size, largest layer, the per-layer table with the instruction that made each layer, what
distributions left, stayed and came in, bytes per class, compressed size, and the audit's dead weight.

Compressed size is what a registry stores and a pull transfers: the stored blob sizes when the source knows them
(a registry, an OCI layout), else measured by gzip-compressing each layer's tar stream chunk by chunk (bounded
memory). With isal (a dependency) at its level 3, about ten times faster than zlib's level 6 here; its gzip comes
out some percent larger than the level 6 ``docker push`` writes, so a measured figure errs high, never low. Without
isal, zlib at level 6. Each distinct layer is measured once per run (``CompressedSizes`` remembers them by diff
id).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deadweight.model.analysis import ImageAnalysis, LayerSummary
from deadweight.model.inventory import Inventory
from deadweight.model.verification import (
    ClassChange,
    DistributionChange,
    ImageComparison,
    ImageFigures,
    LayerRow,
)
from deadweight.sources.base import ImageSource

__all__ = ["CompressedSizes", "ImageReading", "compare", "figures", "gzip_size"]

#: Read a layer's tar this much at a time while compressing it.
CHUNK = 1 << 20
#: gzip's default level, what ``docker push`` uses for classic layers; isal's highest is 3.
GZIP_LEVEL = 6
ISAL_LEVEL = 3


def _compressor() -> Any:
    try:
        from isal import isal_zlib  # noqa: PLC0415 - optional speed-up
    except ImportError:
        return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    return isal_zlib.compressobj(ISAL_LEVEL, isal_zlib.DEFLATED, 31)


def gzip_size(read: Callable[[int], bytes]) -> int:
    """Bytes of the gzip stream of what ``read`` yields, compressed chunk by chunk (bounded memory)."""
    compressor = _compressor()
    total = 0
    while chunk := read(CHUNK):
        total += len(compressor.compress(chunk))
    return total + len(compressor.flush())


def _stored_compressed(layer: LayerSummary) -> int | None:
    """The stored blob size when it is a compressed blob: a blob whose digest is the diff id is the plain tar
    (``docker save``), whose size says nothing about what a registry would store."""
    if layer.compressed_bytes is None or layer.digest is None or layer.digest == layer.diff_id:
        return None
    return layer.compressed_bytes


@dataclass
class CompressedSizes:
    """Compressed size of each distinct layer, measured at most once per run (base layers are shared)."""

    by_diff_id: dict[str, int] = field(default_factory=dict)

    def of(self, open_image: Callable[[], ImageSource], analysis: ImageAnalysis) -> list[int | None]:
        """Per layer of ``analysis`` (bottom first): the stored blob size when the source knows it, else the
        measured gzip size. Opens the image (``open_image``) and streams it only when some layer is neither
        stored compressed nor measured already."""
        known = [_stored_compressed(layer) for layer in analysis.layers]
        missing = {
            i
            for i, size in enumerate(known)
            if size is None and (analysis.layers[i].diff_id or "") not in self.by_diff_id
        }
        if missing:
            with open_image() as source:
                self._measure(source, analysis, known)
        return [
            size if size is not None else self.by_diff_id.get(layer.diff_id or "")
            for size, layer in zip(known, analysis.layers, strict=True)
        ]

    def _measure(self, source: ImageSource, analysis: ImageAnalysis, known: list[int | None]) -> None:
        for opened in source.iter_layers():
            index = opened.descriptor.index
            cached = self.by_diff_id.get(opened.descriptor.diff_id or "") if index >= 0 else None
            if cached is not None:  # a layer measured for another image of this run: not compressed again
                opened.finish()
                if known[index] is None:
                    known[index] = cached
                continue
            try:
                size = gzip_size(opened.stream.read)
            finally:
                computed = opened.finish()
            diff_id = computed or opened.descriptor.diff_id
            if index < 0:  # a docker save stream: placed by the diff id computed while reading it
                index = next((i for i, layer in enumerate(analysis.layers) if layer.diff_id == diff_id), -1)
            elif not diff_id:
                diff_id = analysis.layers[index].diff_id
            if diff_id:
                self.by_diff_id[diff_id] = size
            if 0 <= index < len(known) and known[index] is None:
                known[index] = size


@dataclass(frozen=True)
class ImageReading:
    """One image as read: the analysis, its inventory, per-layer compressed sizes and the audit's figures."""

    analysis: ImageAnalysis
    inventory: Inventory
    compressed: Sequence[int | None]
    dead_weight_bytes: int
    findings: int


def figures(reading: ImageReading) -> ImageFigures:
    analysis = reading.analysis
    rows = tuple(
        LayerRow(
            index=layer.index, size_bytes=layer.size_bytes, compressed_bytes=compressed, created_by=layer.created_by
        )
        for layer, compressed in zip(analysis.layers, reading.compressed, strict=True)
    )
    sizes = [row.compressed_bytes for row in rows]
    return ImageFigures(
        ref=analysis.ref,
        size_bytes=analysis.size_bytes,
        compressed_bytes=None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None),
        largest_layer_bytes=max((row.size_bytes for row in rows), default=0),
        layers=rows,
        dead_weight_bytes=reading.dead_weight_bytes,
        findings=reading.findings,
    )


_ORDER = {"removed": 0, "added": 1, "changed": 2, "kept": 3}


def compare(before: ImageReading, after: ImageReading) -> ImageComparison:
    """The comparison of two readings: figures, the distribution diff (removed, added, changed, kept; biggest
    first within each) and bytes per breakdown class."""
    old = {d.name: d for d in before.inventory.distributions()}
    new = {d.name: d for d in after.inventory.distributions()}
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a is None:
            kind = "added"
        elif b is None:
            kind = "removed"
        elif a.version != b.version:
            kind = "changed"
        else:
            kind = "kept"
        changes.append(
            DistributionChange(
                name=name,
                change=kind,  # type: ignore[arg-type]
                before_version=a.version if a else None,
                after_version=b.version if b else None,
                before_bytes=a.size_bytes if a else 0,
                after_bytes=b.size_bytes if b else 0,
            )
        )
    changes.sort(key=lambda c: (_ORDER[c.change], -max(c.before_bytes, c.after_bytes), c.name))
    old_classes, new_classes = before.inventory.ordered_breakdown(), after.inventory.ordered_breakdown()
    names = list(dict.fromkeys([*old_classes, *new_classes]))
    classes = tuple(
        ClassChange(dist_class=n, before_bytes=old_classes.get(n, 0), after_bytes=new_classes.get(n, 0)) for n in names
    )
    return ImageComparison(before=figures(before), after=figures(after), distributions=tuple(changes), classes=classes)
