"""fixes/pyproject: golden diffs on real files, the refusals, CRLF, idempotence and locks."""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest

from deadweight.fixes import pyproject
from deadweight.fixes.base import FixRefused, FixSettings
from deadweight.fixes.registry import apply_edit
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement
from tests.unit.fixes.pyproject_support import context, declared, pick, remove_edit, replace_edit, run, unified

CASES = Path(__file__).parents[2] / "fixtures" / "fix" / "pyproject"
UPDATE = os.environ.get("DEADWEIGHT_UPDATE_GOLDEN") == "1"


def _cases() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "case.toml").is_file())


def _edit(root: Path, case: dict[str, object]) -> RemoveRequirement | ReplaceRequirement:
    group = case.get("group")
    req = pick(root / "pyproject.toml", str(case["package"]), str(group) if group else None,
               str(case["origin"]) if "origin" in case else None)
    if case["kind"] == "remove":
        return remove_edit(req)
    name, specifier = case.get("name"), case.get("specifier")
    return replace_edit(req, name=str(name) if name else None, specifier=str(specifier) if specifier else None)


def _settings(case: dict[str, object]) -> FixSettings:
    return FixSettings(pin_pyproject=bool(case.get("pin_pyproject", False)), lock=bool(case.get("lock", True)),
                       offline=bool(case.get("offline", False)))


def _copy(name: str, tmp_path: Path, crlf: bool = False) -> Path:
    root = tmp_path / name
    shutil.copytree(CASES / name, root)
    if crlf:
        p = root / "pyproject.toml"
        p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    return root


@pytest.mark.parametrize("name", _cases())
def test_golden(name: str, tmp_path: Path) -> None:
    root = _copy(name, tmp_path)
    case = tomllib.loads((root / "case.toml").read_text())
    before = (root / "pyproject.toml").read_text()
    edit = _edit(root, case)
    golden = CASES / name / "expected.diff"
    if "refused" in case:
        with pytest.raises(FixRefused) as exc:
            run(root, edit, _settings(case))
        assert str(case["refused"]) in str(exc.value)
        assert not golden.exists()
        return
    after, ctx = run(root, edit, _settings(case))
    diff = unified(before, after)
    if UPDATE:
        golden.write_text(diff)
    assert diff == golden.read_text()
    assert diff, "a golden case changes the file"
    if "note" in case:
        assert any(str(case["note"]) in n for n in ctx.notes)
    # nothing on disk changed: the fixer only writes to the workspace
    assert (root / "pyproject.toml").read_text() == before
    # the edit again on the edited text: no change, no error
    ctx2 = context(root, declared(root / "pyproject.toml"), _settings(case), workspace=ctx.workspace)
    if isinstance(edit, RemoveRequirement):
        pyproject.remove(edit, ctx2)
    else:
        pyproject.replace(edit, ctx2)
    assert ctx.workspace.text(root / "pyproject.toml") == after


@pytest.mark.parametrize("name", [n for n in _cases() if not n.startswith("lock-")])
def test_crlf_files_keep_crlf(name: str, tmp_path: Path) -> None:
    root = _copy(name, tmp_path, crlf=True)
    case = tomllib.loads((root / "case.toml").read_text())
    if "refused" in case:
        return
    before = (root / "pyproject.toml").read_bytes().decode()
    after, _ = run(root, _edit(root, case), _settings(case))
    assert "\n" not in after.replace("\r\n", "")
    want = (CASES / name / "expected.diff").read_text()
    got = unified(before.replace("\r\n", "\n"), after.replace("\r\n", "\n"))
    assert got == want


def test_only_the_group_the_remedy_names(tmp_path: Path) -> None:
    root = _copy("optional-group", tmp_path)
    path = root / "pyproject.toml"
    server = pick(path, "requests", "server")
    # the service installs the main dependencies and the server extra, not docs
    installed = [r for r in declared(path) if r.group in (None, "server")]
    after, _ = run(root, remove_edit(server), reqs=installed)
    data = tomllib.loads(after)
    assert data["project"]["dependencies"] == ["requests"]
    assert data["project"]["optional-dependencies"]["docs"] == ["sphinx", "requests"]
    assert data["project"]["optional-dependencies"]["server"] == ["gunicorn"]


def test_two_removals_in_one_plan_use_the_lines_the_audit_saw(tmp_path: Path) -> None:
    root = _copy("pep621-multiline", tmp_path)
    path = root / "pyproject.toml"
    reqs = declared(path)
    ctx = context(root, reqs)
    for package in ("fastapi", "numpy"):  # the second edit's line moved up after the first
        apply_edit(remove_edit(pick(path, package)), ctx)
    names = [r.name for r in declared(path)]
    assert names == ["fastapi", "pandas", "numpy", "uvicorn"]  # disk untouched
    data = tomllib.loads(ctx.workspace.text(path))
    assert data["project"]["dependencies"] == ["pandas>=2.2", "uvicorn[standard]>=0.29"]


def test_registry_routes_pyproject_edits(tmp_path: Path) -> None:
    root = _copy("pep621-single-line", tmp_path)
    path = root / "pyproject.toml"
    ctx = context(root, declared(path))
    apply_edit(remove_edit(pick(path, "httpx")), ctx)
    assert '["fastapi", "boto3>=1.34"]' in ctx.workspace.text(path)


def test_edit_whose_entry_is_gone_from_disk_text_is_refused(tmp_path: Path) -> None:
    root = _copy("pep621-single-line", tmp_path)
    path = root / "pyproject.toml"
    edit = RemoveRequirement("flask", file=str(path), line=3, end_line=3, original="flask")
    with pytest.raises(FixRefused, match="cannot find flask"):
        run(root, edit)


def test_pin_is_refused_without_pin_pyproject_and_made_with_it(tmp_path: Path) -> None:
    root = _copy("pep621-pin", tmp_path)
    edit = replace_edit(pick(root / "pyproject.toml", "torch"), specifier="==2.2.2")
    with pytest.raises(FixRefused, match="libraries should not pin"):
        run(root, edit)
    after, _ = run(root, edit, FixSettings(pin_pyproject=True))
    assert "  'torch==2.2.2',\n" in after


def test_poetry_multiple_constraints_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.11"\ntorch = [\n  { version = "^2.2", python = ">=3.11" },\n]\n')
    edit = replace_edit(pick(tmp_path / "pyproject.toml", "torch"), specifier="==2.2.2")
    with pytest.raises(FixRefused, match="no version string"):
        run(tmp_path, edit, FixSettings(pin_pyproject=True))
    after, _ = run(tmp_path, remove_edit(pick(tmp_path / "pyproject.toml", "torch")))
    assert after == '[tool.poetry.dependencies]\npython = "^3.11"\n'


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    root = _copy("pep621-single-line", tmp_path)
    path = root / "pyproject.toml"
    edit = remove_edit(pick(path, "httpx"))
    ctx = context(root, declared(path))
    ctx.workspace.set(path, ctx.workspace.text(path) + "[[broken\n")
    with pytest.raises(FixRefused, match="not valid TOML"):
        pyproject.remove(edit, ctx)


def test_element_sharing_a_line_with_the_bracket(tmp_path: Path) -> None:
    text = '[project]\ndependencies = ["a",\n                "b",\n                "c"]\n'
    (tmp_path / "pyproject.toml").write_text(text)
    before = (tmp_path / "pyproject.toml").read_text()
    for package, want in [("a", '[project]\ndependencies = [\n                "b",\n                "c"]\n'),
                          ("b", '[project]\ndependencies = ["a",\n                "c"]\n'),
                          ("c", '[project]\ndependencies = ["a",\n                "b"]\n')]:
        after, _ = run(tmp_path, remove_edit(pick(tmp_path / "pyproject.toml", package)))
        assert after == want, unified(before, after)


def test_an_unused_poetry_source_is_a_note(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.11"\ntorch = { version = "^2.2", source = "pytorch" }\n\n'
        '[[tool.poetry.source]]\nname = "pytorch"\nurl = "https://download.pytorch.org/whl/cpu"\n'
        'priority = "explicit"\n')
    after, ctx = run(tmp_path, remove_edit(pick(tmp_path / "pyproject.toml", "torch")))
    assert "torch =" not in after and "[[tool.poetry.source]]" in after
    assert ctx.notes == ["the Poetry source 'pytorch' is no longer used by any dependency"]


def test_a_package_in_two_extras_loses_each_entry_its_own_finding_names(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\ndependencies = []\n\n[project.optional-dependencies]\n'
        'dev = ["pytest", "requests"]\ntest = ["requests", "coverage"]\n')
    path = tmp_path / "pyproject.toml"
    dev, test = pick(path, "requests", "dev"), pick(path, "requests", "test")
    assert (dev.line, test.line) == (6, 7)
    # the image installs only the test extra: the dev entry stays
    after, _ = run(tmp_path, remove_edit(test), reqs=[test])
    assert tomllib.loads(after)["project"]["optional-dependencies"] == {"dev": ["pytest", "requests"],
                                                                        "test": ["coverage"]}
    # both installed: two findings, one entry each
    ctx = context(tmp_path, [dev, test])
    for req in (dev, test):
        apply_edit(remove_edit(req), ctx)
    assert tomllib.loads(ctx.workspace.text(path))["project"]["optional-dependencies"] == {"dev": ["pytest"],
                                                                                          "test": ["coverage"]}


def _plan(root: Path, settings: FixSettings, lock: str | None = None) -> tuple[str, str, str]:
    from deadweight.fixes.planner import plan_fixes
    from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
    from deadweight.model.finding import Finding, Severity

    path = root / "pyproject.toml"
    path.write_text('[project]\nname = "web"\ndependencies = [\n  "fastapi",\n  "boto3>=1.34",\n]\n')
    if lock:
        (root / lock).write_text("version = 1\n")
    ctx = context(root, declared(path))
    finding = Finding(rule="DW201", title="boto3 is declared but never used", service="app",
                      severity=Severity.MEDIUM, package="boto3", remedy=(remove_edit(pick(path, "boto3")),))
    report = AuditReport(root=str(root), services=(ServiceResult("app", None, "static", None, 0, (finding,)),),
                         totals=AuditTotals(0, 0, 0))
    plan, workspace = plan_fixes(report, ctx.project, settings)
    (row,) = plan.fixes
    return row.status, row.reason, workspace.text(path)


def test_the_planner_makes_the_fix_and_the_lock_decides(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    status, _, text = _plan(tmp_path / "a", FixSettings())
    assert status == "planned" and "boto3" not in text
    (tmp_path / "b").mkdir()
    # the lock cannot be regenerated (offline: uv needs the index): refused, the pyproject edit rolled back
    status, reason, text = _plan(tmp_path / "b", FixSettings(offline=True), lock="uv.lock")
    assert status == "refused" and "uv.lock must be regenerated" in reason and "boto3" in text
    (tmp_path / "c").mkdir()
    status, reason, text = _plan(tmp_path / "c", FixSettings(lock=False), lock="poetry.lock")
    assert status == "planned" and "poetry.lock must be regenerated" in reason and "boto3" not in text
