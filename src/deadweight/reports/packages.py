"""The package view of an image: environments, distributions, OS packages and the byte breakdown.

Two renderings of one ``Inventory``: :func:`to_dict` (JSON-ready, integers in bytes, absolute paths,
every list sorted) and :func:`render` (rich text as a string, never printed here). The inspect report
carries a summary of the same data; this is the detailed view, with requirements, entry points,
framework builds and their evidence, and warnings. Computes nothing: sizes come from the inventory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from deadweight.model.inventory import Distribution, Inventory, OsPackage, PythonEnvironment
from deadweight.model.usage import Verdict
from deadweight.reports.formatting import render_console
from deadweight.safetext import printable
from deadweight.units import human_bytes, percent


def _safe(text: str) -> Text:
    """Image-provided text (names, versions, paths, warnings) as one printable line."""
    return Text(printable(text))


def used_by(verdict: Verdict | None) -> str:
    """One cell: the verdict and its first piece of evidence (``used: import (app/main.py:3)``)."""
    if verdict is None:
        return ""
    first = verdict.evidence[0] if verdict.evidence else None
    if first is not None:
        return f"{verdict.status.value}: {first.kind.value} {first.target or first.detail} ({first.location})"
    if verdict.via:
        return f"{verdict.status.value}: by {', '.join(verdict.via[:3])}"
    return f"{verdict.status.value}: {verdict.reason}" if verdict.reason else verdict.status.value


def _verdict_dict(verdict: Verdict) -> dict[str, Any]:
    return {
        "status": verdict.status.value,
        "confidence": verdict.confidence.value,
        "via": list(verdict.via),
        "reason": verdict.reason,
        "evidence": [e.as_json() for e in sorted(verdict.evidence, key=lambda e: e.sort_key())],
    }


def _abs(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def to_dict(
    inventory: Inventory, *, files: bool = False, verdicts: Mapping[str, Verdict] | None = None
) -> dict[str, Any]:
    """JSON form. ``files`` adds every owned file, missing file and orphan (large for CUDA images);
    ``verdicts`` (from ``--project``) adds each distribution's verdict with all its evidence."""
    return {
        "environments": [
            _environment(env, files=files, verdicts=verdicts)
            for env in sorted(inventory.environments, key=lambda e: e.path)
        ],
        "os_packages": [
            _os_package(pkg, files=files)
            for pkg in sorted(inventory.os_packages, key=lambda p: (p.manager, p.name, p.version))
        ],
        "breakdown": breakdown_dict(inventory),
        "warnings": sorted(inventory.warnings),
    }


def breakdown_dict(inventory: Inventory) -> dict[str, int]:
    """Bytes per class in the documented class order, then any other keys sorted."""
    return inventory.ordered_breakdown()


def _environment(
    env: PythonEnvironment, *, files: bool, verdicts: Mapping[str, Verdict] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": _abs(env.path),
        "kind": env.kind,
        "python_version": env.python_version,
        "prefix": None if env.prefix is None else _abs(env.prefix),
        "base_environments": [_abs(p) for p in env.base_environments],
        "size_bytes": env.size_bytes,
        "orphan_bytes": env.orphan_bytes,
        "orphan_count": len(env.orphan_files),
        "distributions": [
            _distribution(d, files=files, verdict=(verdicts or {}).get(d.name))
            for d in sorted(env.distributions, key=lambda d: (d.name, d.version, d.metadata_path))
        ],
        "warnings": sorted(env.warnings),
    }
    if files:
        out["orphan_files"] = [_abs(p) for p in sorted(env.orphan_files)]
    return out


def _distribution(dist: Distribution, *, files: bool, verdict: Verdict | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": dist.name,
        "display_name": dist.display_name,
        "version": dist.version,
        "size_bytes": dist.size_bytes,
        "exclusive_bytes": dist.exclusive_bytes,
        "pycache_bytes": dist.pycache_bytes,
        "class": dist.dist_class.value,
        "requested": dist.requested,
        "build": dist.build,
        "build_evidence": list(dist.build_evidence),
        "installer": dist.installer,
        "direct_url": dist.direct_url,
        "metadata_path": _abs(dist.metadata_path),
        "import_names": sorted(dist.import_names),
        "requires": [
            {
                "name": r.name,
                "specifier": r.specifier,
                "extras": sorted(r.extras),
                "marker": r.marker,
                "extra": r.extra,
                "active": r.active,
            }
            for r in sorted(dist.requires, key=lambda r: (r.name, r.extra or "", r.marker or ""))
        ],
        "entry_points": [
            {"group": ep.group, "name": ep.name, "value": ep.value}
            for ep in sorted(dist.entry_points, key=lambda e: (e.group, e.name))
        ],
        "file_count": len(dist.files),
        "missing_count": len(dist.missing_files),
        "warnings": sorted(dist.warnings),
    }
    if verdict is not None:
        out["verdict"] = _verdict_dict(verdict)
    if files:
        out["files"] = [_abs(p) for p in sorted(dist.files)]
        out["missing_files"] = [_abs(p) for p in sorted(dist.missing_files)]
    return out


def _os_package(pkg: OsPackage, *, files: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": pkg.name,
        "version": pkg.version,
        "manager": pkg.manager,
        "size_bytes": pkg.size_bytes,
        "toolchain": pkg.is_toolchain,
        "file_count": len(pkg.files),
    }
    if files:
        out["files"] = [_abs(p) for p in sorted(pkg.files)]
    return out


def render(
    inventory: Inventory,
    *,
    color: bool = False,
    width: int = 120,
    top: int = 25,
    packages: bool = True,
    breakdown: bool = True,
    verdicts: Mapping[str, Verdict] | None = None,
) -> str:
    """The package view as text; ``top`` limits rows per table (0 = all). ``packages``/``breakdown`` pick the
    sections; ``verdicts`` adds a "Used by" column with the first piece of evidence."""
    def draw(console: Console) -> None:
        _render(console, inventory, top, packages=packages, breakdown=breakdown, verdicts=verdicts)

    return render_console(draw, color=color, width=width)


def _table() -> Table:
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)


def _render(
    console: Console,
    inventory: Inventory,
    top: int,
    *,
    packages: bool,
    breakdown: bool,
    verdicts: Mapping[str, Verdict] | None,
) -> None:
    if packages:
        if not inventory.environments:
            console.print("Python: no environment found")
            console.print()
        for env in sorted(inventory.environments, key=lambda e: e.path):
            _render_env(console, env, top, verdicts)
        _render_builds(console, inventory)
        _render_os(console, inventory, top)
    if breakdown:
        _render_breakdown(console, inventory)
    for warning in sorted(inventory.warnings):
        console.print(_safe(f"warning: {warning}"))


def _render_env(
    console: Console, env: PythonEnvironment, top: int, verdicts: Mapping[str, Verdict] | None
) -> None:
    dists = sorted(env.distributions, key=lambda d: (-d.size_bytes, d.name))
    total = env.distribution_bytes
    console.print(
        _safe(
            f"{env.kind} environment {_abs(env.path)} (Python {env.python_version or 'unknown'}): "
            f"{len(dists)} distributions, {human_bytes(total)}; "
            f"{len(env.orphan_files)} orphan files, {human_bytes(env.orphan_bytes)}"
            + "".join(f"; also imports {_abs(base)}" for base in env.base_environments)
        )
    )
    table = _table()
    for header in ("Size", "Exclusive", "pycache"):
        table.add_column(header, justify="right")
    for header in ("Distribution", "Version", "Class", "Build", "Requested"):
        table.add_column(header)
    if verdicts is not None:
        table.add_column("Used by", overflow="fold")
    for dist in dists[: top or None]:
        extra = (_safe(used_by(verdicts.get(dist.name))),) if verdicts is not None else ()
        table.add_row(
            human_bytes(dist.size_bytes),
            human_bytes(dist.exclusive_bytes),
            human_bytes(dist.pycache_bytes),
            _safe(dist.name),
            _safe(dist.version),
            dist.dist_class.value,
            dist.build or "",
            {True: "yes", False: "no", None: "?"}[dist.requested],
            *extra,
        )
    if top and len(dists) > top:
        rest = dists[top:]
        table.add_row(human_bytes(sum(d.size_bytes for d in rest)), "", "", _safe(f"... {len(rest)} more"))
    console.print(table)
    for warning in sorted(env.warnings):
        console.print(_safe(f"  warning: {warning}"))
    for dist in dists:
        for warning in dist.warnings:
            console.print(_safe(f"  {dist.name}: {warning}"))
    console.print()


def _render_builds(console: Console, inventory: Inventory) -> None:
    builds = [d for d in inventory.distributions() if d.build]
    if not builds:
        return
    console.print("Framework builds")
    for dist in sorted(builds, key=lambda d: (d.name, d.environment)):
        why = "; ".join(dist.build_evidence)
        console.print(_safe(f"  {dist.name} {dist.version}: {dist.build}" + (f" ({why})" if why else "")))
    console.print()


def _render_os(console: Console, inventory: Inventory, top: int) -> None:
    packages = inventory.os_packages
    if not packages:
        return
    console.print(
        f"OS packages: {len(packages)}, {human_bytes(inventory.os_package_bytes)}; "
        f"toolchain: {len(inventory.toolchain_packages)}, {human_bytes(inventory.toolchain_bytes)}"
    )
    table = _table()
    table.add_column("Size", justify="right")
    for header in ("Package", "Version", "Manager", "Toolchain"):
        table.add_column(header)
    ordered = sorted(packages, key=lambda p: (-p.size_bytes, p.name))
    for pkg in ordered[: top or None]:
        table.add_row(
            human_bytes(pkg.size_bytes),
            _safe(pkg.name),
            _safe(pkg.version),
            pkg.manager,
            "yes" if pkg.is_toolchain else "",
        )
    console.print(table)
    console.print()


def _render_breakdown(console: Console, inventory: Inventory) -> None:
    section = inventory.ordered_breakdown()
    if not section:
        return
    size = inventory.breakdown_bytes
    console.print(f"Breakdown of {human_bytes(size)} (every byte once)")
    table = _table()
    table.add_column("Class")
    table.add_column("Size", justify="right")
    table.add_column("Share", justify="right")
    for key, value in section.items():
        table.add_row(key, human_bytes(value), percent(value, size))
    console.print(table)
    console.print()
