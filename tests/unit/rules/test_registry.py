"""The registry, the catalog and the docs agree; every rule copes with an empty context."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.rules import RULES
from deadweight.rules.base import Rule
from deadweight.rules.registry import ALL_RULES
from tests.unit.rules.ruleimages import context

ROOT = Path(__file__).resolve().parents[3]


def test_every_rule_has_a_unique_id_a_catalog_entry_and_a_docs_page() -> None:
    ids = [rule.id for rule in ALL_RULES]
    assert len(ids) == len(set(ids))
    assert ids == list(RULES)  # every catalog entry has a rule, in catalog order
    for rule in ALL_RULES:
        info = RULES[rule.id]
        assert rule.info is info
        assert (ROOT / info.docs_path).is_file(), info.docs_path
        assert (info.requires == "--run") is rule.needs_run, rule.id


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_a_bare_context_yields_nothing(rule: Rule) -> None:
    """No image, no project files, no run: nothing to say (and no crash)."""
    assert list(rule.evaluate(context())) == []
