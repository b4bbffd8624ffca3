"""deadweight fix through the CLI on real projects in static mode (no Docker engine, a local index): the
refusals that hold whatever the editors can do (merge-conflict markers, a requirements file that is a symlink
out of the project, a report naming /etc/passwd) with their exit code 4 and reason line, a dry run and a
refused --write leaving every byte as it was, --only and --fail-on deciding the exit code, --from-report
planning what the live audit plans, the JSON against its schema, and bad input as one line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.support.wheels import build_wheel, serve_indexes, write_index

import deadweight
from deadweight.cli.fix import exit_code
from deadweight.cli.main import main
from deadweight.errors import FixError
from deadweight.model.finding import Severity
from deadweight.model.plan import FileChange, FixPlan, PlannedFix, UnauditedService
from deadweight.pipeline.audit import audit_config
from deadweight.reports import fix_json

DOCKERFILE = ("FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r "
              "requirements.txt\nCOPY app ./app\nCMD [\"python\", \"-m\", \"app.main\"]\n")


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No engine, a private cache, and an index where heavy-lib (3 MB, never imported) lives."""
    wheels_dir = tmp_path / "wheels"
    wheels_dir.mkdir()
    wheels = [build_wheel(wheels_dir, "app-lib", "1.0", {"app_lib/__init__.py": b"x = 1\n" * 50}),
              build_wheel(wheels_dir, "heavy-lib", "2.0",
                          {"heavy_lib/__init__.py": b"", "heavy_lib/data.bin": b"\1" * 3_000_000})]
    write_index(tmp_path / "simple", wheels)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    with serve_indexes(tmp_path / "simple") as (url,):
        monkeypatch.setenv("PIP_INDEX_URL", url)
        yield


def make_service(root: Path, requirements: bytes = b"app-lib==1.0\r\nheavy-lib==2.0\r\n") -> Path:
    (root / "app").mkdir(parents=True)
    (root / ".git").mkdir()  # the config search stops here
    (root / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (root / "requirements.txt").write_bytes(requirements)
    (root / "app" / "__init__.py").write_text("", encoding="utf-8")
    (root / "app" / "main.py").write_text("import app_lib\n\nprint(app_lib.x)\n", encoding="utf-8")
    return root


CONFLICTED = b"app-lib==1.0\n<<<<<<< HEAD\nheavy-lib==2.0\n=======\nheavy-lib==1.9\n>>>>>>> theirs\n"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (links as their target name), to compare before and after."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(root))] = b"-> " + str(p.readlink()).encode()
        elif p.is_file():
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["fix", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *args, "--format", "json")
    assert err == ""
    doc: dict[str, Any] = json.loads(out)
    jsonschema.validate(doc, fix_json.load_schema(), cls=jsonschema.Draft202012Validator)
    return code, doc


def audit_json(capsys: pytest.CaptureFixture[str], root: Path, out: Path) -> dict[str, Any]:
    main(["audit", str(root), "--format", "json", "-o", str(out)])
    capsys.readouterr()
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def test_conflict_markers_refuse_with_exit_4_and_write_nothing(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    root = make_service(tmp_path / "svc", CONFLICTED)
    before = tree(root)
    for extra in ((), ("--write",)):
        code, out, err = run(capsys, str(root), *extra)
        assert (code, err) == (4, "")
        refused = [line for line in out.splitlines() if line.startswith("# refused: DW201 svc heavy-lib: ")]
        assert refused and all(line.endswith("requirements.txt has unresolved merge-conflict markers")
                               for line in refused)
        assert out.splitlines()[-1] == f"# would change 0 file(s); {len(refused)} fix(es) could not be made"
        assert tree(root) == before


def test_a_requirements_symlink_out_of_the_project_is_refused(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    root = make_service(tmp_path / "svc")
    shared = tmp_path / "shared-requirements.txt"
    shared.write_bytes((root / "requirements.txt").read_bytes())
    (root / "requirements.txt").unlink()
    (root / "requirements.txt").symlink_to(shared)
    code, doc = run_json(capsys, str(root), "--write")
    assert code == 4
    assert doc["written"] is False
    (row,) = [f for f in doc["fixes"] if f["package"] == "heavy-lib"]
    assert row["status"] == "refused"
    assert f"resolves to {shared}" in row["reason"] and "outside the project root" in row["reason"]
    assert shared.read_bytes() == b"app-lib==1.0\r\nheavy-lib==2.0\r\n"


def test_dry_run_writes_nothing_and_only_and_fail_on_decide_the_exit(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    root = make_service(tmp_path / "svc", CONFLICTED)
    before = tree(root)
    code, doc = run_json(capsys, str(root))
    assert code == 4 and doc["written"] is False
    assert {f["rule"] for f in doc["fixes"]} >= {"DW201"}
    # --only a rule with no finding: nothing selected, nothing refused; DW201 (medium) is below the default
    # fail level (high), so 0, and with --fail-on medium the finding still in the files makes it 1
    code, doc = run_json(capsys, str(root), "--only", "DW999")
    assert code == 0
    assert {f["status"] for f in doc["fixes"]} == {"skipped"}
    assert all(f["reason"] == "not selected (--only)" for f in doc["fixes"])
    assert run(capsys, str(root), "--only", "DW999", "--fail-on", "medium")[0] == 1
    assert run(capsys, str(root), "--only", "DW999", "--fail-on", "DW201")[0] == 1
    assert run(capsys, str(root), "--only", "DW999", "--fail-on", "none")[0] == 0
    # with --write, findings not fixed (skipped) still count
    assert run(capsys, str(root), "--only", "DW999", "--fail-on", "medium", "--write")[0] == 1
    # --only RULE,PACKAGE selects that package's finding only
    code, doc = run_json(capsys, str(root), "--only", "DW201,heavy-lib")
    statuses = {(f["rule"], f["package"]): f["status"] for f in doc["fixes"]}
    assert statuses[("DW201", "heavy-lib")] == "refused"
    assert all(s == "skipped" for key, s in statuses.items() if key != ("DW201", "heavy-lib"))
    assert tree(root) == before


def test_from_report_plans_what_the_live_audit_plans(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = make_service(tmp_path / "svc", CONFLICTED)
    report = tmp_path / "audit.json"
    audited = audit_json(capsys, root, report)
    assert any(f["remedy"] for s in audited["services"] for f in s["findings"])
    live_code, live = run_json(capsys, str(root))
    code, from_report = run_json(capsys, str(root), "--from-report", str(report))
    assert code == live_code
    assert from_report["fixes"] == live["fixes"] and from_report["files"] == live["files"]
    assert from_report["warnings"] == []
    # --select / --ignore narrow the report's findings as they narrow a live audit
    for option in (("--ignore", "DW201"), ("--select", "DW5")):
        _, live = run_json(capsys, str(root), *option)
        _, narrowed = run_json(capsys, str(root), "--from-report", str(report), *option)
        assert narrowed["fixes"] == live["fixes"]
        assert "DW201" not in {f["rule"] for f in narrowed["fixes"]}


def test_a_report_naming_files_outside_the_project_edits_none(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    root = make_service(tmp_path / "svc")
    report = tmp_path / "audit.json"
    doc = audit_json(capsys, root, report)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"heavy-lib==2.0\n")
    for service in doc["services"]:
        for finding in service["findings"]:
            for edit in finding["remedy"]:
                edit["file"] = str(outside) if finding["rule"] == "DW201" else "../../../../etc/passwd"
    report.write_text(json.dumps(doc), encoding="utf-8")
    passwd = Path("/etc/passwd").read_bytes()
    code, plan = run_json(capsys, str(root), "--from-report", str(report), "--write")
    assert code == 4 and plan["written"] is False
    refused = [f for f in plan["fixes"] if f["status"] == "refused"]
    assert refused and all("is outside the project root" in f["reason"] for f in refused)
    assert outside.read_bytes() == b"heavy-lib==2.0\n"
    assert Path("/etc/passwd").read_bytes() == passwd


@pytest.mark.parametrize(("content", "code", "message"), [
    (b"{not json", 3, "not JSON"),
    (b'{"schema": "deadweight/0", "command": "audit"}', 3, "schema is 'deadweight/0'"),
    (b'{"schema": "deadweight/1", "command": "guard"}', 3, "command is 'guard'"),
    (b'[1, 2]', 3, "not an audit report"),
])
def test_bad_reports_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, code: int,
                                  message: str) -> None:
    root = make_service(tmp_path / "svc")
    report = tmp_path / "r.json"
    report.write_bytes(content)
    got, out, err = run(capsys, str(root), "--from-report", str(report))
    assert got == code and out == ""
    assert err.count("\n") == 1 and err.startswith(f"deadweight: error: --from-report {report}: ")
    assert message in err


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "rewrite-everything"}, "unknown edit kind 'rewrite-everything'"),
    ({"line": "2"}, "remove-requirement edit: line must be int, not str"),
    ({"sudo": True}, "remove-requirement edit: unknown field(s) sudo"),
])
def test_a_bad_remedy_in_a_report_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             change: dict[str, Any], message: str) -> None:
    root = make_service(tmp_path / "svc")
    report = tmp_path / "audit.json"
    doc = audit_json(capsys, root, report)
    finding = next(f for s in doc["services"] for f in s["findings"] if f["rule"] == "DW201")
    finding["remedy"][0].update(change)
    report.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(capsys, str(root), "--from-report", str(report))
    assert (code, out) == (3, "")
    assert err.count("\n") == 1 and message in err and "(DW201) remedy[0]" in err


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = make_service(tmp_path / "svc")
    code, out, err = run(capsys, str(root), "--from-report", str(tmp_path / "missing.json"))
    assert (code, out) == (2, "")
    assert err == f"deadweight: error: --from-report {tmp_path / 'missing.json'}: no such file\n"
    report = tmp_path / "audit.json"
    audit_json(capsys, root, report)
    code, _, err = run(capsys, str(root), "--from-report", str(report), "--image", "oci:/nowhere")
    assert code == 2 and "--image, --build and --run do not apply" in err
    code, _, err = run(capsys, str(root), "--fail-on", "catastrophic")
    assert code == 2 and err.count("\n") == 1
    code, out, err = run(capsys, str(root), "--only", "scipy")
    assert (code, out) == (2, "")
    assert err == "deadweight: error: --only 'scipy': 'scipy' is not a rule id (DW201, or DW201,PACKAGE)\n"


def test_a_service_that_cannot_be_audited_is_exit_3_and_nothing_written(capsys: pytest.CaptureFixture[str],
                                                                         tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    make_service(root / "api", CONFLICTED)
    (root / "docker-compose.yml").write_text("services:\n  api:\n    build: ./api\n  db:\n    build: ./missing\n",
                                             encoding="utf-8")
    before = tree(root)
    code, doc = run_json(capsys, str(root), "--write")
    assert code == 3 and doc["written"] is False
    assert [u["service"] for u in doc["unaudited"]] == ["db"]
    assert "nothing written: db could not be audited" in doc["warnings"]
    code, out, _ = run(capsys, str(root))
    assert code == 3 and "# not audited: db: " in out
    assert tree(root) == before


def test_output_file_and_the_library_agree(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = make_service(tmp_path / "svc", CONFLICTED)
    out = tmp_path / "plan.json"
    code, stdout, _ = run(capsys, str(root), "--format", "json", "-o", str(out))
    assert code == 4 and stdout == ""
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(doc, fix_json.load_schema(), cls=jsonschema.Draft202012Validator)
    plan = deadweight.fix(root)
    assert isinstance(plan, FixPlan) and not plan.written
    assert fix_json.to_dict(plan) == doc
    assert FixError("x").exit_code == 4


def _row(status: str, severity: Severity, rule: str = "DW201", changed: bool = True) -> PlannedFix:
    changes = (FileChange("requirements.txt", "a\nb\n", "a\n"),) if changed else ()
    return PlannedFix(service="svc", rule=rule, title="t", package="b", path=None, hint="", savings_bytes=1,
                      estimated=False, severity=severity, status=status, changes=changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("rows", "write", "fail_on", "code"), [
    # not written: every finding is still in the files
    ([("planned", Severity.HIGH)], False, (), 1),
    ([("planned", Severity.MEDIUM)], False, (), 0),
    ([("planned", Severity.MEDIUM)], False, ("medium",), 1),
    # written: the planned ones are gone, the manual and skipped ones remain
    ([("planned", Severity.HIGH)], True, (), 0),
    ([("planned", Severity.HIGH), ("manual", Severity.HIGH)], True, (), 1),
    ([("planned", Severity.HIGH), ("skipped", Severity.LOW)], True, ("low",), 1),
    ([("planned", Severity.HIGH), ("skipped", Severity.LOW)], True, ("DW201",), 1),
    ([("skipped", Severity.HIGH)], True, ("none",), 0),
    # a refusal is 4 whatever else
    ([("planned", Severity.INFO), ("refused", Severity.INFO)], True, ("none",), 4),
])
def test_exit_code_counts_what_remains(rows: list[tuple[str, Severity]], write: bool, fail_on: tuple[str, ...],
                                       code: int, tmp_path: Path) -> None:
    config = audit_config(tmp_path, fail_on=fail_on)
    plan = FixPlan(root=str(tmp_path), fixes=tuple(_row(s, sev) for s, sev in rows), files=(), written=write)
    assert exit_code(plan, config, write=write) == code


def test_unaudited_exit_codes_follow_the_error_kind(tmp_path: Path) -> None:
    config = audit_config(tmp_path)
    refused = (_row("refused", Severity.HIGH),)
    usage = FixPlan(str(tmp_path), refused, (), unaudited=(UnauditedService("a", "bad ref", "usage"),
                                                           UnauditedService("b", "gone", "input")))
    assert exit_code(usage, config, write=False) == 2
    inputs = FixPlan(str(tmp_path), refused, (), unaudited=(UnauditedService("b", "gone", "input"),))
    assert exit_code(inputs, config, write=False) == 3


def test_every_option_status_and_json_field_is_documented() -> None:
    from deadweight.cli.fix import fix_command

    docs = Path(__file__).resolve().parents[2] / "docs"
    guide, cli, json_doc = ((docs / name).read_text(encoding="utf-8") for name in ("fix.md", "cli.md", "json.md"))
    cli_section = cli[cli.index("## `deadweight fix [PATH]`"):cli.index("## Writing `--output`")]
    options = [opt for param in fix_command.params for opt in getattr(param, "opts", []) if opt.startswith("--")]
    assert "--fail-on" in options and "--from-report" in options
    for opt in options:
        assert f"`{opt}" in guide, opt
        assert f"`{opt}" in cli_section, opt
    for status in ("planned", "refused", "manual", "skipped"):
        assert f"`{status}`" in guide, status
    for code in range(5):
        assert f"| {code} |" in guide, code
    section = json_doc[json_doc.index("## `deadweight fix --format json`"):]
    schema = fix_json.load_schema()
    fields = [*schema["properties"], *schema["$defs"]["fix"]["properties"], *schema["$defs"]["change"]["properties"]]
    for field in fields:
        assert re.search(rf"[`.]{field}[`\[]", section), field


PYPROJECT = ('[project]\nname = "svc"\nversion = "1.0"\n# what the service needs\ndependencies = [\n'
             '  "app-lib>=0.9",  # the one library\n]\n')
PYPROJECT_DOCKERFILE = ("FROM python:3.11-slim\nWORKDIR /srv\nCOPY . .\nRUN pip install --no-cache-dir .\n"
                        "CMD [\"python\", \"-m\", \"app.main\"]\n")


def test_a_pyproject_range_is_reported_skipped_by_default_and_pinned_with_pin_pyproject(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from deadweight.project.pyproject import parse_pyproject

    root = make_service(tmp_path / "svc")
    (root / "requirements.txt").unlink()
    (root / "Dockerfile").write_text(PYPROJECT_DOCKERFILE, encoding="utf-8")
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    # the static audit (the local index) resolves app-lib>=0.9 to 1.0 and reports the open range
    doc = audit_json(capsys, root, tmp_path / "audit.json")
    [finding] = [f for s in doc["services"] for f in s["findings"] if f["rule"] == "DW501"]
    assert finding["package"] == "app-lib" and finding["severity"] == "low"
    assert finding["path"].endswith("pyproject.toml:6")
    assert [(e["kind"], e["specifier"]) for e in finding["remedy"]] == [("replace-requirement", "==1.0")]

    # without --pin-pyproject the range is left alone on purpose: skipped (not refused, not exit 4)
    before = tree(root)
    code, plan = run_json(capsys, str(root), "--only", "DW501", "--write")
    [row] = [f for f in plan["fixes"] if f["rule"] == "DW501"]
    assert row["status"] == "skipped" and "--pin-pyproject" in row["reason"]
    assert code == 0 and plan["files"] == [] and tree(root) == before

    code, plan = run_json(capsys, str(root), "--only", "DW501", "--pin-pyproject", "--write")
    [row] = [f for f in plan["fixes"] if f["rule"] == "DW501"]
    assert row["status"] == "planned" and plan["written"] is True and code == 0
    after = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert after == PYPROJECT.replace('"app-lib>=0.9"', '"app-lib==1.0"')  # that line's specifier, nothing else
    old, new = parse_pyproject(PYPROJECT), parse_pyproject(after)
    assert [(r.name, r.specifier) for r in new.requirements] == [("app-lib", "==1.0")]
    assert [(r.name, r.line, r.group, r.origin) for r in new.requirements] == [
        (r.name, r.line, r.group, r.origin) for r in old.requirements]
    # a fresh audit no longer reports it, and a second fix changes nothing
    again = audit_json(capsys, root, tmp_path / "again.json")
    assert not [f for s in again["services"] for f in s["findings"] if f["rule"] == "DW501"]
    code, plan = run_json(capsys, str(root), "--pin-pyproject", "--write")
    assert plan["files"] == [] and code == 0
