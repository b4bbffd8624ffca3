"""``deadweight inspect --format ncdu`` on the tiny OCI example: the tree in ncdu's JSON export format, its
total the bytes a container sees, every path of ``--format json``'s largest lists at its size; and, when ncdu
is installed, ncdu itself reads the file and writes the same tree back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = f"oci:{REPO / 'examples' / 'tiny-image'}"


def deadweight(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "deadweight", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def flatten(node: list[Any], prefix: str = "") -> tuple[dict[str, int], set[str]]:
    """Files (path -> asize) and directories of an ncdu directory array."""
    name = node[0]["name"]
    here = "" if name == "/" else f"{prefix}/{name}"
    files: dict[str, int] = {}
    dirs = {here or "/"}
    for child in node[1:]:
        if isinstance(child, list):
            sub_files, sub_dirs = flatten(child, here)
            files.update(sub_files)
            dirs |= sub_dirs
        else:
            # ncdu leaves out sizes of 0 when it writes a file back
            assert child.get("asize", 0) == child.get("dsize", 0) >= 0
            files[f"{here}/{child['name']}"] = child.get("asize", 0)
    return files, dirs


@pytest.fixture(scope="module")
def export() -> list[Any]:
    text = deadweight("inspect", TINY, "--format", "ncdu")
    assert text == deadweight("inspect", TINY, "--format", "ncdu")  # the same image, the same bytes
    doc = json.loads(text)
    assert isinstance(doc, list)
    return doc


def test_header_and_total(export: list[Any]) -> None:
    major, minor, meta, root = export
    assert (major, minor) == (1, 2)
    assert meta == {"progname": "deadweight", "progver": meta["progver"]}
    assert root[0] == {"name": "/"}
    report = json.loads(deadweight("inspect", TINY, "--format", "json"))
    files, _ = flatten(root)
    assert sum(files.values()) == report["visible_bytes"]
    assert len(files) == report["file_count"]
    for entry in report["largest_paths"]:
        assert files[entry["path"]] == entry["size_bytes"]
    _, dirs = flatten(root)
    for entry in report["largest_dirs"]:
        assert entry["path"] in dirs


def test_ncdu_reads_it_back(export: list[Any], tmp_path: Path) -> None:
    ncdu = shutil.which("ncdu")
    if ncdu is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI=true but no ncdu on PATH (scripts/lab up installs it)", pytrace=False)
        pytest.skip("ncdu is not installed (apt-get install ncdu)")
    source = tmp_path / "tree.json"
    source.write_text(json.dumps(export))
    again = tmp_path / "again.json"
    subprocess.run([ncdu, "-f", str(source), "-o", str(again)], check=True, timeout=60, capture_output=True)
    reread = json.loads(again.read_text())
    assert reread[2]["progname"] == "ncdu"
    assert flatten(reread[3]) == flatten(export[3])
