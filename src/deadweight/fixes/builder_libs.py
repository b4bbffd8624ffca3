"""The runtime OS packages a final stage still needs once the toolchain moved to a builder stage.

Static: from the -dev packages (and compilers) the toolchain install named, through the [dev] and
[toolchain] tables of data/runtime_libs.toml. The [soname] table maps an extension's DT_NEEDED sonames to
packages, for the measured case (reading DT_NEEDED from an image is not done here yet).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from deadweight.inventory.ospackages import is_toolchain

__all__ = ["Family", "RuntimeLibs", "release", "runtime_for_installed", "soname_package"]

Family = Literal["debian", "alpine"]
_COLUMN = {"debian": 0, "alpine": 1}
_VERSIONED = re.compile(r"^(?P<name>[a-z+]+?)-\d+(\.\d+)*$")  # gcc-12, g++-12, clang-16


@dataclass(frozen=True)
class RuntimeLibs:
    """What the final stage installs instead of the toolchain."""

    packages: tuple[str, ...]  # runtime packages, in the order first needed
    kept: tuple[str, ...]  # -dev packages with no runtime package known: kept in the final stage as written
    dropped: tuple[str, ...]  # toolchain packages that need nothing at runtime


@cache
def _tables() -> dict[str, object]:
    text = resources.files("deadweight.data").joinpath("runtime_libs.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _table(name: str) -> dict[str, list[str]]:
    raw = _tables().get(name, {})
    assert isinstance(raw, dict)
    return raw


def release(family: Family) -> str:
    value = _tables().get("release", {})
    assert isinstance(value, dict)
    return str(value.get(family, ""))


def _lookup(table: dict[str, list[str]], name: str, family: Family) -> list[str] | None:
    row = table.get(f"{name}:{family}") or table.get(name)
    if row is None:
        return None
    return row[_COLUMN[family]].split()


def soname_package(soname: str, family: Family) -> str | None:
    """The package that ships ``soname`` (``libpq.so.5`` -> ``libpq5``), or None when unknown."""
    found = _lookup(_table("soname"), soname, family)
    return found[0] if found else None


def _bare(spec: str) -> str:
    """``gcc=4:12.2.0-3`` / ``libpq-dev:amd64`` / ``gcc~=12`` -> the package name."""
    return re.split(r"[=:<>~]", spec, maxsplit=1)[0]


def runtime_for_installed(specs: tuple[str, ...] | list[str], family: Family) -> RuntimeLibs:
    """For the toolchain packages of an install (as written), the runtime packages the final stage needs."""
    packages: list[str] = []
    kept: list[str] = []
    dropped: list[str] = []
    dev, tools = _table("dev"), _table("toolchain")
    for spec in specs:
        name = _bare(spec)
        if not is_toolchain(name):
            continue
        versioned = _VERSIONED.match(name)
        found = _lookup(tools, name, family)
        if found is None and versioned:
            found = _lookup(tools, versioned.group("name"), family)
        if found is None:
            found = _lookup(dev, name, family)
        if found is None:
            if name.endswith(("-dev", "-headers")):
                kept.append(spec)
                continue
            found = []  # compilers, binutils, make, cmake, pkg-config: nothing at runtime
        if not found:
            dropped.append(name)
        for pkg in found:
            if pkg not in packages:
                packages.append(pkg)
    return RuntimeLibs(tuple(packages), tuple(kept), tuple(dropped))
