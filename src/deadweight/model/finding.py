"""Findings: what a rule says about a service, with evidence, the bytes a fix saves and the fix as edits."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from deadweight.model.remedy import Edit
from deadweight.model.usage import Confidence

__all__ = ["Confidence", "Evidence", "Finding", "Severity", "deduplicated_savings", "deduplicated_shares"]


class Severity(enum.IntEnum):
    """Ordered so that ``--fail-on medium`` means ``severity >= MEDIUM``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (info, low, medium, high)") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a finding holds: ``kind`` (import, cmd, record, layer, dockerfile, runtime ...), a detail, and
    where it was seen (``file:line``, a layer digest, an image path)."""

    kind: str
    detail: str
    location: str | None = None


@dataclass(frozen=True)
class Finding:
    """One thing a rule found in one service.

    ``claims`` maps a key for every byte-holding thing the saving counts (``file:<image path>``,
    ``shadow:<layer>:<path>``, ``context:<path>``) to its bytes, so that a total over several findings
    counts each byte once (see ``deduplicated_savings``). ``remedy`` is the fix as structured edits (see
    ``model/remedy.py``); ``fix`` is the hint rendered from it, or the rule's own text when no edit expresses
    the fix.
    """

    rule: str
    title: str
    service: str
    severity: Severity
    package: str | None = None
    path: str | None = None
    savings_bytes: int = 0
    estimated: bool = False
    confidence: Confidence = Confidence.HIGH
    evidence: tuple[Evidence, ...] = ()
    fix: str = ""
    claims: Mapping[str, int] = field(default_factory=dict)
    remedy: tuple[Edit, ...] = ()

    def sort_key(self) -> tuple[int, int, str, str, str]:
        return (-self.savings_bytes, -int(self.severity), self.rule, self.package or "", self.path or "")


def deduplicated_shares(findings: Iterable[Finding]) -> list[tuple[Finding, int]]:
    """Each finding, largest first, with the bytes it frees that no finding before it already counts: its
    saving minus the bytes of claims an earlier finding counted (never below zero; findings without claims
    count in full). The shares add up to ``deduplicated_savings``: what a treemap of the dead weight draws, so
    overlapping findings (a pip cache also shadowed by a later layer) hold their bytes once.
    """
    claimed: set[str] = set()
    shares = []
    for finding in sorted(findings, key=Finding.sort_key):  # stable: ties keep the order they came in
        overlap = sum(size for key, size in finding.claims.items() if key in claimed)
        shares.append((finding, max(0, finding.savings_bytes - overlap)))
        claimed.update(finding.claims)
    return shares


def deduplicated_savings(findings: Iterable[Finding]) -> int:
    """Total bytes saved by applying every finding, each byte counted once (the sum of
    ``deduplicated_shares``)."""
    return sum(share for _, share in deduplicated_shares(findings))
