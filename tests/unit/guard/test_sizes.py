from __future__ import annotations

from typing import Any

import pytest

from deadweight.errors import ConfigError
from deadweight.guard.sizes import parse_count, parse_percent, parse_size


@pytest.mark.parametrize(("text", "expected"), [
    (0, 0),
    (1234, 1234),
    ("0", 0),
    ("500MB", 500_000_000),
    ("500 MB", 500_000_000),
    ("500mb", 500_000_000),
    ("1.5GiB", 1_610_612_736),
    ("2kB", 2000),
    ("3KiB", 3072),
    ("1TB", 10**12),
    ("10B", 10),
    ("0.5MiB", 524_288),
    ("1.0000001B", 1),
])
def test_sizes_with_units(text: Any, expected: int) -> None:
    assert parse_size(text, "here") == expected


@pytest.mark.parametrize("bad", [-1, True, "", "MB", "5 parsecs", "1,5GB", "-3MB", 1.5, [1], None, "1e9"])
def test_bad_sizes_name_where(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"^guard\.max-size: "):
        parse_size(bad, "guard.max-size")


def test_unknown_unit_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown size unit 'XB'.*MiB"):
        parse_size("5XB", "w")


def test_counts_and_percents() -> None:
    assert parse_count(3, "w") == 3
    for bad in (-1, 1.0, "3", False):
        with pytest.raises(ConfigError):
            parse_count(bad, "w")
    assert parse_percent(5, "w") == 5.0
    assert parse_percent(250, "w", upper=None) == 250.0
    for bad in (-0.1, 101, "5%", True):
        with pytest.raises(ConfigError):
            parse_percent(bad, "w")
