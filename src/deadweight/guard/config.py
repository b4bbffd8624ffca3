"""The ``[tool.deadweight.guard]`` table (pyproject.toml) or ``[guard]`` in ``.deadweight.toml``.

Budgets at the top of the table apply to every service; ``[tool.deadweight.guard.services.NAME]`` overrides
them for one service (a key set there replaces the top-level one; the ``rules``, ``classes`` and
``distributions`` tables merge key by key). ``[tool.deadweight.guard.fleet]`` holds budgets for the whole
fleet at once (``FLEET_KEYS``: its total size with shared layers counted once, its total dead weight).
Unknown keys, wrong types and waivers without an owner, a reason or an expiry date are ``ConfigError``
(exit 2), like the rest of the configuration.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from deadweight.config import Config, deadweight_table, normalize_table, parse_config
from deadweight.errors import ConfigError
from deadweight.guard.sizes import parse_count, parse_percent, parse_size
from deadweight.model.finding import Severity
from deadweight.model.inventory import BREAKDOWN_CLASSES

#: Size budgets (bytes) and count budgets, by key; both are "at most".
SIZE_KEYS = ("max-size", "max-compressed-size", "max-largest-layer", "max-dead-weight", "max-growth")
COUNT_KEYS = ("max-layers", "max-new-distributions")
PERCENT_KEYS = ("max-dead-weight-percent", "max-growth-percent")
TABLE_KEYS = ("rules", "classes", "distributions")
SERVICE_KEYS = frozenset((*SIZE_KEYS, *COUNT_KEYS, *PERCENT_KEYS, *TABLE_KEYS, "fail-on-new"))
TOP_KEYS = SERVICE_KEYS | {"services", "waivers", "fleet"}
#: Budgets of the ``fleet`` table: the fleet's size (shared layers once), its dead weight, and that as a share.
FLEET_KEYS = frozenset({"max-size", "max-dead-weight", "max-dead-weight-percent"})
WAIVER_KEYS = frozenset({"rule", "package", "service", "budget", "owner", "reason", "expires"})
RULE_ID = re.compile(r"^DW\d{1,3}$")
RULE_PREFIX = re.compile(r"^DW\d{0,3}$")


@dataclass(frozen=True)
class RuleBudget:
    """At most ``count`` findings of a rule, or (written with a unit) at most ``bytes`` of their savings."""

    count: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class Budgets:
    """Every budget that applies to one service; None means "no budget"."""

    sizes: Mapping[str, int] = field(default_factory=dict)  # SIZE_KEYS -> bytes
    counts: Mapping[str, int] = field(default_factory=dict)  # COUNT_KEYS -> count
    percents: Mapping[str, float] = field(default_factory=dict)  # PERCENT_KEYS -> percent
    rules: Mapping[str, RuleBudget] = field(default_factory=dict)  # rule id -> budget
    classes: Mapping[str, int] = field(default_factory=dict)  # breakdown class -> bytes
    distributions: Mapping[str, int] = field(default_factory=dict)  # canonical name or glob -> bytes
    fail_on_new: Severity | None = Severity.INFO  # new findings at or above this fail; None: report only

    def merged(self, other: Budgets, given: frozenset[str]) -> Budgets:
        """``self`` overridden by the keys ``other`` was given (``given``)."""
        return Budgets(
            sizes={**self.sizes, **other.sizes},
            counts={**self.counts, **other.counts},
            percents={**self.percents, **other.percents},
            rules={**self.rules, **other.rules},
            classes={**self.classes, **other.classes},
            distributions={**self.distributions, **other.distributions},
            fail_on_new=other.fail_on_new if "fail-on-new" in given else self.fail_on_new,
        )


@dataclass(frozen=True)
class Waiver:
    """An accepted violation: every selector given must match it; owner, reason and expiry are required."""

    owner: str
    reason: str
    expires: dt.date
    rule: str | None = None  # a rule id or prefix (DW1)
    package: str | None = None  # a canonical distribution name or a glob (nvidia-*)
    service: str | None = None
    budget: str | None = None  # a budget key: max-size, rules, classes.gpu, new-finding, ...
    index: int = 0  # position in the file, for messages

    def expired(self, today: dt.date) -> bool:
        """A waiver holds through its ``expires`` day and is expired from the day after."""
        return today > self.expires

    def matches(self, *, service: str, budget: str, rule: str | None, package: str | None) -> bool:
        if self.service is not None and self.service != service:
            return False
        if self.budget is not None and not (budget == self.budget or budget.startswith(self.budget + ".")):
            return False
        if self.rule is not None and (rule is None or not rule.startswith(self.rule)):
            return False
        return self.package is None or (package is not None and fnmatch.fnmatchcase(package, self.package))

    def describe(self) -> str:
        selectors = [f"{k}={v}" for k, v in (("service", self.service), ("budget", self.budget),
                                             ("rule", self.rule), ("package", self.package)) if v is not None]
        return f"waiver #{self.index + 1} ({', '.join(selectors)}; owner {self.owner}: {self.reason})"


@dataclass(frozen=True)
class GuardConfig:
    defaults: Budgets = field(default_factory=Budgets)
    services: Mapping[str, Budgets] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()
    fleet: Budgets | None = None  # the [guard.fleet] table: budgets for the fleet's totals
    source: str | None = None

    def budgets_for(self, service: str) -> Budgets:
        return self.services.get(service, self.defaults)



def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    return value


def _rule_budget(value: Any, where: str) -> RuleBudget:
    """An integer is a count of findings; a string is a size (bytes of the findings' savings)."""
    if isinstance(value, str):
        return RuleBudget(bytes=parse_size(value, where))
    return RuleBudget(count=parse_count(value, where))


def parse_budgets(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> tuple[Budgets, frozenset[str]]:
    data = normalize_table(table, allowed, where)
    sizes = {k: parse_size(data[k], f"{where}: {k}") for k in SIZE_KEYS if k in data}
    counts = {k: parse_count(data[k], f"{where}: {k}") for k in COUNT_KEYS if k in data}
    percents = {
        k: parse_percent(data[k], f"{where}: {k}", upper=100.0 if k == "max-dead-weight-percent" else None)
        for k in PERCENT_KEYS if k in data
    }
    rules: dict[str, RuleBudget] = {}
    for rule, value in _table(data.get("rules", {}), f"{where}: rules").items():
        if not RULE_ID.match(rule.upper()):
            raise ConfigError(f"{where}: rules: {rule!r} is not a rule id (e.g. DW101)")
        rules[rule.upper()] = _rule_budget(value, f"{where}: rules.{rule}")
    classes: dict[str, int] = {}
    for name, value in _table(data.get("classes", {}), f"{where}: classes").items():
        if name not in BREAKDOWN_CLASSES:
            raise ConfigError(f"{where}: classes: unknown class {name!r} (known: {', '.join(BREAKDOWN_CLASSES)})")
        classes[name] = parse_size(value, f"{where}: classes.{name}")
    dists: dict[str, int] = {}
    for name, value in _table(data.get("distributions", {}), f"{where}: distributions").items():
        key = name if any(c in name for c in "*?[") else str(canonicalize_name(name))
        dists[key.lower()] = parse_size(value, f"{where}: distributions.{name}")
    fail_on_new: Severity | None = Severity.INFO
    if "fail-on-new" in data:
        value = data["fail-on-new"]
        if not isinstance(value, str):
            raise ConfigError(f"{where}: fail-on-new must be a severity (info, low, medium, high) or none")
        try:
            fail_on_new = None if value.lower() == "none" else Severity.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: fail-on-new: {exc}") from None
    budgets = Budgets(sizes, counts, percents, rules, classes, dists, fail_on_new)
    return budgets, frozenset(data)


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def parse_waiver(table: Any, index: int, where: str) -> Waiver:
    here = f"{where}: waivers[{index}]"
    data = normalize_table(_table(table, here), WAIVER_KEYS, here)
    missing = [k for k in ("owner", "reason", "expires") if k not in data]
    if missing:
        raise ConfigError(f"{here}: a waiver needs {', '.join(missing)} (owner, reason and expires are required)")
    expires = data["expires"]
    if isinstance(expires, dt.datetime):
        expires = expires.date()
    elif isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires.strip())
        except ValueError:
            raise ConfigError(f"{here}: expires must be an ISO date (2026-03-31), got {expires!r}") from None
    if not isinstance(expires, dt.date):
        raise ConfigError(f"{here}: expires must be an ISO date (2026-03-31), got {expires!r}")
    selectors = {k: _text(data[k], k, here) for k in ("rule", "package", "service", "budget") if k in data}
    if not selectors:
        raise ConfigError(f"{here}: a waiver needs at least one of rule, package, service, budget")
    rule = selectors.get("rule")
    if rule is not None:
        rule = rule.upper()
        if not RULE_PREFIX.match(rule):
            raise ConfigError(f"{here}: rule {selectors['rule']!r} is not a rule id or prefix (e.g. DW101, DW3)")
    package = selectors.get("package")
    if package is not None and not any(c in package for c in "*?["):
        package = str(canonicalize_name(package))
    return Waiver(
        owner=_text(data["owner"], "owner", here),
        reason=_text(data["reason"], "reason", here),
        expires=expires,
        rule=rule,
        package=package.lower() if package else None,
        service=selectors.get("service"),
        budget=selectors.get("budget"),
        index=index,
    )


def parse_guard(table: Mapping[str, Any], where: str) -> GuardConfig:
    """Validate a ``[tool.deadweight.guard]`` table."""
    data = normalize_table(_table(table, f"{where}: guard"), frozenset(TOP_KEYS), f"{where} [guard]")
    top = {k: v for k, v in data.items() if k not in ("services", "waivers", "fleet")}
    defaults, _ = parse_budgets(top, SERVICE_KEYS, f"{where} [guard]")
    services: dict[str, Budgets] = {}
    for name, svc in _table(data.get("services", {}), f"{where} [guard.services]").items():
        here = f"{where} [guard.services.{name}]"
        own, given = parse_budgets(_table(svc, here), SERVICE_KEYS, here)
        services[name] = defaults.merged(own, given)
    raw_waivers = data.get("waivers", [])
    if not isinstance(raw_waivers, list):
        raise ConfigError(f"{where}: guard.waivers must be an array of tables ([[tool.deadweight.guard.waivers]])")
    waivers = tuple(parse_waiver(w, i, where) for i, w in enumerate(raw_waivers))
    fleet = None
    if "fleet" in data:
        fleet, _ = parse_budgets(_table(data["fleet"], f"{where} [guard.fleet]"), FLEET_KEYS, f"{where} [guard.fleet]")
    return GuardConfig(defaults=defaults, services=services, waivers=waivers, source=where, fleet=fleet)


def guarded_config(table: Any, path: Path) -> tuple[Config, GuardConfig]:
    """``[tool.deadweight]`` of ``path`` (``deadweight_table``'s answer) as the tool's settings and its guard
    table, from one read of the file."""
    return parse_config(table, str(path)), _guard_table(table, path)


def _guard_table(table: Any, path: Path) -> GuardConfig:
    guard = table.get("guard") if isinstance(table, Mapping) else None
    return GuardConfig(source=str(path)) if guard is None else parse_guard(guard, str(path))


def load_guard_config(start: Path | None = None, explicit: Path | None = None) -> GuardConfig:
    """The guard table of the file ``load_config`` would read (the same search, the same ``--config``)."""
    found = deadweight_table(start, explicit)
    if found is None:
        return GuardConfig()
    return _guard_table(*found)
