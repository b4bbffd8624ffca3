"""Sizes as people write them in budgets: ``500MB``, ``1.5GiB``, ``"0"``, or a plain integer (bytes)."""

from __future__ import annotations

import re
from typing import Any

from deadweight.errors import ConfigError

_FACTORS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[a-zA-Z]*)\s*$")


def parse_size(value: Any, where: str) -> int:
    """Bytes from ``value``: a non-negative integer (bytes) or a string with a decimal (kB, MB, GB, TB) or
    binary (KiB, MiB, GiB, TiB) unit, case-insensitive. Fractions round to the nearest byte.
    Raises ``ConfigError`` naming ``where`` for anything else (negative, bool, unknown unit)."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a size such as 500MB or 1.5GiB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{where}: a size cannot be negative ({value})")
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            factor = _FACTORS.get(match["unit"].lower())
            if factor is not None:
                return round(float(match["number"]) * factor)
            known = "B, kB, MB, GB, TB, KiB, MiB, GiB, TiB"
            raise ConfigError(f"{where}: unknown size unit {match['unit']!r} in {value!r} (known: {known})")
    raise ConfigError(f"{where}: expected a size such as 500MB or 1.5GiB, got {value!r}")


def parse_count(value: Any, where: str) -> int:
    """A non-negative integer count (of findings, layers, distributions)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: expected a non-negative integer count, got {value!r}")
    return value


def parse_percent(value: Any, where: str, *, upper: float | None = 100.0) -> float:
    """A percentage (``5`` means 5%), from 0 to ``upper`` (None: no upper bound, for growth)."""
    bad = isinstance(value, bool) or not isinstance(value, int | float) or value < 0
    if bad or (upper is not None and value > upper):
        bound = f"between 0 and {upper:g}" if upper is not None else "of at least 0"
        raise ConfigError(f"{where}: expected a percentage {bound}, got {value!r}")
    return float(value)
