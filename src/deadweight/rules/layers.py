"""Helpers the layer-level rules share: describing layers and the Dockerfile steps behind them."""

from __future__ import annotations

from deadweight.model.analysis import ImageAnalysis
from deadweight.model.finding import Evidence


def layer_label(analysis: ImageAnalysis, index: int, width: int = 80) -> str:
    """``layer 3 (RUN pip install ...)`` — the way users recognise a layer."""
    created = analysis.layers[index].created_by.strip() if 0 <= index < len(analysis.layers) else ""
    created = created.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ")
    if len(created) > width:
        created = created[: width - 3] + "..."
    return f"layer {index} ({created})" if created else f"layer {index}"


def layer_evidence(analysis: ImageAnalysis, index: int, detail: str) -> Evidence:
    digest = analysis.layers[index].diff_id if 0 <= index < len(analysis.layers) else None
    return Evidence("layer", f"{layer_label(analysis, index)}: {detail}", digest)
