"""The layering design.md asks for, checked on the source: model/ is the floor, reporters read the model."""

from __future__ import annotations

import ast
from pathlib import Path

import deadweight

PACKAGE = Path(deadweight.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every deadweight module a file imports, TYPE_CHECKING blocks and function-level imports included."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {name for name in out if name == "deadweight" or name.startswith("deadweight.")}


def _allowed_in_model(module: str) -> bool:
    return module in ("deadweight.errors", "deadweight.units") or module.startswith("deadweight.model.")


def test_model_imports_only_errors_units_and_model() -> None:
    files = sorted((PACKAGE / "model").glob("*.py"))
    assert files
    offending = {
        f"{path.name}: {module}" for path in files for module in _imports(path) if not _allowed_in_model(module)
    }
    assert offending == set()


def test_reports_do_not_import_inventory() -> None:
    files = sorted((PACKAGE / "reports").glob("*.py"))
    assert files
    offending = {
        f"{path.name}: {module}"
        for path in files
        for module in _imports(path)
        if module == "deadweight.inventory" or module.startswith("deadweight.inventory.")
    }
    assert offending == set()


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from deadweight.inventory.filetree import X\n"
        "import deadweight.config\nfrom deadweight.model.image import Y\n",
        encoding="utf-8",
    )
    assert _imports(sample) == {"deadweight.inventory.filetree", "deadweight.config", "deadweight.model.image"}
