"""``tomllib.loads`` for text deadweight did not write: nesting too deep to parse is a TOML error.

tomllib parses arrays and inline tables recursively, so ``x = [[[[...]]]]`` 3000 deep raises
RecursionError, which no caller expects. Turned into ``tomllib.TOMLDecodeError``, it takes the path every
caller already has for a malformed file: one line naming the file, never a traceback.
"""

from __future__ import annotations

import tomllib
from typing import Any

__all__ = ["loads", "table_at"]


def loads(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or tables nested too deeply") from None


def table_at(doc: Any, *keys: str) -> dict[str, Any]:
    """``doc[k1][k2]...`` when every step is a table, else ``{}``: ``tool = 1`` or ``tool.pytest = 5`` in a
    file deadweight only reads for evidence is no table, not a crash."""
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc if isinstance(doc, dict) else {}
