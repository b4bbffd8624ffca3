"""Lock files: uv.lock, poetry.lock, PEP 751 pylock.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import ParseError
from deadweight.project.lockfiles import find_lock_files, parse_lock_file

UV_LOCK = """\
version = 1
requires-python = ">=3.11"

[[package]]
name = "Torch"
version = "2.5.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
"""

POETRY_LOCK = """\
[[package]]
name = "numpy"
version = "1.26.4"
description = "x"
optional = false
python-versions = ">=3.9"

[package.source]
type = "legacy"
url = "https://download.example/simple"
reference = "mirror"

[metadata]
lock-version = "2.0"
"""

PYLOCK = """\
lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "fastapi"
version = "0.115.0"
index = "https://pypi.org/simple"

[[packages]]
name = "mylib"
vcs = { type = "git", url = "https://github.com/org/mylib.git", commit-id = "abc" }
"""


def test_all_three_formats(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text(UV_LOCK)
    (tmp_path / "poetry.lock").write_text(POETRY_LOCK)
    (tmp_path / "pylock.toml").write_text(PYLOCK)
    (tmp_path / "pylock.dev.toml").write_text(PYLOCK)
    files = find_lock_files(tmp_path)
    assert [f.name for f in files] == ["uv.lock", "poetry.lock", "pylock.toml", "pylock.dev.toml"]
    uv = parse_lock_file(tmp_path / "uv.lock")
    assert [(p.name, p.version, p.source) for p in uv] == [
        ("app", "0.1.0", "editable:."),
        ("torch", "2.5.1", "registry:https://pypi.org/simple"),
    ]
    poetry = parse_lock_file(tmp_path / "poetry.lock")
    assert [(p.name, p.version, p.source) for p in poetry] == [
        ("numpy", "1.26.4", "url:https://download.example/simple")
    ]
    pylock = parse_lock_file(tmp_path / "pylock.toml")
    assert [(p.name, p.version) for p in pylock] == [("fastapi", "0.115.0"), ("mylib", "")]
    assert pylock[1].source == "vcs:https://github.com/org/mylib.git"


def test_broken_lock_is_a_parse_error(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("[[package]\nname=")
    with pytest.raises(ParseError, match=r"uv\.lock:1: invalid TOML lock file"):
        parse_lock_file(tmp_path / "uv.lock")
