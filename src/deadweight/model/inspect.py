"""The result of ``deadweight inspect``: the image's analysis and, when asked for, its package inventory and
what a project really uses of it. Reporters render this; the library returns it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deadweight.model.analysis import ImageAnalysis
from deadweight.model.inventory import Inventory
from deadweight.model.usage import Verdict


@dataclass(frozen=True)
class InspectResult:
    analysis: ImageAnalysis  # layers, merged tree, byte accounting, efficiency
    inventory: Inventory | None = None  # with packages / breakdown / project
    verdicts: Mapping[str, Verdict] | None = None  # with a project: one verdict per distribution name
