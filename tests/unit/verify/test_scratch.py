"""The scratch copy: edits land in the copy only, each apply sets exactly the given texts, and nothing the
project links to outside the copy is ever written."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import BuildError
from deadweight.verify.scratch import Scratch


def _project(root: Path) -> Path:
    (root / "svc").mkdir(parents=True)
    (root / "svc" / "requirements.txt").write_text("numpy\nscipy\n")
    (root / "svc" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def test_apply_sets_exactly_the_given_texts_and_restores_the_rest(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    with Scratch(root) as scratch:
        copy = scratch.path(root / "svc" / "requirements.txt")
        assert copy != root / "svc" / "requirements.txt" and copy.read_text() == "numpy\nscipy\n"
        assert not scratch.path(root / ".git").exists()  # not copied
        scratch.apply({"svc/requirements.txt": "numpy\n", "svc/.dockerignore": "*.md\n"})
        assert copy.read_text() == "numpy\n"
        assert scratch.path("svc/.dockerignore").read_text() == "*.md\n"
        scratch.apply({"svc/Dockerfile": "FROM python:3.11-slim\nRUN true\n"})
        assert copy.read_text() == "numpy\nscipy\n"  # back to the original
        assert not scratch.path("svc/.dockerignore").exists()  # created before, gone now
        assert scratch.path("svc/Dockerfile").read_text().endswith("RUN true\n")
        scratch.apply({})
        assert scratch.path("svc/Dockerfile").read_text() == "FROM python:3.11-slim\n"
        tmp = scratch.root
    assert not tmp.exists()
    assert (root / "svc" / "requirements.txt").read_text() == "numpy\nscipy\n"  # the user's files untouched
    assert not (root / "svc" / ".dockerignore").exists()


def test_a_symlink_in_the_project_is_replaced_not_written_through(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    outside = tmp_path / "shared-requirements.txt"
    outside.write_text("flask\n")
    (root / "svc" / "extra.txt").symlink_to(outside)
    with Scratch(root) as scratch:
        scratch.apply({"svc/extra.txt": "django\n"})
        assert scratch.path("svc/extra.txt").read_text() == "django\n"
    assert outside.read_text() == "flask\n"


def test_paths_outside_the_project_are_refused(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    with Scratch(root) as scratch, pytest.raises(BuildError, match="outside the project root"):
        scratch.path(tmp_path / "elsewhere" / "Dockerfile")
