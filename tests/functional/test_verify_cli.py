"""deadweight verify through the CLI without an engine: every way it cannot start is one line and the documented
exit code (2 usage, 3 could not check), never a traceback and never a pass; the user's files are left as they
were. What it proves on a real engine is in tests/e2e/test_verify_e2e.py."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

import deadweight
from deadweight.cli.main import main
from deadweight.errors import SourceError, UsageError

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "verify" / "plugin-worker"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "plugin-worker"
    shutil.copytree(FIXTURE, copy)
    return copy


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("deadweight: error: ")
    return lines[0]


def test_no_engine_is_could_not_check_and_nothing_is_written(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _digest(project)
    assert main(["verify", str(project), "--write"]) == 3
    assert "cannot reach the Docker engine" in _one_line_error(capsys)
    assert _digest(project) == before
    assert capsys.readouterr().out == ""  # no report that could be read as a pass


def test_the_library_raises_the_same_error(project: Path) -> None:
    with pytest.raises(SourceError, match="cannot reach the Docker engine"):
        deadweight.verify(project)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--check", "imports", "--check", "no-such-check"], "no-such-check: no such check"),
        (["--image", "nosuchservice=docker:x:1"], "no service named 'nosuchservice'"),
        (["--platform", "linux/arm64"], "--platform: not a verify option"),
        (["--tag-prefix", "Bad Prefix"], "--tag-prefix 'Bad Prefix': not a repository name"),
    ],
)
def test_usage_errors_come_before_the_engine(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["verify", str(project), *args]) == 2
    assert message in _one_line_error(capsys)


def test_a_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in _one_line_error(capsys)
    with pytest.raises(UsageError):
        deadweight.verify(tmp_path / "nope")


def test_a_bad_format_is_click_usage(project: Path) -> None:
    assert main(["verify", str(project), "--format", "yaml"]) == 2


def test_help_names_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--image",
        "--write",
        "--network",
        "--check",
        "--format",
        "--output",
        "--select",
        "--config",
        "--torch-cpu-index",
    ):
        assert flag in out
