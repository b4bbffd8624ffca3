"""The curated module → distribution and command → distribution tables (data/module_aliases.toml).

Why a table: ``import yaml`` comes from PyYAML, ``cv2`` from one of four OpenCV wheels, ``corsheaders``
from django-cors-headers. Without an image (or for names the image does not have) this is the last
resort before guessing that a module is named like its distribution.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

from deadweight.errors import ParseError


@functools.cache
def _table() -> dict[str, dict[str, tuple[str, ...]]]:
    try:
        raw = tomllib.loads(resources.files("deadweight.data").joinpath("module_aliases.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ParseError(f"deadweight/data/module_aliases.toml: {exc}") from exc
    return {
        section: {key: tuple(value) for key, value in raw.get(section, {}).items()}
        for section in ("modules", "commands")
    }


def module_aliases() -> dict[str, tuple[str, ...]]:
    """Dotted module name → canonical distribution names (alternatives)."""
    return _table()["modules"]


def command_aliases() -> dict[str, tuple[str, ...]]:
    """Console script name → canonical distribution names."""
    return _table()["commands"]


def alias_for_module(module: str) -> tuple[str, tuple[str, ...]] | None:
    """``(matched prefix, distributions)`` for the longest dotted prefix of ``module`` in the table."""
    table = module_aliases()
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in table:
            return prefix, table[prefix]
    return None
