"""The package's import structure, read from the source: the layers the design names, and no cycles in cli/."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "deadweight"


def _imports(path: Path) -> set[str]:
    """Every ``deadweight.*`` module a file imports (at any depth, lazy imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name.startswith("deadweight"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deadweight"):
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _modules() -> dict[str, set[str]]:
    return {
        ".".join(("deadweight", *path.relative_to(PACKAGE).with_suffix("").parts)): _imports(path)
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_nothing_imports_the_cli_entry_point() -> None:
    """``cli/main.py`` imports the command modules; a command module importing it back was a cycle."""
    modules = _modules()
    importers = sorted(m for m, deps in modules.items() if "deadweight.cli.main" in deps and m != "deadweight.__main__")
    assert importers == []


def test_only_the_cli_imports_the_cli() -> None:
    outside = sorted(
        m for m, deps in _modules().items()
        if not m.startswith("deadweight.cli") and m != "deadweight.__main__"
        and any(d == "deadweight.cli" or d.startswith("deadweight.cli.") for d in deps)
    )
    assert outside == []
