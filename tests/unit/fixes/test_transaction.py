"""All or nothing on a real directory: every changed file written with its mode kept, or every file left with
the bytes it had (a rename failing part way, a file changed on disk since it was read, a new file)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from deadweight.errors import FixError
from deadweight.fixes import transaction
from deadweight.fixes.transaction import commit
from deadweight.fixes.workspace import Workspace

ORIGINAL = {"a.txt": b"a\r\n", "b.txt": b"b\n", "c.txt": b"c"}


def _project(tmp_path: Path) -> Workspace:
    for name, data in ORIGINAL.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "b.txt").chmod(0o600)
    ws = Workspace(tmp_path)
    for name in ORIGINAL:
        ws.set(name, ws.text(name).upper())
    return ws


def _bytes(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(tmp_path.iterdir())}


def test_writes_every_file_exactly_and_keeps_modes(tmp_path: Path) -> None:
    ws = _project(tmp_path)
    ws.set("new.txt", "n\n")
    assert commit(ws) == ["a.txt", "b.txt", "c.txt", "new.txt"]
    assert _bytes(tmp_path) == {"a.txt": b"A\r\n", "b.txt": b"B\n", "c.txt": b"C", "new.txt": b"n\n"}
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".deadweight")]


def _fail_on_call(n: int, real: Callable[..., None]) -> Callable[..., None]:
    calls = {"n": 0}

    def replace(src: str, dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == n:
            raise PermissionError(13, "Permission denied")
        real(src, dst)

    return replace


def test_second_of_three_renames_failing_restores_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _project(tmp_path)
    monkeypatch.setattr(transaction.os, "replace", _fail_on_call(2, os.replace))
    with pytest.raises(FixError, match=re.escape("cannot write b.txt: Permission denied; every file left as it was")):
        commit(ws)
    assert _bytes(tmp_path) == ORIGINAL  # no temp file left either
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600


def test_a_new_file_is_removed_on_rollback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "z.txt").write_bytes(b"z\n")
    ws = Workspace(tmp_path)
    ws.set(".dockerignore", "data\n")  # sorted before z.txt: written first
    ws.set("z.txt", "Z\n")
    monkeypatch.setattr(transaction.os, "replace", _fail_on_call(2, os.replace))
    with pytest.raises(FixError, match=re.escape("cannot write z.txt")):
        commit(ws)
    assert _bytes(tmp_path) == {"z.txt": b"z\n"}


def test_a_real_write_failure_restores_what_was_written(tmp_path: Path) -> None:
    """No monkeypatching: the second file's directory does not exist, so its temporary file cannot be made."""
    (tmp_path / "a.txt").write_bytes(b"a\n")
    ws = Workspace(tmp_path)
    ws.set("a.txt", "A\n")
    ws.set("sub/new.txt", "n\n")
    message = "cannot write sub/new.txt: No such file or directory; every file left as it was"
    with pytest.raises(FixError, match=re.escape(message)):
        commit(ws)
    assert _bytes(tmp_path) == {"a.txt": b"a\n"}


def test_file_changed_on_disk_since_read_writes_nothing(tmp_path: Path) -> None:
    ws = _project(tmp_path)
    (tmp_path / "c.txt").write_bytes(b"c edited in the editor")
    with pytest.raises(FixError, match=re.escape("c.txt changed on disk since deadweight read it: nothing written")):
        commit(ws)
    assert _bytes(tmp_path) == {**ORIGINAL, "c.txt": b"c edited in the editor"}


def test_file_created_since_read_writes_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.set(".dockerignore", "data\n")
    (tmp_path / ".dockerignore").write_bytes(b"mine\n")
    with pytest.raises(FixError, match="changed on disk"):
        commit(ws)
    assert (tmp_path / ".dockerignore").read_bytes() == b"mine\n"


def test_file_changed_while_the_others_were_written_rolls_back(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _project(tmp_path)
    real = os.replace

    def replace(src: str, dst: str | os.PathLike[str]) -> None:
        real(src, dst)
        if Path(dst).name == "a.txt":  # someone saves b.txt right after a.txt was replaced
            (tmp_path / "b.txt").write_bytes(b"saved\n")

    monkeypatch.setattr(transaction.os, "replace", replace)
    message = "b.txt changed on disk since deadweight read it; every file left as it was"
    with pytest.raises(FixError, match=re.escape(message)):
        commit(ws)
    assert _bytes(tmp_path) == {**ORIGINAL, "b.txt": b"saved\n"}


def test_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a\n")
    ws = Workspace(tmp_path)
    ws.set("a.txt", ws.text("a.txt"))
    before = (tmp_path / "a.txt").stat().st_mtime_ns
    assert commit(ws) == []
    assert (tmp_path / "a.txt").stat().st_mtime_ns == before


def test_directories_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _project(tmp_path)
    synced: list[str] = []
    real = transaction._fsync_dir

    def spy(directory: Path) -> None:
        synced.append(str(directory))
        real(directory)

    monkeypatch.setattr(transaction, "_fsync_dir", spy)
    commit(ws)
    assert synced == [str(tmp_path.resolve())] * 3


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_the_owner_is_kept(tmp_path: Path) -> None:
    """Root fixing a project mounted from a user's checkout must leave the user's files the user's."""
    ws = _project(tmp_path)
    os.chown(tmp_path / "a.txt", 1234, 2345)
    ws = Workspace(tmp_path)
    ws.set("a.txt", "changed\n")
    commit(ws)
    st = (tmp_path / "a.txt").stat()
    assert (st.st_uid, st.st_gid) == (1234, 2345)
