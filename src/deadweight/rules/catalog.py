"""The rule catalog: id -> title, default severity, one-line description, typical fix, docs page.

Read from the rule classes of the registry, so the catalog, the rules and the reports (SARIF
``tool.driver.rules``, Markdown, terminal) can never disagree. Ids are stable: they are what users write in
``--ignore``, ``[tool.deadweight] ignore``, ``per-package-ignores`` and ``# deadweight: ignore[DW201]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from deadweight.rules.base import DOCS_BASE_URL, DOCS_DIR, RuleInfo
from deadweight.rules.registry import ALL_RULES

__all__ = ["DOCS_BASE_URL", "DOCS_DIR", "RULES", "RuleInfo", "rule_help_uri", "rule_info", "rule_title"]

RULES: Mapping[str, RuleInfo] = MappingProxyType({rule.id: rule.info for rule in ALL_RULES})


def rule_info(rule_id: str) -> RuleInfo | None:
    """The catalog entry for ``rule_id``, or None for an id the catalog does not know."""
    return RULES.get(rule_id.upper())


def rule_title(rule_id: str, fallback: str = "") -> str:
    """The catalog title, or ``fallback`` (a finding's own title) for an unknown id."""
    info = rule_info(rule_id)
    return info.title if info else (fallback or rule_id)


def rule_help_uri(rule_id: str) -> str:
    """The docs URL of a rule; unknown ids still get a stable URL so links never break the output."""
    return f"{DOCS_BASE_URL}{rule_id.upper()}.md"
