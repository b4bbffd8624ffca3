"""Rules: each finds one kind of dead weight in one service and says what a fix saves. Rules never print.

The catalog reports read (titles, severities, help URIs) is re-exported here from ``rules/catalog.py``.
"""

from deadweight.rules.catalog import DOCS_BASE_URL, DOCS_DIR, RULES, RuleInfo, rule_help_uri, rule_info, rule_title

__all__ = ["DOCS_BASE_URL", "DOCS_DIR", "RULES", "RuleInfo", "rule_help_uri", "rule_info", "rule_title"]
