"""The workspace reads each file once, exactly, and refuses what no edit of is safe: not UTF-8, merge-conflict
markers, not a regular file, outside the project root (a symlink pointing out of it included)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deadweight.fixes.refused import FixRefused
from deadweight.fixes.workspace import Workspace


def test_crlf_and_missing_final_newline_read_exactly(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"flask==3.0\r\nscipy\r\nrequests")
    ws = Workspace(tmp_path)
    assert ws.text("requirements.txt") == "flask==3.0\r\nscipy\r\nrequests"


def test_non_utf8_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes("flask  # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(FixRefused, match=r"requirements\.txt is not UTF-8 text"):
        Workspace(tmp_path).text("requirements.txt")


@pytest.mark.parametrize("marker", ["<<<<<<< HEAD", "=======", ">>>>>>> main"])
def test_conflict_markers_refused(tmp_path: Path, marker: str) -> None:
    (tmp_path / "requirements.txt").write_text(f"flask\n{marker}\nscipy\n", encoding="utf-8")
    with pytest.raises(FixRefused, match="unresolved merge-conflict markers"):
        Workspace(tmp_path).text("requirements.txt")


def test_seven_equals_inside_a_line_is_not_a_marker(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("RUN echo '=======' \n", encoding="utf-8")
    assert Workspace(tmp_path).text("Dockerfile") == "RUN echo '=======' \n"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").mkdir()
    with pytest.raises(FixRefused, match="not a regular file"):
        Workspace(tmp_path).text("requirements.txt")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "requirements.txt")  # nobody writes to it: opening it for reading would wait forever
    with pytest.raises(FixRefused, match="not a regular file \\(a FIFO\\)"):
        Workspace(tmp_path).text("requirements.txt")


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.txt"])
def test_files_outside_the_root_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("x\n", encoding="utf-8")
    ws = Workspace(root)
    with pytest.raises(FixRefused, match="outside the project root"):
        ws.text(name)
    with pytest.raises(FixRefused, match="outside the project root"):
        ws.set(name, "y\n")
    assert ws.changes() == ()


def test_symlink_inside_the_root_edits_its_target(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text("flask\n", encoding="utf-8")
    os.symlink("reqs/base.txt", tmp_path / "requirements.txt")
    ws = Workspace(tmp_path)
    ws.set("requirements.txt", "flask==3.0\n")
    (change,) = ws.changes()
    assert change.path == os.path.join("reqs", "base.txt")
    assert (change.before, change.after) == ("flask\n", "flask==3.0\n")


def test_symlink_pointing_out_of_the_root_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "shared.txt").write_text("flask\n", encoding="utf-8")
    os.symlink(tmp_path / "shared.txt", root / "requirements.txt")
    with pytest.raises(FixRefused, match=r"requirements.txt is outside the project root .*resolves to"):
        Workspace(root).text("requirements.txt")


def test_read_once_later_disk_changes_not_seen(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("flask\n", encoding="utf-8")
    ws = Workspace(tmp_path)
    assert ws.text("requirements.txt") == "flask\n"
    path.write_text("django\n", encoding="utf-8")
    assert ws.text(str(path)) == "flask\n"


def test_restore_and_changes_since(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("b\n", encoding="utf-8")
    ws = Workspace(tmp_path)
    ws.set("a.txt", "A\n")
    snap = ws.snapshot()
    ws.set("a.txt", "AA\n")
    ws.set("b.txt", "B\n")  # read after the snapshot
    ws.set("new.txt", "n\n")  # a file that does not exist
    since = {c.path: (c.before, c.after) for c in ws.changes_since(snap)}
    assert since == {"a.txt": ("A\n", "AA\n"), "b.txt": ("b\n", "B\n"), "new.txt": (None, "n\n")}
    ws.restore(snap)
    assert {c.path: (c.before, c.after) for c in ws.changes()} == {"a.txt": ("a\n", "A\n")}
    assert not ws.exists("new.txt")
