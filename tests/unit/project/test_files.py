"""read_text: a project file's text, or one ParseError line naming the file, what it is and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import ParseError
from deadweight.project.files import read_text


def test_exact_keeps_line_endings_and_undecodable_bytes(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_bytes(b"FROM x\r\nRUN echo \xff\n")
    assert read_text(f, "Dockerfile", exact=True).encode("utf-8", "surrogateescape") == f.read_bytes()
    assert read_text(f, "Dockerfile", exact=True).startswith("FROM x\r\n")


def test_strict_read_names_the_file_and_the_decode_error(tmp_path: Path) -> None:
    f = tmp_path / "pyproject.toml"
    f.write_bytes(b"name = '\xff'\n")
    with pytest.raises(ParseError, match=r"pyproject\.toml: cannot read pyproject\.toml: 'utf-8' codec"):
        read_text(f, "pyproject.toml")


def test_missing_file_reason_in_python_or_os_words(tmp_path: Path) -> None:
    f = tmp_path / "compose.yaml"
    with pytest.raises(ParseError) as full:
        read_text(f, "compose file")
    assert str(full.value) == f"{f}: cannot read compose file: [Errno 2] No such file or directory: '{f}'"
    with pytest.raises(ParseError) as short:
        read_text(f, ".dockerignore", os_words=True)
    assert str(short.value) == f"{f}: cannot read .dockerignore: No such file or directory"
