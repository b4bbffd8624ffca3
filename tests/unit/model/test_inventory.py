"""Figures the package view shows, computed once on the inventory model."""

from __future__ import annotations

from deadweight.model.inventory import (
    BREAKDOWN_CLASSES,
    Distribution,
    Inventory,
    OsPackage,
    PythonEnvironment,
)


def _dist(name: str, size: int) -> Distribution:
    return Distribution(name, name, "1.0", f"site/{name}-1.0.dist-info", "site", size_bytes=size)


def test_environment_size_counts_distributions_and_orphans() -> None:
    env = PythonEnvironment(
        "site", "system", "3.11", distributions=(_dist("a", 300), _dist("b", 50)), orphan_bytes=7
    )
    assert env.distribution_bytes == 350
    assert env.size_bytes == 357
    assert PythonEnvironment("empty", "venv", None).size_bytes == 0


def test_os_package_and_toolchain_totals() -> None:
    inventory = Inventory(
        os_packages=(
            OsPackage("gcc-12", "12.2", "dpkg", size_bytes=40_000, is_toolchain=True),
            OsPackage("libc6", "2.36", "dpkg", size_bytes=12_000),
            OsPackage("make", "4.3", "dpkg", size_bytes=1_500, is_toolchain=True),
        )
    )
    assert inventory.os_package_bytes == 53_500
    assert [p.name for p in inventory.toolchain_packages] == ["gcc-12", "make"]
    assert inventory.toolchain_bytes == 41_500


def test_breakdown_in_documented_order_then_unknown_keys_sorted() -> None:
    inventory = Inventory(breakdown={"zeta": 1, "other": 5, "gpu": 10, "alpha": 2, "caches": 3})
    ordered = inventory.ordered_breakdown()
    assert list(ordered) == ["gpu", "caches", "other", "alpha", "zeta"]
    assert ordered == inventory.breakdown
    assert inventory.breakdown_bytes == 21
    assert BREAKDOWN_CLASSES.index("gpu") < BREAKDOWN_CLASSES.index("caches") < BREAKDOWN_CLASSES.index("other")
