"""DW303: bytes stored in a layer that a later layer deletes or overwrites.

A file removed in a later RUN still ships in the earlier layer: every pull downloads it and every node
stores it. The bytes are exact (from the merged tree); the fix is to create and delete in one RUN, or to
build in a stage that is not shipped.
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.model.finding import Finding, Severity
from deadweight.rules.base import Rule, RuleContext
from deadweight.rules.layers import layer_evidence
from deadweight.units import human_bytes

#: Below this, shadowing is noise (a config file rewritten, a timestamp touched).
MIN_SHADOWED_BYTES = 1 << 20


class ShadowedBytes(Rule):
    id = "DW303"
    name = "ShadowedLayerBytes"
    title = "Bytes shadowed by later layers"
    severity = Severity.LOW
    description = (
        "Files written by one layer and deleted or overwritten by a later one still ship in the earlier "
        "layer."
    )
    fix = "Create and delete in one RUN, or use a multi-stage build."
    needs_image = True

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        analysis = ctx.analysis
        if analysis is None or analysis.shadowed_bytes < MIN_SHADOWED_BYTES:
            return []
        claims = {f"shadow:{s.layer}:{s.path}": s.size for s in analysis.tree.shadowed}
        pairs: dict[tuple[int, int], int] = {}
        for item in analysis.tree.shadowed:
            pairs[(item.layer, item.hidden_by)] = pairs.get((item.layer, item.hidden_by), 0) + item.size
        evidence = [
            layer_evidence(analysis, layer, f"{human_bytes(size)} hidden by layer {hidden_by}")
            for (layer, hidden_by), size in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        ]
        top = analysis.top_shadowed(5)
        evidence += [
            layer_evidence(analysis, p.layers[0], f"{p.path}: {human_bytes(p.size_bytes)} shadowed") for p in top
        ]
        return [
            self.finding(
                ctx,
                title=f"{human_bytes(analysis.shadowed_bytes)} in layers are deleted or overwritten later",
                path=top[0].path if top else None,
                savings_bytes=analysis.shadowed_bytes,
                estimated=False,
                evidence=evidence,
                fix="Create and remove files in the same RUN, or do the work in a build stage and COPY the result.",
                claims=claims,
            )
        ]
