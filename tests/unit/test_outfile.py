"""``-o`` never replaces what the path is: a device stays a device, a link a link, a FIFO a FIFO; a regular file
keeps its mode; a failed write leaves the previous file as it was. One regression test per kind of path."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deadweight.errors import OutputError, UsageError
from deadweight.outfile import write_output_file

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod and mount need root (CI runs as root)")


@needs_root
def test_character_device_is_written_through_never_replaced(tmp_path: Path) -> None:
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the same device as /dev/null
    write_output_file(str(node), b"report\n")
    info = os.lstat(node)
    assert stat.S_ISCHR(info.st_mode)
    assert info.st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temp file left beside it


def test_dev_null_stays_a_device() -> None:
    before = os.lstat("/dev/null")
    write_output_file("/dev/null", b"x" * 10_000)
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_full_device_is_an_output_error_exit_3() -> None:
    with pytest.raises(OutputError) as caught:
        write_output_file("/dev/full", b"report\n")
    assert caught.value.exit_code == 3
    assert "/dev/full" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_symlink_stays_a_link_and_its_target_gets_the_report(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    real = other / "report.json"
    real.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    write_output_file(str(link), b"new")
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert sorted(p.name for p in other.iterdir()) == ["report.json"]


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "out.md"
    link.symlink_to(tmp_path / "target.md")
    write_output_file(str(link), b"# report\n")
    assert link.is_symlink()
    assert (tmp_path / "target.md").read_bytes() == b"# report\n"


def test_symlink_loop_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(UsageError) as caught:
        write_output_file(str(tmp_path / "a"), b"x")
    assert caught.value.exit_code == 2


def test_fifo_is_written_to_its_reader_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_output_file(str(fifo), b"through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_regular_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.sarif"
    target.write_text("old")
    target.chmod(0o640)
    write_output_file(str(target), b"new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(os.lstat(target).st_mode) == 0o640


def test_new_file_gets_the_umask_mode_not_0600(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    umask = os.umask(0o022)
    try:
        write_output_file(str(target), b"{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.lstat(target).st_mode) == 0o644


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        write_output_file(str(tmp_path / "nope" / "r.json"), b"{}")
    assert caught.value.exit_code == 2
    assert "nope" in str(caught.value)


def test_a_directory_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "reports"
    target.mkdir()
    (target / "keep").write_text("kept")
    with pytest.raises(UsageError):
        write_output_file(str(target), b"{}")
    assert (target / "keep").read_text() == "kept"


@needs_root
def test_full_disk_leaves_the_previous_file_untouched(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=False, capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        previous = mount / "report.json"
        previous.write_text("previous report")
        with pytest.raises(OutputError) as caught:
            write_output_file(str(previous), b"x" * 1_000_000)
        assert caught.value.exit_code == 3
        assert previous.read_text() == "previous report"
        assert sorted(p.name for p in mount.iterdir()) == ["report.json"]  # the temp file is gone
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_cli_inspect_output_onto_a_device_exits_0_and_keeps_the_device(tmp_path: Path) -> None:
    """End to end through the CLI: the shipped tiny OCI image, written to /dev/null."""
    example = Path(__file__).resolve().parents[2] / "examples" / "tiny-image"
    done = subprocess.run(
        [sys.executable, "-m", "deadweight", "inspect", f"oci:{example}", "--format", "json", "-o", "/dev/null"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_cli_inspect_output_onto_a_full_device_exits_3_with_one_line() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "tiny-image"
    done = subprocess.run(
        [sys.executable, "-m", "deadweight", "inspect", f"oci:{example}", "--format", "json", "-o", "/dev/full"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
