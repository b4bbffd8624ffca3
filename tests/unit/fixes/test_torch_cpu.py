"""DW101's fix on real project files: golden diffs per layout (pip, uv, Poetry, PDM), refusals, idempotency.

Each case under tests/fixtures/fix/torch/ is a project directory; the fix runs on a copy, reading it with
deadweight's own loader, and the unified diff of every changed file is compared byte for byte with the case's
``expected.diff`` (``DEADWEIGHT_UPDATE_GOLDEN=1`` rewrites them). Versions are not looked up (offline) except
in the test that serves a CPU index on loopback.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from deadweight.fixes.base import FixContext, FixRefused, FixSettings
from deadweight.fixes.torch_cpu import route
from deadweight.fixes.torch_family import member_version
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding, Severity
from deadweight.model.remedy import SetIndex
from deadweight.project.indexes import torch_index
from deadweight.project.loader import load_project
from tests.support.wheels import build_wheel, serve_indexes, write_index

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "fix" / "torch"
CPU = "https://download.pytorch.org/whl/cpu"
OFFLINE = FixSettings(cpu_index_url=CPU, offline=True, lock=False)


def _copy(case: str, tmp_path: Path) -> Path:
    dest = tmp_path / case
    shutil.copytree(CASES / case, dest, ignore=shutil.ignore_patterns("expected.diff"))
    return dest


def _fix(project_dir: Path, settings: FixSettings = OFFLINE, version: str = "2.5.1") -> tuple[Workspace,
                                                                                             FixContext]:
    project = load_project(str(project_dir), scan_deployments=False)
    service = project.services[0]
    torch = next(r for r in service.requirements if r.name == "torch")
    edit = SetIndex("torch", CPU, version, file=torch.source_file, line=torch.line, end_line=torch.end_line,
                    original=torch.raw)
    finding = Finding("DW101", "CUDA torch in a CPU-only service", service.name, Severity.HIGH, package="torch",
                      remedy=(edit,))
    workspace = Workspace(project.root)
    ctx = FixContext(service=service, project=project, finding=finding, settings=settings, workspace=workspace)
    route(edit, ctx)
    return workspace, ctx


def _diff(workspace: Workspace) -> str:
    out = []
    for change in workspace.changes():
        out.extend(difflib.unified_diff((change.before or "").splitlines(keepends=True),
                                        change.after.splitlines(keepends=True),
                                        f"a/{change.path}", f"b/{change.path}"))
    return "".join(out)


def _golden(case: str, diff: str) -> None:
    path = CASES / case / "expected.diff"
    if os.environ.get("DEADWEIGHT_UPDATE_GOLDEN") == "1":
        path.write_bytes(diff.encode("utf-8"))
    assert diff == path.read_bytes().decode("utf-8")


def _write(workspace: Workspace) -> None:
    for change in workspace.changes():
        (workspace.root / change.path).write_bytes(change.after.encode("utf-8"))


GOLDEN = ["pip-requirements", "pip-run", "uv-basic", "uv-crlf", "uv-existing-index", "uv-reuse-index",
          "uv-dependency-group", "poetry-string", "poetry-group", "poetry-pep621", "pdm-basic"]


@pytest.mark.parametrize("case", GOLDEN)
def test_golden_diff(case: str, tmp_path: Path) -> None:
    workspace, _ = _fix(_copy(case, tmp_path))
    _golden(case, _diff(workspace))


@pytest.mark.parametrize("case", [c for c in GOLDEN if c not in ("pdm-basic", "poetry-group")])
def test_the_fixed_project_is_seen_as_routed_and_a_second_run_changes_nothing(case: str, tmp_path: Path) -> None:
    project_dir = _copy(case, tmp_path)
    workspace, _ = _fix(project_dir)
    _write(workspace)
    service = load_project(str(project_dir), scan_deployments=False).services[0]
    found = torch_index(service)
    assert found is not None and found.cpu, found
    again, _ = _fix(project_dir)
    assert again.changes() == ()


def test_crlf_lines_stay_crlf(tmp_path: Path) -> None:
    workspace, _ = _fix(_copy("uv-crlf", tmp_path))
    after = workspace.changes()[0].after
    assert "\n" not in after.replace("\r\n", "")


def test_pip_pins_the_family_from_the_table_and_keeps_the_invocation(tmp_path: Path) -> None:
    workspace, ctx = _fix(_copy("pip-requirements", tmp_path))
    after = workspace.changes()[0].after
    assert ('RUN python -m pip install --no-cache-dir --no-deps --index-url "$TORCH_INDEX_URL" torch==2.5.1 '
            "torchvision==0.20.1\n") in after
    assert after.index("ARG TORCH_INDEX_URL=") < after.index("# the app's dependencies")
    assert "not checked" in " ".join(ctx.notes)


def test_uv_pip_gets_no_cache_and_its_system_flag(tmp_path: Path) -> None:
    project_dir = _copy("pip-installs-uv-first", tmp_path)
    (project_dir / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY requirements.txt .\n"
                                            "RUN uv pip install --system -r requirements.txt\n")
    workspace, _ = _fix(project_dir)
    assert ('RUN uv pip install --no-cache --no-deps --index-url "$TORCH_INDEX_URL" --system torch==2.5.1\n'
            in workspace.changes()[0].after)


def test_pip_run_keeps_the_cache_mount_and_the_install_place(tmp_path: Path) -> None:
    workspace, _ = _fix(_copy("pip-run", tmp_path))
    after = workspace.changes()[0].after
    assert ("RUN --mount=type=cache,target=/root/.cache/pip pip3 install --no-deps --index-url "
            '"$TORCH_INDEX_URL" --user torch==2.5.1\n') in after
    assert "RUN --mount=type=cache,target=/root/.cache/pip pip3 install --user torch fastapi\n" in after


@pytest.mark.parametrize(("case", "reason"), [
    ("pip-upgrade", "passes -U"),
    ("pip-venv", "creates the environment"),
    ("pip-installs-uv-first", "installs uv before it installs torch"),
])
def test_pip_refusals(case: str, reason: str, tmp_path: Path) -> None:
    with pytest.raises(FixRefused, match=reason):
        _fix(_copy(case, tmp_path))


@pytest.mark.parametrize(("url", "reason"), [
    ("https://user:secret@mirror.example/whl/cpu", "credentials"),
    ("https://mirror.example/pytorch/simple", "does not end in /cpu"),
    ("ftp://mirror.example/cpu", "not an http"),
    ('https://mirror.example/cpu"; rm -rf /', "characters"),
])
def test_unsafe_or_unrecognised_index_urls_are_refused(url: str, reason: str, tmp_path: Path) -> None:
    settings = FixSettings(cpu_index_url=url, offline=True, lock=False)
    with pytest.raises(FixRefused, match=reason):
        _fix(_copy("pip-requirements", tmp_path), settings)


def test_a_declared_pin_the_cpu_build_cannot_satisfy_is_refused(tmp_path: Path) -> None:
    project_dir = _copy("pip-requirements", tmp_path)
    (project_dir / "requirements.txt").write_text("torch==2.5.1+cu121\n")
    with pytest.raises(FixRefused):
        _fix(project_dir)


def test_a_torch_without_a_known_family_release_is_refused(tmp_path: Path) -> None:
    project_dir = _copy("pip-requirements", tmp_path)
    (project_dir / "requirements.txt").write_text("torch==1.13.1\ntorchvision\n")
    with pytest.raises(FixRefused, match="no torchvision release known"):
        _fix(project_dir)


def test_the_workspace_text_is_read_not_the_disk(tmp_path: Path) -> None:
    """An earlier fix (DW501's pin) changed requirements.txt in the workspace: the pin read is that one."""
    project_dir = _copy("pip-requirements", tmp_path)
    project = load_project(str(project_dir), scan_deployments=False)
    service = project.services[0]
    torch = next(r for r in service.requirements if r.name == "torch")
    workspace = Workspace(project.root)
    workspace.set(project_dir / "requirements.txt", "fastapi>=0.110\ntorch==2.4.1\ntorchvision>=0.19\n")
    edit = SetIndex("torch", CPU, "2.5.1", file=torch.source_file, line=torch.line, original=torch.raw)
    finding = Finding("DW101", "t", service.name, Severity.HIGH, package="torch", remedy=(edit,))
    route(edit, FixContext(service, project, finding, OFFLINE, workspace))
    dockerfile = next(c for c in workspace.changes() if c.path == "Dockerfile")
    assert "torch==2.4.1 torchvision==0.19.1" in dockerfile.after
    assert (project_dir / "requirements.txt").read_text().count("2.5.1") == 1  # the disk is untouched


def test_versions_are_checked_against_the_cpu_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index serves torch 2.13.0+cpu only: a ``>=2.1`` range installs that, a pin it lacks is refused."""
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = build_wheel(wheels, "torch", "2.13.0+cpu", {"torch/__init__.py": b""},
                        tag="cp311-cp311-manylinux_2_28_x86_64")
    write_index(tmp_path / "index" / "cpu", [wheel])
    with serve_indexes(tmp_path / "index") as (base,):
        settings = FixSettings(cpu_index_url=base + "cpu/", lock=False)
        project_dir = _copy("pip-requirements", tmp_path)
        (project_dir / "requirements.txt").write_text("torch>=2.1\n")
        workspace, ctx = _fix(project_dir, settings, version="2.15.0")
        # the exact build the index lists, label included: no other index pip reads can serve a higher label
        assert "torch==2.13.0+cpu\n" in workspace.changes()[0].after
        assert any("has no torch 2.15.0" in note for note in ctx.notes)
        (project_dir / "requirements.txt").write_text("torch==2.5.1\n")
        with pytest.raises(FixRefused, match=r"has no torch 2\.5\.1"):
            _fix(project_dir, settings)


def test_an_existing_index_name_on_another_url_is_refused(tmp_path: Path) -> None:
    project_dir = _copy("uv-basic", tmp_path)
    text = (project_dir / "pyproject.toml").read_text()
    (project_dir / "pyproject.toml").write_text(text + '\n[[tool.uv.index]]\nname = "pytorch-cpu"\n'
                                                'url = "https://elsewhere.example/simple"\n')
    with pytest.raises(FixRefused, match="already has an entry named"):
        _fix(project_dir)


def test_a_torch_source_already_set_is_refused(tmp_path: Path) -> None:
    project_dir = _copy("uv-existing-index", tmp_path)
    path = project_dir / "pyproject.toml"
    path.write_text(path.read_text().replace('corp-utils = { index = "corp" }',
                                             'corp-utils = { index = "corp" }\ntorch = { index = "corp" }'))
    with pytest.raises(FixRefused, match="already sets a source for torch"):
        _fix(project_dir)


def test_a_lock_regeneration_the_user_turned_off_is_a_note(tmp_path: Path) -> None:
    project_dir = _copy("uv-basic", tmp_path)
    (project_dir / "uv.lock").write_text("version = 1\n")
    _, ctx = _fix(project_dir)
    assert any("uv.lock must be regenerated" in note for note in ctx.notes)


@pytest.mark.parametrize(("member", "torch", "expected"), [
    ("torchvision", "2.5.1", "0.20.1"),
    ("torchvision", "2.5.1+cpu", "0.20.1"),
    ("torchvision", "2.0.0", "0.15.1"),  # 0.15.0 pins 2.0.0+cu117
    ("torchaudio", "2.0.0", "2.0.1"),  # the newest patch for the release wins
    ("torchvision", "2.9.1", "0.24.1"),
    ("torchvision", "2.13.0", "0.28.0"),
    ("torchaudio", "2.13.0", "2.11.1"),  # torchaudio 2.11.1 requires torch>=2.11
    ("torchvision", "1.13.1", None),
    ("torchvision", "2.6.1", None),
])
def test_family_table(member: str, torch: str, expected: str | None) -> None:
    assert member_version(member, torch) == expected
