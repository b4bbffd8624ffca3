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


def test_the_engine_client_stands_on_errors_and_the_model_only() -> None:
    """engine/ is reused by audit today and verify later: it must not reach up into the pipeline or the CLI."""
    allowed = ("deadweight.engine", "deadweight.errors", "deadweight.model")
    reaching = {
        m: sorted(d for d in deps if not d.startswith(allowed))
        for m, deps in _modules().items() if m.startswith("deadweight.engine")
    }
    assert reaching and all(not deps for deps in reaching.values()), reaching


def test_no_analysis_module_beside_the_models_and_no_auditing_package() -> None:
    assert not (PACKAGE / "analysis.py").exists() and not (PACKAGE / "auditing").exists()
    assert (PACKAGE / "pipeline" / "analyze.py").is_file()
