"""What ships: context walk with .dockerignore, and COPY/ADD mapping into the final stage."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deadweight.project.context import shipped_files, walk_context
from deadweight.project.dockerfile import parse_dockerfile
from deadweight.project.dockerignore import IgnoreMatcher


def _tree(root: Path, files: dict[str, int]) -> None:
    for rel, size in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


def test_walk_applies_ignore_and_prunes_excluded_trees(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "app/main.py": 10,
            "app/__pycache__/main.cpython-311.pyc": 5,
            ".venv/lib/site.py": 100,
            "data/keep.csv": 7,
            "data/drop.csv": 9,
            "README.md": 3,
            "NOTES.md": 4,
        },
    )
    matcher = IgnoreMatcher.from_lines([".venv", "**/__pycache__", "data", "!data/keep.csv", "*.md", "!README.md"])
    index = walk_context(tmp_path, matcher)
    assert sorted(index.files) == ["README.md", "app/main.py", "data/keep.csv"]
    assert index.files["app/main.py"] == 10
    assert index.total_bytes == 20
    assert "data" in index.dirs and ".venv" not in index.dirs


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/f.txt": 2})
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a directory loop
    os.symlink(tmp_path / "a" / "f.txt", tmp_path / "link.txt")
    index = walk_context(tmp_path)
    assert set(index.files) == {"a/f.txt", "a/loop", "link.txt"}


def test_copy_forms_into_final_stage(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "requirements.txt": 20,
            "app/main.py": 10,
            "app/util.py": 11,
            "conf/a.ini": 1,
            "conf/b.ini": 2,
            "scripts/run.sh": 3,
            "model.bin": 1000,
            "unused.txt": 5,
        },
    )
    df = parse_dockerfile(
        "FROM python:3.11-slim AS build\n"
        "WORKDIR /src\n"
        "COPY requirements.txt .\n"
        "COPY model.bin /models/\n"
        "FROM python:3.11-slim\n"
        "ARG APP=/srv\n"
        "WORKDIR ${APP}\n"
        "COPY app/ ./app\n"
        "COPY --chown=1000 conf/*.ini /etc/svc/\n"
        'COPY ["scripts/run.sh", "/usr/local/bin/run"]\n'
        "COPY --from=build /models /opt/models\n"
        "COPY --from=python:3.11 /usr/bin/env /usr/bin/env\n"
        "ADD https://example.com/x.tgz /tmp/\n"
        "COPY <<EOF /etc/motd\nhi\nEOF\n"
    )
    shipped = shipped_files(df, walk_context(tmp_path))
    got = [(f.context_path, f.image_path, f.size_bytes, f.line, f.from_stage) for f in shipped]
    assert got == [
        ("conf/a.ini", "/etc/svc/a.ini", 1, 9, None),
        ("conf/b.ini", "/etc/svc/b.ini", 2, 9, None),
        ("model.bin", "/opt/models/model.bin", 1000, 11, "build"),
        ("app/main.py", "/srv/app/main.py", 10, 8, None),
        ("app/util.py", "/srv/app/util.py", 11, 8, None),
        ("scripts/run.sh", "/usr/local/bin/run", 3, 10, None),
    ]


def test_copy_dot_respects_ignore_and_inherited_stage(tmp_path: Path) -> None:
    _tree(tmp_path, {"main.py": 1, ".git/HEAD": 2, "tests/t.py": 3, "pkg/a.py": 4})
    (tmp_path / ".dockerignore").write_text(".git\n")
    df = parse_dockerfile(
        "FROM python AS base\nWORKDIR /app\nCOPY . .\nFROM base AS test\nCOPY tests /t\nFROM base\nCOPY pkg /app/pkg\n"
    )
    index = walk_context(tmp_path, IgnoreMatcher.from_file(tmp_path / ".dockerignore"))
    final = [(f.context_path, f.image_path) for f in shipped_files(df, index)]
    assert final == [
        (".dockerignore", "/app/.dockerignore"),
        ("main.py", "/app/main.py"),
        ("pkg/a.py", "/app/pkg/a.py"),
        ("tests/t.py", "/app/tests/t.py"),
    ]
    test_stage = [f.image_path for f in shipped_files(df, index, target="test")]
    assert "/t/t.py" in test_stage


def test_single_file_copy_to_file_or_dir(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.py": 1, "b.py": 1, "c.py": 1})
    df = parse_dockerfile("FROM x\nWORKDIR /app\nCOPY a.py /opt/renamed.py\nCOPY b.py /opt/dir/\nCOPY c.py .\n")
    got = [f.image_path for f in shipped_files(df, walk_context(tmp_path))]
    assert got == ["/app/c.py", "/opt/dir/b.py", "/opt/renamed.py"]


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A tmpfs directory when there is one (creating 50k files on disk takes longer than the walk)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(dir=shm))
        try:
            yield path, 50
        finally:
            shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path, 5


def test_fifty_thousand_files_are_indexed_without_reading_them(fast_dir: tuple[Path, int]) -> None:
    ctx, dirs = fast_dir
    for d in range(dirs):
        sub = ctx / "data" / f"d{d}"
        sub.mkdir(parents=True)
        for f in range(1000):
            (sub / f"f{f}.bin").touch()
    (ctx / "app.py").write_text("print(1)\n")
    # a FIFO would block any reader: the walk must only stat it
    os.mkfifo(ctx / "data" / "pipe")
    index = walk_context(ctx, IgnoreMatcher.from_lines(["**/__pycache__", "*.md", "data/**/cache"]))
    assert len(index.files) == dirs * 1000 + 2
    assert index.files["data/pipe"] == 0
    df = parse_dockerfile("FROM x\nCOPY . /app\n")
    shipped = shipped_files(df, index)
    assert len(shipped) == dirs * 1000 + 2
    assert shipped[0].image_path == "/app/app.py"
    pruned = walk_context(ctx, IgnoreMatcher.from_lines(["data"]))
    assert list(pruned.files) == ["app.py"]
