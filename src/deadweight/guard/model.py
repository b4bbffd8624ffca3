"""What ``deadweight guard`` decided: one ``Check`` per budget per service, with every figure a report shows.

Reporters render this and compute nothing; ``evaluate`` fills it in.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Status(enum.Enum):
    PASS = "pass"  # within budget
    FAIL = "fail"  # over budget (or a new finding, or a waiver that expired)
    WAIVED = "waived"  # over budget, accepted by an unexpired waiver
    NOT_CHECKED = "not_checked"  # the budget needs data this run did not have


class Unit(enum.Enum):
    BYTES = "bytes"
    COUNT = "count"
    PERCENT = "percent"


@dataclass(frozen=True)
class FindingRef:
    """A finding as the guard matches it: rule + service + package/path, never by its savings."""

    rule: str
    service: str
    package: str | None
    path: str | None
    title: str
    severity: str
    savings_bytes: int
    estimated: bool

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.rule, self.service, self.package or "", self.path or "")

    @property
    def subject(self) -> str | None:
        return self.package or self.path


@dataclass(frozen=True)
class WaiverRef:
    owner: str
    reason: str
    expires: dt.date
    description: str
    expired: bool


@dataclass(frozen=True)
class Check:
    """One budget applied to one service.

    ``budget`` is the stable key (``max-size``, ``rules.DW101``, ``classes.gpu``, ``distributions.nvidia-*``,
    ``max-growth``, ``new-finding``); ``message`` is the one line a person reads.
    """

    budget: str
    service: str
    status: Status
    message: str
    unit: Unit
    limit: float | None = None
    actual: float | None = None
    estimated: bool = False
    rule: str | None = None
    package: str | None = None
    finding: FindingRef | None = None
    waiver: WaiverRef | None = None
    reason: str | None = None  # why it was not checked


@dataclass(frozen=True)
class Growth:
    """The service against the same service in the baseline."""

    baseline_bytes: int | None
    current_bytes: int | None
    comparable: bool
    reason: str | None = None  # why not comparable (service not in baseline, static vs measured, unknown size)

    @property
    def bytes(self) -> int | None:
        if not self.comparable or self.baseline_bytes is None or self.current_bytes is None:
            return None
        return self.current_bytes - self.baseline_bytes

    @property
    def percent(self) -> float | None:
        grown = self.bytes
        if grown is None or not self.baseline_bytes:
            return None
        return 100.0 * grown / self.baseline_bytes


@dataclass(frozen=True)
class Facts:
    """The figures budgets are checked against; None where this run could not know them."""

    size_bytes: int | None
    compressed_bytes: int | None
    largest_layer_bytes: int | None
    layer_count: int | None
    dead_weight_bytes: int
    breakdown: Mapping[str, int] | None
    distributions: Mapping[str, int] | None  # canonical name -> bytes (summed over environments)
    estimated: bool  # static mode: sizes estimated from index metadata
    notes: tuple[str, ...] = ()  # why a figure is missing

    @property
    def dead_weight_percent(self) -> float | None:
        if not self.size_bytes:
            return None
        return 100.0 * self.dead_weight_bytes / self.size_bytes


@dataclass(frozen=True)
class ServiceVerdict:
    name: str
    image: str | None
    mode: str  # "image" | "static"
    error: str | None  # the service could not be audited
    facts: Facts | None
    checks: tuple[Check, ...] = ()
    findings: tuple[FindingRef, ...] = ()  # every finding of this run
    known_findings: tuple[FindingRef, ...] = ()  # of those, the ones the baseline already had
    growth: Growth | None = None  # None without a baseline
    new_distributions: tuple[tuple[str, int], ...] | None = None  # None: not known (no baseline list)

    @property
    def status(self) -> Status:
        if any(c.status is Status.FAIL for c in self.checks):
            return Status.FAIL
        if self.error or any(c.status is Status.NOT_CHECKED for c in self.checks):
            return Status.NOT_CHECKED
        return Status.PASS


#: The ``service`` of a fleet budget's checks: no compose service can be named so (names are [a-zA-Z0-9._-]).
FLEET = "(fleet)"


@dataclass(frozen=True)
class FleetVerdict:
    """The fleet's totals and its ``[guard.fleet]`` budgets (checks of service ``FLEET``, budgets
    ``fleet.max-size`` ...). ``size_bytes`` counts a layer shared by several images once (a service without
    layers, a static estimate, counts its own size); ``summed_bytes`` is the plain sum of the services' sizes;
    ``dead_weight_bytes`` sums the services' dead weight. All None when a service could not be audited or
    checked (``reason``): a total missing a service is no total."""

    size_bytes: int | None
    summed_bytes: int | None
    dead_weight_bytes: int | None
    estimated: bool  # some service's size is a static estimate
    checks: tuple[Check, ...] = ()
    reason: str | None = None

    @property
    def dead_weight_percent(self) -> float | None:
        """Dead weight as a share of the summed sizes (dead weight, too, is summed service by service)."""
        if self.dead_weight_bytes is None or not self.summed_bytes:
            return None
        return 100.0 * self.dead_weight_bytes / self.summed_bytes


@dataclass(frozen=True)
class GuardVerdict:
    root: str
    services: tuple[ServiceVerdict, ...]
    today: dt.date
    baseline: str | None = None  # path of the baseline report
    baseline_schema: str | None = None
    config_source: str | None = None
    allow_unchecked: bool = False
    notes: tuple[str, ...] = ()  # unused or expired waivers that matched nothing, baseline warnings
    warnings: tuple[str, ...] = field(default_factory=tuple)
    fleet: FleetVerdict | None = None  # None: no [guard.fleet] budgets

    @property
    def checks(self) -> tuple[Check, ...]:
        """Every check: the services', then the fleet's."""
        fleet = self.fleet.checks if self.fleet is not None else ()
        return (*(c for s in self.services for c in s.checks), *fleet)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    @property
    def status(self) -> Status:
        """FAIL when a budget is over (whatever else happened); else NOT_CHECKED when a service could not be
        audited or a budget could not be checked (unless allowed); else PASS."""
        if self.count(Status.FAIL):
            return Status.FAIL
        if any(s.error for s in self.services):
            return Status.NOT_CHECKED
        if self.count(Status.NOT_CHECKED) and not self.allow_unchecked:
            return Status.NOT_CHECKED
        return Status.PASS
