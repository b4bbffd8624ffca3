"""The fix reports on a real plan: the diff blocks apply in order with ``patch`` and give exactly the planned
text (CRLF, a missing final newline and a created file included); the JSON validates against its schema and its
per-file diffs give the same text; an audit report's remedies survive the JSON round trip for every edit kind."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from deadweight.fixes.base import FixContext, FixSettings
from deadweight.fixes.planner import plan_fixes
from deadweight.fixes.text import insert_lines, lines, replace_lines
from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
from deadweight.model.finding import Finding, Severity
from deadweight.model.plan import FixPlan
from deadweight.model.project import Project, Service
from deadweight.model.remedy import (
    AddCleanup,
    AddDockerignore,
    AddInstallFlag,
    Edit,
    RemoveRequirement,
    ReplaceBase,
    ReplaceRequirement,
    SetIndex,
    SetMemoryLimit,
    SplitBuilderStage,
    edit_from_dict,
)
from deadweight.reports import audit_json, fix_diff, fix_json

pytestmark = pytest.mark.skipif(shutil.which("patch") is None, reason="needs GNU patch")


def editor(edit: Edit, ctx: FixContext) -> None:
    """Remove a requirement line, or append .dockerignore patterns: enough to make real changes."""
    assert edit.file
    if isinstance(edit, RemoveRequirement):
        text = ctx.workspace.text(edit.file)
        if any(line.strip() == edit.original for line in lines(text)):
            ctx.workspace.set(edit.file, replace_lines(text, edit.line, edit.line, []))
    elif isinstance(edit, AddDockerignore):
        text = ctx.workspace.text(edit.file) if ctx.workspace.exists(edit.file) else ""
        ctx.workspace.set(edit.file, insert_lines(text, len(lines(text)) + 1, list(edit.patterns)))


def _plan(root: Path) -> FixPlan:
    (root / "requirements.txt").write_bytes(b"flask\r\nscipy\r\npandas\r\nnumpy")
    findings = [
        Finding("DW201", "scipy is never used", "api", Severity.MEDIUM, package="scipy", savings_bytes=1000,
                remedy=(RemoveRequirement("scipy", file=str(root / "requirements.txt"), line=2, original="scipy"),)),
        Finding("DW201", "numpy is never used", "api", Severity.MEDIUM, package="numpy", savings_bytes=10,
                remedy=(RemoveRequirement("numpy", file=str(root / "requirements.txt"), line=4, original="numpy"),)),
        Finding("DW401", "clutter in the context", "api", Severity.LOW, savings_bytes=5,
                remedy=(AddDockerignore(("data", "*.ipynb"), file=str(root / ".dockerignore")),)),
    ]
    report = AuditReport(str(root), (ServiceResult("api", None, "static", None, 0, findings=tuple(findings)),),
                         AuditTotals(0, 0, 0))
    project = Project(str(root), (Service("api", str(root), None, None),))
    plan, _ = plan_fixes(report, project, FixSettings(), apply=editor)
    return plan


def _apply(diff: str, cwd: Path) -> None:
    done = subprocess.run(["patch", "-p1", "--binary", "--no-backup-if-mismatch", "-s"], input=diff.encode(),
                          cwd=cwd, capture_output=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_diff_applies_in_order_and_gives_the_planned_text(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    plan = _plan(root)
    assert [f.status for f in plan.fixes] == ["planned", "planned", "planned"]
    text = fix_diff.render(plan)
    assert "# DW201 api scipy: scipy is never used, saves 1.00 kB\n" in text
    assert text.endswith("# would change 2 file(s): .dockerignore, requirements.txt\n")
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    _apply(text, copy)
    for change in plan.files:
        assert (copy / change.path).read_bytes() == change.after.encode()
    assert (copy / "requirements.txt").read_bytes() == b"flask\r\npandas\r\n"


def test_the_json_validates_and_its_file_diffs_give_the_final_text(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    plan = _plan(root)
    doc = json.loads(fix_json.render(plan))
    jsonschema.validate(doc, fix_json.load_schema(), cls=jsonschema.Draft202012Validator)
    assert doc["summary"] == {"planned": 3, "refused": 0, "manual": 0, "skipped": 0, "files": 2}
    assert [(f["path"], f["created"]) for f in doc["files"]] == [(".dockerignore", True),
                                                                  ("requirements.txt", False)]
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    _apply("".join(f["diff"] for f in doc["files"]), copy)
    assert (copy / ".dockerignore").read_bytes() == b"data\n*.ipynb\n"
    assert (copy / "requirements.txt").read_bytes() == b"flask\r\npandas\r\n"


EDITS: list[Edit] = [
    RemoveRequirement("scipy", reason="never imported", file="r.txt", line=2, end_line=3, original="scipy\\\n>=1"),
    ReplaceRequirement("psycopg2", name="psycopg2-binary", file="r.txt", line=1, end_line=1, original="psycopg2"),
    ReplaceRequirement("flask", specifier="==3.1.0", file="pyproject.toml", line=9, end_line=9),
    SetIndex("torch", "https://download.pytorch.org/whl/cpu", version="2.5.1", file="r.txt", line=3),
    AddInstallFlag("pip", "install", "--no-cache-dir", env="PIP_NO_CACHE_DIR=1", file="Dockerfile", line=4,
                   end_line=5, original="RUN pip install \\\n  -r r.txt\n"),
    AddCleanup("apt-get", "rm -rf /var/lib/apt/lists/*", file="Dockerfile", line=3, end_line=3),
    ReplaceBase("python:3.11", "python:3.11-slim", builder=True, alternative="python:3.11-alpine",
                file="Dockerfile", line=1, end_line=1, original="FROM python:3.11\n"),
    AddDockerignore(("data", "**/.venv"), file=".dockerignore"),
    SplitBuilderStage(("gcc", "libpq-dev"), (4, 7), file="Dockerfile", line=1, end_line=1),
    SetMemoryLimit("api", 512 << 20, current_bytes=2 << 30, file="compose.yaml", line=12, end_line=12),
    SetMemoryLimit("api", 512 << 20),
]


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: e.kind)
def test_every_edit_kind_survives_the_audit_json(edit: Edit) -> None:
    finding = Finding("DW000", "t", "api", Severity.LOW, remedy=(edit,))
    as_json = json.loads(json.dumps(audit_json._finding(finding)))
    (back,) = [edit_from_dict(e) for e in as_json["remedy"]]
    assert back == edit and type(back) is type(edit)


def test_the_round_trip_covers_every_kind() -> None:
    from deadweight.model import remedy

    assert {e.kind for e in EDITS} == {cls.kind for cls in remedy._KINDS.values()}
    assert all(dataclasses.fields(cls) for cls in remedy._KINDS.values())


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "add-cleanup", "tool": "apt-get"}, "add-cleanup edit: command is missing"),
    ({"kind": "set-memory-limit", "service": "api", "limit_bytes": True}, "limit_bytes must be int, not bool"),
    ({"kind": "replace-base", "old": "a", "new": "b", "builder": 1}, "builder must be bool, not int"),
    ({"kind": "add-dockerignore", "patterns": ["a", 3]}, "patterns must be tuple[str, ...], not list"),
    ({"kind": "add-dockerignore", "patterns": "data"}, "patterns must be tuple[str, ...], not str"),
    ({"kind": "remove-requirement", "package": None}, "package must be str, not NoneType"),
    ({"kind": 7}, "unknown edit kind 7"),
    ({}, "unknown edit kind None"),
])
def test_bad_edit_dicts_are_refused_with_one_line(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        edit_from_dict(data)
    assert message in str(info.value) and "\n" not in str(info.value)
