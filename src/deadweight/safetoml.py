"""``tomllib.loads`` for text deadweight did not write: nesting too deep to parse is a TOML error.

tomllib parses arrays and inline tables recursively, so ``x = [[[[...]]]]`` 3000 deep raises
RecursionError, which no caller expects. Turned into ``tomllib.TOMLDecodeError``, it takes the path every
caller already has for a malformed file: one line naming the file, never a traceback.
"""

from __future__ import annotations

import tomllib
from typing import Any

__all__ = ["loads"]


def loads(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or tables nested too deeply") from None
