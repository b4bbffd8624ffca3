"""Configuration: defaults < ``[tool.deadweight]`` in pyproject.toml or ``.deadweight.toml`` < command line.

Unknown keys are usage errors (exit 2): a misspelt ignore that silently does nothing is worse than a failure.
Keys are written with dashes; underscores are accepted and mean the same.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from deadweight import safetoml
from deadweight.errors import ConfigError
from deadweight.model.cost import CostModel
from deadweight.model.finding import Severity

DEFAULT_TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
RULE_ID = re.compile(r"^DW\d{1,3}$")


@dataclass(frozen=True)
class RunSettings:
    """How ``--run`` starts containers to observe memory."""

    timeout_seconds: float = 30.0
    network: str = "none"


@dataclass(frozen=True)
class Config:
    fail_on: tuple[str, ...] = ("high",)  # severities and/or rule ids
    select: tuple[str, ...] = ()  # rule ids or prefixes; empty = every default rule
    ignore: tuple[str, ...] = ()
    per_package_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # package -> rule ids
    deployment_gpu: str = "auto"  # auto | true | false
    torch_cpu_index: str = DEFAULT_TORCH_CPU_INDEX
    cache_dir: str | None = None
    offline: bool = False
    cost: CostModel = field(default_factory=CostModel)
    run: RunSettings = field(default_factory=RunSettings)
    source: str | None = None  # file the settings came from, for messages

    def with_overrides(self, **changes: Any) -> Config:
        """Apply command-line values; ``None`` means "not given" and keeps the file's value."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def fail_severity(self) -> Severity | None:
        """The lowest severity that fails the run; None for ``none`` (report only) or rules only."""
        levels = [Severity.parse(v) for v in self.fail_on if not RULE_ID.match(v.upper()) and v.lower() != "none"]
        return min(levels) if levels else None

    def fail_rules(self) -> frozenset[str]:
        return frozenset(v.upper() for v in self.fail_on if RULE_ID.match(v.upper()))

    def rule_enabled(self, rule_id: str, *, default_on: bool = True) -> bool:
        if any(rule_id.startswith(p) for p in self.ignore):
            return False
        if self.select:
            return any(rule_id.startswith(p) for p in self.select)
        return default_on

    def package_ignored(self, rule_id: str, package: str | None) -> bool:
        if package is None:
            return False
        rules = self.per_package_ignores.get(package, ())
        return "*" in rules or any(rule_id.startswith(r) for r in rules)


_TOP_KEYS = {
    "fail-on", "select", "ignore", "per-package-ignores", "deployment-gpu", "torch-cpu-index", "cache-dir",
    "offline", "cost", "run", "guard",
    "verify",  # read and validated by verify/checks/user.py ([tool.deadweight.verify] commands, structure-tests)
}
_COST_KEYS = {"storage-per-gb-month", "transfer-per-gb", "pulls-per-month"}
_RUN_KEYS = {"timeout", "network"}


def normalize_table(table: Mapping[str, Any], allowed: Set[str], where: str) -> dict[str, Any]:
    """Keys with dashes (underscores accepted); an unknown key is a ``ConfigError`` naming the known ones."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        norm = key.replace("_", "-")
        if norm not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(allowed))})")
        out[norm] = value
    return out


def _str_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a string or a list of strings")
    return tuple(value)


def validate_rule_list(values: tuple[str, ...], key: str, where: str) -> tuple[str, ...]:
    out = []
    for value in values:
        upper = value.strip().upper()
        if not re.match(r"^DW\d{0,3}$", upper):
            raise ConfigError(f"{where}: {key}: {value!r} is not a rule id or prefix (e.g. DW201, DW2)")
        out.append(upper)
    return tuple(out)


def validate_fail_on(values: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Severities, rule ids, or ``none`` alone (never fail: report only)."""
    if any(v.lower() == "none" for v in values) and len(values) > 1:
        raise ConfigError(f"{where}: fail-on 'none' cannot be combined with other values")
    for value in values:
        if RULE_ID.match(value.upper()) or value.lower() == "none":
            continue
        try:
            Severity.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: fail-on: {exc}") from None
    return values


def parse_config(table: Mapping[str, Any], where: str) -> Config:
    """Validate a ``[tool.deadweight]`` table into a Config."""
    data = normalize_table(table, _TOP_KEYS, where)
    cfg = Config(source=where)
    changes: dict[str, Any] = {}
    if "fail-on" in data:
        changes["fail_on"] = validate_fail_on(_str_list(data["fail-on"], "fail-on", where), where)
    for key, attr in (("select", "select"), ("ignore", "ignore")):
        if key in data:
            changes[attr] = validate_rule_list(_str_list(data[key], key, where), key, where)
    if "per-package-ignores" in data:
        table_ppi = data["per-package-ignores"]
        if not isinstance(table_ppi, Mapping):
            raise ConfigError(f"{where}: per-package-ignores must be a table of package = [rule ids]")
        changes["per_package_ignores"] = {
            str(canonicalize_name(pkg)): _package_rules(rules, pkg, where) for pkg, rules in table_ppi.items()
        }
    if "deployment-gpu" in data:
        value = str(data["deployment-gpu"]).lower()
        if value not in ("auto", "true", "false"):
            raise ConfigError(f"{where}: deployment-gpu must be auto, true or false")
        changes["deployment_gpu"] = value
    for key, attr in (("torch-cpu-index", "torch_cpu_index"), ("cache-dir", "cache_dir")):
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise ConfigError(f"{where}: {key} must be a non-empty string")
            changes[attr] = data[key]
    if "offline" in data:
        if not isinstance(data["offline"], bool):
            raise ConfigError(f"{where}: offline must be true or false")
        changes["offline"] = data["offline"]
    if "cost" in data:
        cost = normalize_table(_table(data["cost"], "cost", where), _COST_KEYS, f"{where} [cost]")
        changes["cost"] = CostModel(
            storage_per_gb_month=_number(
                cost.get("storage-per-gb-month", CostModel.storage_per_gb_month), where
            ),
            transfer_per_gb=_number(cost.get("transfer-per-gb", CostModel.transfer_per_gb), where),
            pulls_per_month=int(_number(cost.get("pulls-per-month", CostModel.pulls_per_month), where)),
        )
    if "run" in data:
        run = normalize_table(_table(data["run"], "run", where), _RUN_KEYS, f"{where} [run]")
        changes["run"] = RunSettings(
            timeout_seconds=_number(run.get("timeout", RunSettings.timeout_seconds), where),
            network=str(run.get("network", RunSettings.network)),
        )
    return replace(cfg, **changes)


def _package_rules(value: Any, package: str, where: str) -> tuple[str, ...]:
    """Rule ids (or prefixes) ignored for one package; ``"*"`` ignores every rule for it."""
    values = _str_list(value, package, where)
    if "*" in values:
        return ("*",)
    return validate_rule_list(values, f"per-package-ignores.{package}", where)


def _table(value: Any, key: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key} must be a table")
    return value


#: The largest number a setting takes (prices, pulls, seconds): past it, or not finite, it is a config error.
MAX_SETTING_NUMBER = 1e12


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a non-negative number, got {value!r}")
    if isinstance(value, int) and value.bit_length() > 64:  # float() of a 400-digit int overflows
        raise ConfigError(f"{where}: number too large (at most {MAX_SETTING_NUMBER:g})")
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > MAX_SETTING_NUMBER:
        raise ConfigError(f"{where}: expected a finite number from 0 to {MAX_SETTING_NUMBER:g}, got {value!r}")
    return number


def find_config_file(start: Path) -> Path | None:
    """The nearest ``.deadweight.toml``, or ``pyproject.toml`` with a ``[tool.deadweight]`` table, at or above
    ``start`` (a directory or a file inside one)."""
    here = start if start.is_dir() else start.parent
    for directory in (here, *here.parents):
        dedicated = directory / ".deadweight.toml"
        if dedicated.is_file():
            return dedicated
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "deadweight" in _read_toml(pyproject).get("tool", {}):
            return pyproject
        if (directory / ".git").exists():
            break
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return safetoml.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def deadweight_table(start: Path | None = None, explicit: Path | None = None) -> tuple[Any, Path] | None:
    """The ``[tool.deadweight]`` table that applies to ``start`` (or of the file named with ``--config``), and
    the file it came from; None when no file applies. ``.deadweight.toml`` may hold the table at its top.
    Shared by ``load_config`` and the guard table's reader, so both read the same file the same way."""
    path = explicit if explicit is not None else (find_config_file(start) if start is not None else None)
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    doc = _read_toml(path)
    if path.name == ".deadweight.toml":
        return (doc.get("tool", {}).get("deadweight", doc) if "tool" in doc else doc), path
    return doc.get("tool", {}).get("deadweight", {}), path


def load_config(start: Path | None = None, explicit: Path | None = None) -> Config:
    """Load the configuration that applies to ``start`` (or the file named with ``--config``)."""
    found = deadweight_table(start, explicit)
    if found is None:
        return Config()
    table, path = found
    return parse_config(table, str(path))
