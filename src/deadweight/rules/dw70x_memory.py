"""DW701 / DW702: a memory limit too tight for the observed peak, or far above it.

Needs observed memory (``audit --run``): the peak the engine reported while the service started and
answered its healthcheck. Without it the audit lists both rules as skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import SetMemoryLimit
from deadweight.rules.base import Rule, RuleContext
from deadweight.units import human_bytes

LOOSE_FACTOR = 4.0  # limit above 4x the peak (and 256 MB more): capacity paid for and never used
LOOSE_MIN_GAP = 256 << 20
HEADROOM = 1.5  # suggested limit = peak x 1.5, rounded up to 64 MiB (``fix`` takes FixSettings.memory_headroom)
LIMIT_STEP = 64 << 20


def suggested_limit(peak: int, headroom: float = HEADROOM) -> int:
    """The one headroom rule, for the hint and for ``fix``: ``peak x headroom`` rounded up to 64 MiB."""
    return -(-int(peak * headroom) // LIMIT_STEP) * LIMIT_STEP


def _set_limit(ctx: RuleContext, new: int) -> SetMemoryLimit:
    """The limit's line in the compose file, from where the project layer saw it (``compose.yaml:12``)."""
    file, line = ctx.service.compose_file, ctx.service.compose_line
    where = ctx.service.mem_limit_evidence
    if where and (parts := where.rpartition(":"))[2].isdigit():
        file, line = parts[0], int(parts[2])
    return SetMemoryLimit(ctx.service.name, new, ctx.service.memory_limit_bytes, peak_bytes=ctx.memory_peak_bytes,
                          file=file, line=line, end_line=line)


def _observed(ctx: RuleContext) -> list[Evidence]:
    assert ctx.memory_peak_bytes is not None
    limit = ctx.service.memory_limit_bytes
    return [
        Evidence("runtime", f"peak memory {human_bytes(ctx.memory_peak_bytes)}", ctx.memory_evidence),
        Evidence("deployment", f"memory limit {human_bytes(limit)}", ctx.service.mem_limit_evidence),
    ]


class TightMemoryLimit(Rule):
    id = "DW701"
    name = "MemoryLimitTooTight"
    title = "Memory limit tight for the observed peak"
    severity = Severity.MEDIUM
    description = "The compose memory limit leaves little headroom over the memory peak observed when the service ran."
    fix = "Raise the memory limit in the compose file."
    needs_run = True

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        limit, peak = ctx.service.memory_limit_bytes, ctx.memory_peak_bytes
        # the share is ``[run] tight-fraction`` (default 0.8: the peak leaves less than the 1.25x headroom that
        # keeps a traffic spike from an OOM kill)
        if limit is None or peak is None or peak < limit * ctx.config.run.tight_fraction:
            return []
        new = suggested_limit(peak)
        return [self.finding(ctx, title=f"Memory limit {human_bytes(limit)} is tight for a {human_bytes(peak)} peak",
                             evidence=_observed(ctx), estimated=False, remedy=[_set_limit(ctx, new)])]


class LooseMemoryLimit(Rule):
    id = "DW702"
    name = "MemoryLimitTooLoose"
    title = "Memory limit far above the observed peak"
    severity = Severity.LOW
    description = "The compose memory limit is far above the memory peak observed when the service ran."
    fix = "Lower the memory limit in the compose file."
    needs_run = True

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        limit, peak = ctx.service.memory_limit_bytes, ctx.memory_peak_bytes
        if limit is None or peak is None or limit < peak * LOOSE_FACTOR or limit - peak < LOOSE_MIN_GAP:
            return []
        new = suggested_limit(peak)
        return [self.finding(ctx, title=f"Memory limit {human_bytes(limit)} is far above the {human_bytes(peak)} peak",
                             evidence=_observed(ctx), estimated=False, remedy=[_set_limit(ctx, new)])]
