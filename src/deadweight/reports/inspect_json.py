"""``deadweight inspect --format json``: the versioned machine contract (``"schema": "deadweight/1"``).

Field names and meanings follow design.md and are only ever added to; ``schemas/inspect.schema.json``
describes the document and the tests validate against it. Sizes are integers in bytes, ``null`` when
unknown; every list has a fixed order so that two runs over the same image give identical output.

Sections that need more than the layer scan (``python`` with ``--packages``, ``breakdown`` with
``--breakdown``) are built by ``reports/packages.py`` and handed in as ``extras``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deadweight.model.analysis import ImageAnalysis
from deadweight.safetext import json_report

SCHEMA = "deadweight/1"
#: Digits kept of the efficiency score: enough to compare with dive, stable across platforms.
EFFICIENCY_DIGITS = 6


def render(analysis: ImageAnalysis, extras: Mapping[str, Any] | None = None, *, top: int = 20) -> str:
    """The report as pretty-printed JSON, newline-terminated."""
    return json_report(to_dict(analysis, extras, top=top))


def to_dict(analysis: ImageAnalysis, extras: Mapping[str, Any] | None = None, *, top: int = 20) -> dict[str, Any]:
    """The JSON document as plain data. ``extras`` adds top-level sections; it may not replace core fields."""
    image_config = analysis.image_config
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "command": "inspect",
        "ref": analysis.ref,
        "config_digest": image_config.digest,
        "platform": str(image_config.platform),
        "size_bytes": analysis.size_bytes,
        "compressed_bytes": analysis.compressed_bytes,
        "visible_bytes": analysis.visible_bytes,
        "shadowed_bytes": analysis.shadowed_bytes,
        "efficiency": round(analysis.efficiency, EFFICIENCY_DIGITS),
        "wasted_bytes": analysis.wasted_bytes,
        "file_count": analysis.file_count,
        "layers": [
            {
                "index": layer.index,
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "size_bytes": layer.size_bytes,
                "compressed_bytes": layer.compressed_bytes,
                "created_by": layer.created_by,
                "files_added": layer.files_added,
                "files_modified": layer.files_modified,
                "files_deleted": layer.files_deleted,
                "shadowed_bytes": layer.shadowed_bytes,
            }
            for layer in sorted(analysis.layers, key=lambda layer: layer.index)
        ],
        "largest_paths": [
            {"path": "/" + item.path, "size_bytes": item.size_bytes} for item in analysis.largest_files(top)
        ],
        "largest_dirs": [
            {"path": "/" + item.path, "size_bytes": item.size_bytes} for item in analysis.largest_dirs(top)
        ],
        "shadowed_paths": [
            {
                "path": "/" + item.path,
                "size_bytes": item.size_bytes,
                "layers": list(item.layers),
                "hidden_by": list(item.hidden_by),
            }
            for item in analysis.top_shadowed(top)
        ],
        "inefficient_paths": [
            {"path": "/" + item.path, "cumulative_bytes": item.cumulative_bytes, "occurrences": item.occurrences}
            for item in analysis.inefficient_paths[:top]
        ],
    }
    for key, value in (extras or {}).items():
        if key in doc:
            raise ValueError(f"extra section {key!r} would replace a core field of the inspect report")
        doc[key] = value
    return doc


def _abs(path: str) -> str:
    return path if path.startswith("/") else "/" + path
