"""The rule catalog (read from the rule classes) is the single source of rule metadata: the docs pages and
index must agree with it, and no rule reaches up into the reports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from deadweight.model.finding import Severity
from deadweight.rules import RULES, rule_help_uri, rule_info, rule_title

DOCS = Path(__file__).resolve().parents[3] / "docs" / "rules"
DESIGN_IDS = [
    "DW101", "DW102", "DW201", "DW202", "DW301", "DW302", "DW303", "DW304",
    "DW401", "DW501", "DW601", "DW701", "DW702", "DW801",
]


def test_catalog_has_the_design_ids() -> None:
    assert list(RULES) == DESIGN_IDS
    assert len({r.name for r in RULES.values()}) == len(RULES)
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", r.name) for r in RULES.values())
    assert not RULES["DW801"].default_enabled and RULES["DW701"].requires == "--run"
    assert RULES["DW101"].severity is Severity.HIGH


def test_lookups() -> None:
    assert rule_info("dw201") is RULES["DW201"]
    assert rule_info("DW999") is None
    assert rule_title("DW999", "Future rule") == "Future rule"
    assert rule_title("DW201", "ignored") == "Declared dependency nothing uses"
    assert rule_help_uri("DW201") == RULES["DW201"].help_uri
    assert RULES["DW201"].docs_path == "docs/rules/DW201.md"


@pytest.mark.parametrize("rule_id", DESIGN_IDS)
def test_each_rule_has_a_page_matching_the_catalog(rule_id: str) -> None:
    text = (DOCS / f"{rule_id}.md").read_text(encoding="utf-8")
    info = RULES[rule_id]
    assert text.splitlines()[0] == f"# {rule_id}: {info.title}"
    assert f"| {info.severity} |" in text
    for heading in ("## What it finds", "## Why it matters", "## How it is measured", "## How to fix",
                    "## How to silence it"):
        assert heading in text
    assert f"--ignore {rule_id}" in text and f'ignore = ["{rule_id}"]' in text
    assert "```" in text.split("## How to fix", 1)[1]  # an example


def test_index_lists_every_rule() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"^\| \[(DW\d{3})\]\(\1\.md\) \| ([^|]+) \|", index, flags=re.M)
    assert [rule for rule, _ in linked] == DESIGN_IDS
    for rule, title in linked:
        assert title.strip().startswith(RULES[rule].title)


def test_rules_never_import_reports_nor_each_other() -> None:
    """Reports read the catalog from ``deadweight.rules``; the other direction would be a cycle. Helpers two
    rules share live in project/, usage/ or rules/ helper modules, never in a rule module."""
    rules_dir = Path(__file__).resolve().parents[3] / "src" / "deadweight" / "rules"
    offenders = []
    for path in sorted(rules_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("deadweight.reports")]
            if path.name.startswith("dw"):
                offenders += [f"{path.name}: {n}" for n in names if n.startswith("deadweight.rules.dw")]
    assert offenders == []
