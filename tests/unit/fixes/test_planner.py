"""The planner's bookkeeping on real files: each finding all or nothing (a refusal restores the workspace, the
other findings go on), what is not acted on and why (manual, --only, uncertain verdicts, unknown services),
a fix shared by two services made once ("already made"), and a second plan over the written result empty.

The editors are other modules' (and their own tests'); the few tests here that must see an edit succeed pass
the planner ``apply=`` a small editor that removes the requirement line the edit names, checking it first,
the way the requirements editor is specified to. Everything else goes through the real registry."""

from __future__ import annotations

from pathlib import Path

from deadweight.fixes.base import FixContext, FixRefused, FixSettings
from deadweight.fixes.planner import Selection, plan_fixes
from deadweight.fixes.text import lines, replace_lines
from deadweight.fixes.transaction import commit
from deadweight.fixes.workspace import Workspace
from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
from deadweight.model.finding import Finding, Severity
from deadweight.model.project import Project, Service
from deadweight.model.remedy import AddDockerignore, Edit, RemoveRequirement
from deadweight.model.usage import Confidence

SETTINGS = FixSettings()


def remove_line(edit: Edit, ctx: FixContext) -> None:
    """Remove the requirement at ``edit.line`` when it still reads ``edit.original``; no change when the
    requirement is gone already; refuse otherwise."""
    assert isinstance(edit, RemoveRequirement) and edit.file
    text = ctx.workspace.text(edit.file)
    physical = lines(text)
    if not any(line.strip() == edit.original for line in physical):
        return
    if not 1 <= edit.line <= len(physical) or physical[edit.line - 1].strip() != edit.original:
        raise FixRefused(f"line {edit.line} no longer reads {edit.original}")
    ctx.workspace.set(edit.file, replace_lines(text, edit.line, edit.line, []))


def _project(tmp_path: Path, *names: str) -> Project:
    return Project(str(tmp_path), tuple(Service(n, str(tmp_path), None, None) for n in names))


def _finding(service: str, package: str, *remedy: Edit, rule: str = "DW201",
             confidence: Confidence = Confidence.HIGH, severity: Severity = Severity.MEDIUM) -> Finding:
    return Finding(rule=rule, title=f"{package} is never used", service=service, severity=severity,
                   package=package, savings_bytes=1000, confidence=confidence, remedy=remedy, fix="hint")


def _report(tmp_path: Path, by_service: dict[str, list[Finding]], errors: dict[str, str] | None = None
            ) -> AuditReport:
    rows = [ServiceResult(name, None, "static", None, 0, findings=tuple(f)) for name, f in by_service.items()]
    rows += [ServiceResult(name, None, "static", None, 0, error=e, error_kind="input")
             for name, e in (errors or {}).items()]
    return AuditReport(str(tmp_path), tuple(rows), AuditTotals(0, 0, 0))


def _remove(tmp_path: Path, package: str, line: int, name: str = "requirements.txt") -> RemoveRequirement:
    return RemoveRequirement(package, file=str(tmp_path / name), line=line, end_line=line, original=package)


def test_two_services_sharing_a_requirements_file_remove_once(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\r\nscipy\r\nrequests\r\n", encoding="utf-8")
    edit = _remove(tmp_path, "scipy", 2)
    report = _report(tmp_path, {"api": [_finding("api", "scipy", edit)], "worker": [_finding("worker", "scipy", edit)]})
    plan, _ = plan_fixes(report, _project(tmp_path, "api", "worker"), SETTINGS, apply=remove_line)
    first, second = plan.fixes
    assert (first.service, first.status, first.reason) == ("api", "planned", "")
    assert [(c.path, c.before, c.after) for c in first.changes] == [
        ("requirements.txt", "flask\r\nscipy\r\nrequests\r\n", "flask\r\nrequests\r\n")]
    assert (second.service, second.status, second.changes) == ("worker", "planned", ())
    assert "already made" in second.reason
    assert plan.changed_files == ("requirements.txt",)


def test_a_refusal_restores_the_workspace_and_the_others_go_on(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\nscipy\npandas\n", encoding="utf-8")
    # one finding, two edits: the first is made, the second refused (its line reads something else)
    both = _finding("api", "scipy", _remove(tmp_path, "scipy", 2), _remove(tmp_path, "flask", 3))
    other = _finding("api", "pandas", _remove(tmp_path, "pandas", 3))
    plan, workspace = plan_fixes(_report(tmp_path, {"api": [both, other]}), _project(tmp_path, "api"), SETTINGS,
                                 apply=remove_line)
    by_package = {f.package: f for f in plan.fixes}
    assert by_package["scipy"].status == "refused"
    assert by_package["scipy"].reason == "line 3 no longer reads flask"
    assert by_package["scipy"].changes == ()
    assert by_package["pandas"].status == "planned"
    assert workspace.text("requirements.txt") == "flask\nscipy\n"  # scipy's removal was undone
    assert [(f.path, f.after) for f in plan.files] == [("requirements.txt", "flask\nscipy\n")]


def test_plan_again_over_the_written_result_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\nscipy\npandas", encoding="utf-8")
    findings = [_finding("api", "scipy", _remove(tmp_path, "scipy", 2)),
                _finding("api", "pandas", _remove(tmp_path, "pandas", 3))]
    report = _report(tmp_path, {"api": findings})
    project = _project(tmp_path, "api")
    plan, workspace = plan_fixes(report, project, SETTINGS, apply=remove_line)
    # pandas (line 3) goes first: same order key, package sorts first; then scipy's line 2 still reads scipy
    assert [f.status for f in plan.fixes] == ["planned", "planned"]
    assert commit(workspace) == ["requirements.txt"]
    assert (tmp_path / "requirements.txt").read_bytes() == b"flask\n"
    again, _ = plan_fixes(report, project, SETTINGS, apply=remove_line)
    assert again.files == ()
    assert all(f.status == "planned" and not f.changes and "already made" in f.reason for f in again.fixes)


def test_what_is_not_acted_on_and_why(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\nscipy\n", encoding="utf-8")
    edit = _remove(tmp_path, "scipy", 2)
    report = _report(tmp_path, {
        "api": [
            _finding("api", "scipy", edit, confidence=Confidence.MEDIUM),
            _finding("api", "flask", rule="DW501"),  # no remedy
            _finding("api", "numpy", _remove(tmp_path, "numpy", 1), rule="DW203"),
        ],
        "gone": [_finding("gone", "scipy", edit)],
    })
    plan, workspace = plan_fixes(report, _project(tmp_path, "api"), SETTINGS, Selection.parse(["DW201", "DW501"]),
                                 apply=remove_line)
    rows = {(f.service, f.rule, f.package): (f.status, f.reason) for f in plan.fixes}
    assert rows[("api", "DW201", "scipy")] == (
        "skipped", "the verdict's confidence is medium: remove it by hand after checking")
    assert rows[("api", "DW501", "flask")] == ("manual", "no automatic fix: hint")
    assert rows[("api", "DW203", "numpy")] == ("skipped", "not selected (--only)")
    assert rows[("gone", "DW201", "scipy")] == ("skipped", "service gone is not in the project")
    assert plan.files == () and workspace.changed_keys() == []


def test_only_narrows_to_a_package(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("scipy\npandas\n", encoding="utf-8")
    report = _report(tmp_path, {"api": [_finding("api", "scipy", _remove(tmp_path, "scipy", 1)),
                                        _finding("api", "pandas", _remove(tmp_path, "pandas", 2))]})
    plan, _ = plan_fixes(report, _project(tmp_path, "api"), SETTINGS, Selection.parse(["dw201,Pandas"]),
                         apply=remove_line)
    assert {f.package: f.status for f in plan.fixes} == {"scipy": "skipped", "pandas": "planned"}
    assert [f.after for f in plan.files] == ["scipy\n"]


def test_the_real_registry_refuses_what_it_cannot_place(tmp_path: Path) -> None:
    (tmp_path / "NOTES.md").write_text("scipy\n", encoding="utf-8")
    report = _report(tmp_path, {"api": [
        _finding("api", "scipy", RemoveRequirement("scipy")),  # the project did not say where
        _finding("api", "pandas", _remove(tmp_path, "pandas", 1, name="NOTES.md")),
        _finding("api", "torch", RemoveRequirement("torch", file="/etc/passwd", line=1, original="torch")),
        _finding("api", "data", AddDockerignore(("data",), file=str(tmp_path.parent / ".dockerignore")),
                 rule="DW401"),
    ]})
    plan, workspace = plan_fixes(report, _project(tmp_path, "api"), SETTINGS)
    reasons = {f.package: f.reason for f in plan.fixes}
    assert {f.status for f in plan.fixes} == {"refused"}
    assert reasons["scipy"] == "the project does not say where this is declared or installed"
    assert reasons["pandas"].startswith("no editor for a remove-requirement edit of")
    assert reasons["torch"].startswith("/etc/passwd is outside the project root")
    assert not (tmp_path.parent / ".dockerignore").exists()
    assert plan.files == () and workspace.changed_keys() == []


def test_an_editor_error_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("scipy\n", encoding="utf-8")

    def out_of_range(edit: Edit, ctx: FixContext) -> None:
        text = ctx.workspace.text("requirements.txt")
        ctx.workspace.set("requirements.txt", text + "x\n")
        ctx.workspace.set("requirements.txt", replace_lines(text, 5, 5, []))

    report = _report(tmp_path, {"api": [_finding("api", "scipy", _remove(tmp_path, "scipy", 5))]})
    plan, workspace = plan_fixes(report, _project(tmp_path, "api"), SETTINGS, apply=out_of_range)
    (row,) = plan.fixes
    assert row.status == "refused"
    assert row.reason == "the edited text did not check out: lines 5..5 outside 1..1"
    assert workspace.changed_keys() == []


def test_unaudited_services_and_severity_are_carried(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("scipy\n", encoding="utf-8")
    report = _report(tmp_path, {"api": [_finding("api", "scipy", severity=Severity.HIGH)]},
                     errors={"db": "db/Dockerfile:3: unknown instruction"})
    plan, _ = plan_fixes(report, _project(tmp_path, "api", "db"), SETTINGS)
    assert [(u.service, u.error, u.error_kind) for u in plan.unaudited] == [
        ("db", "db/Dockerfile:3: unknown instruction", "input")]
    assert [f.severity for f in plan.fixes] == [Severity.HIGH]


def test_findings_are_fixed_in_edit_kind_order(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("scipy\n", encoding="utf-8")
    seen: list[str] = []

    def record(edit: Edit, ctx: FixContext) -> None:
        seen.append(edit.kind)

    report = _report(tmp_path, {"api": [
        _finding("api", "data", AddDockerignore(("data",), file=str(tmp_path / ".dockerignore")), rule="DW401"),
        _finding("api", "scipy", _remove(tmp_path, "scipy", 1)),
    ]})
    plan_fixes(report, _project(tmp_path, "api"), SETTINGS, workspace=Workspace(tmp_path), apply=record)
    assert seen == ["remove-requirement", "add-dockerignore"]
