"""Lock regeneration: the scratch copy, the tool missing, --no-lock and --offline, and the CUDA check.

The tool itself runs for real where it is installed (uv on a project with no dependencies needs no index);
the runs against real indexes are in tests/e2e/test_fix_torch_e2e.py.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from deadweight.fixes import locks
from deadweight.fixes.base import FixContext, FixRefused, FixSettings
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding, Severity
from deadweight.model.project import Project, Service

PYPROJECT = '[project]\nname = "svc"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = []\n'


def _ctx(root: Path, **settings: object) -> FixContext:
    service = Service(name="svc", context_dir=str(root), dockerfile=None, image=None)
    project = Project(root=str(root), services=(service,))
    finding = Finding("DW101", "t", "svc", Severity.HIGH)
    return FixContext(service=service, project=project, finding=finding,
                      settings=FixSettings(**settings),  # type: ignore[arg-type]
                      workspace=Workspace(root))


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_lock_file_of_and_the_commands(tmp_path: Path) -> None:
    assert locks.lock_file_of(tmp_path) is None
    (tmp_path / "poetry.lock").write_text("")
    assert locks.lock_file_of(tmp_path) == tmp_path / "poetry.lock"
    assert locks.lock_command("uv.lock", "/x/uv") == ["/x/uv", "lock"]
    assert locks.lock_command("poetry.lock", "poetry") == ["poetry", "lock", "--no-interaction"]
    assert locks.lock_command("pdm.lock", "pdm") == ["pdm", "lock", "--update-reuse"]
    assert locks.lock_command("pdm.lock", "pdm", ["torch"]) == ["pdm", "update", "--no-sync", "--update-eager",
                                                              "torch"]


def test_no_lock_is_nothing_to_do(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    locks.regenerate(tmp_path, ctx)
    assert ctx.commands == [] and ctx.notes == []


def test_no_lock_flag_is_a_note(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("version = 1\n")
    ctx = _ctx(tmp_path, lock=False)
    locks.regenerate(tmp_path, ctx)
    assert ctx.notes == ["uv.lock must be regenerated (uv lock)"]


def test_offline_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text("")
    with pytest.raises(FixRefused, match="poetry lock --no-interaction"):
        locks.regenerate(tmp_path, _ctx(tmp_path, offline=True))


def test_a_missing_tool_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pdm.lock").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FixRefused, match=r"pdm is not installed: the lock must be regenerated \(or pass --no-lock\)"):
        locks.regenerate(tmp_path, _ctx(tmp_path))


def test_cuda_entries() -> None:
    lock = """
version = 1
[[package]]
name = "torch"
version = "2.5.1+cu121"
[[package]]
name = "nvidia-cublas-cu12"
version = "12.4.5.8"
[[package]]
name = "triton"
version = "3.1.0"
[[package]]
name = "cuda-toolkit"
version = "13.2.2"
[[package]]
name = "six"
version = "1.17.0"
"""
    assert locks.cuda_entries(lock) == ["torch 2.5.1+cu121", "nvidia-cublas-cu12 12.4.5.8", "triton 3.1.0",
                                        "cuda-toolkit 13.2.2"]
    assert locks.cuda_entries('[[package]]\nname = "torch"\nversion = "2.13.0+cpu"\n') == []


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed (pip install uv: the test extras)")
def test_uv_lock_runs_in_a_scratch_copy_and_the_new_lock_lands_in_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "uv.lock").write_text("version = 1\nrequires-python = \">=3.11\"\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = _tree_digest(tmp_path)
    ctx = _ctx(tmp_path)
    ctx.workspace.set(tmp_path / "pyproject.toml", PYPROJECT.replace('"0.1.0"', '"0.2.0"'))
    locks.regenerate(tmp_path, ctx)
    assert _tree_digest(tmp_path) == before  # the user's directory is untouched
    new = ctx.workspace.text(tmp_path / "uv.lock")
    assert 'name = "svc"' in new and 'version = "0.2.0"' in new
    assert ctx.commands and ctx.commands[0].startswith("uv lock  (in a scratch copy, ")


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed (pip install uv: the test extras)")
def test_a_failing_tool_is_refused_with_its_message(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "uv.lock").write_text("version = 1\n")
    ctx = _ctx(tmp_path)
    ctx.workspace.set(tmp_path / "pyproject.toml", PYPROJECT + "[tool.uv]\nno-such-setting = 1\n"
                      "[tool.uv.sources]\nsix = 1\n")
    with pytest.raises(FixRefused, match=r"uv lock failed \(exit"):
        locks.regenerate(tmp_path, ctx)


def test_a_huge_project_is_refused_before_copying_everything(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "_MAX_FILES", 3)
    for i in range(5):
        (tmp_path / f"f{i}.py").write_text("")
    with pytest.raises(FixRefused, match="too big to copy"):
        locks._copy_project(tmp_path, tmp_path.parent / "scratch-copy")
