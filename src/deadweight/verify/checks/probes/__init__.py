"""Scripts the checks run INSIDE the images (``python -c <source>``), kept as real modules so they are
linted, typed and unit-tested on the host. Each uses the standard library only (the image may have lost
anything else) and runs on the image's interpreter, so they avoid syntax newer than Python 3.8."""

from __future__ import annotations

from importlib import resources


def source(name: str) -> str:
    """The text of probe module ``name`` (``"reqcheck"``), to pass to ``python -c``."""
    return resources.files(__package__).joinpath(f"{name}.py").read_text(encoding="utf-8")
