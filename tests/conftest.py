"""Suite-wide setup: make ``tests/imagebuilder.py`` importable as ``imagebuilder`` too.

``tests`` is a package, so ``from tests.imagebuilder import ...`` works from the repo root; the plain
``from imagebuilder import ...`` form works because this directory is put on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
