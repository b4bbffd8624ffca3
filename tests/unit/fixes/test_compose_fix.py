"""fixes/compose.set_memory_limit on real compose files: golden diffs, refusals, and a property test that the
edit touches only the limit's lines.

Goldens live in tests/fixtures/fix/compose/<file>.<service>.diff; ``DEADWEIGHT_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadweight.fixes.base import FixContext, FixRefused, FixSettings
from deadweight.fixes.compose import set_memory_limit, target_limit
from deadweight.fixes.compose_yaml import format_like
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding, Severity
from deadweight.model.project import Project, Service
from deadweight.model.remedy import SetMemoryLimit
from deadweight.project.compose import parse_compose_file
from deadweight.project.loader import load_project

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fix" / "compose"
MIB = 1 << 20
UPDATE = os.environ.get("DEADWEIGHT_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def _no_memory_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_MEM", "WORKER_MEM"):
        monkeypatch.delenv(name, raising=False)


def run_fix(root: Path, name: str, service: str, limit: int) -> tuple[str, str, FixContext]:
    """(before, after, ctx) of the fix for ``service`` in ``root/name``; raises FixRefused."""
    project = load_project(str(root / name), scan_deployments=False)
    svc = project.service(service)
    assert svc is not None, service
    workspace = Workspace(root)
    ctx = FixContext(service=svc, project=project, finding=Finding("DW701", "t", service, Severity.MEDIUM),
                     settings=FixSettings(), workspace=workspace)
    file, _, line = (svc.mem_limit_evidence or f"{svc.compose_file}:0").rpartition(":")
    before = workspace.text(root / name)
    set_memory_limit(SetMemoryLimit(service, limit, svc.memory_limit_bytes, file=file, line=int(line)), ctx)
    return before, workspace.text(root / name), ctx


def diff(before: str, after: str, name: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"))


def copy(tmp_path: Path, fixture: str) -> Path:
    shutil.copyfile(FIXTURES / fixture, tmp_path / fixture)
    return tmp_path


GOLDEN = [
    ("anchors.yaml", "api", 1536),
    ("deploy_quoted.yaml", "web", 1024),
    ("deploy_quoted.yaml", "bytes", 320),
    ("crlf.yaml", "api", 768),
    ("both.yaml", "same", 320),
    ("missing.yaml", "nolimit", 384),
    ("missing.yaml", "cpuonly", 2048),
    ("missing.yaml", "sized", 2560),
    ("interpolated.yaml", "defaulted", 2048),
]


@pytest.mark.parametrize(("fixture", "service", "mib"), GOLDEN)
def test_golden_diff(tmp_path: Path, fixture: str, service: str, mib: int) -> None:
    before, after, _ctx = run_fix(copy(tmp_path, fixture), fixture, service, mib * MIB)
    got = diff(before, after, fixture)
    golden = FIXTURES / f"{Path(fixture).stem}.{service}.diff"
    if UPDATE:
        golden.write_text(got, encoding="utf-8", newline="")
    assert got == golden.read_bytes().decode("utf-8")
    parsed = {s.name: s for s in parse_compose_file(tmp_path / fixture, {}).services}
    (tmp_path / fixture).write_text(after, encoding="utf-8", newline="")
    reparsed = {s.name: s for s in parse_compose_file(tmp_path / fixture, {}).services}
    assert reparsed[service].memory_limit_bytes == mib * MIB
    assert all(reparsed[n].memory_limit_bytes == s.memory_limit_bytes for n, s in parsed.items() if n != service)


def test_x_extensions_and_anchors_stay_byte_identical(tmp_path: Path) -> None:
    before, after, _ = run_fix(copy(tmp_path, "anchors.yaml"), "anchors.yaml", "api", 1536 * MIB)
    changed = [b for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == ["    mem_limit: 1536m # raised in March"]
    assert after.split("services:")[0] == before.split("services:")[0]


def test_crlf_is_kept(tmp_path: Path) -> None:
    _before, after, _ = run_fix(copy(tmp_path, "crlf.yaml"), "crlf.yaml", "api", 768 * MIB)
    assert "    mem_limit: 768M\r\n" in after and "\n" not in after.replace("\r\n", "")


REFUSED = [
    ("anchors.yaml", "worker", 2048, "comes from a <<: merge"),
    ("anchors.yaml", "base", 1024, "anchor &base"),
    ("anchors.yaml", "derived", 1024, "comes from a <<: merge"),
    ("both.yaml", "differ", 2048, "disagree"),
    ("missing.yaml", "flow", 512, "flow style"),
    ("interpolated.yaml", "bare", 512, "interpolated"),
    ("extends.yaml", "child", 2048, "inherited"),
]


@pytest.mark.parametrize(("fixture", "service", "mib", "reason"), REFUSED)
def test_refused(tmp_path: Path, fixture: str, service: str, mib: int, reason: str) -> None:
    with pytest.raises(FixRefused, match=reason):
        run_fix(copy(tmp_path, fixture), fixture, service, mib * MIB)


def test_interpolated_default_is_edited_with_a_note(tmp_path: Path) -> None:
    _b, after, ctx = run_fix(copy(tmp_path, "interpolated.yaml"), "interpolated.yaml", "defaulted", 2048 * MIB)
    assert "mem_limit: ${API_MEM:-2g}" in after
    assert any("API_MEM" in note and "still wins" in note for note in ctx.notes)


def test_interpolated_variable_set_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_MEM", "3g")
    with pytest.raises(FixRefused, match="API_MEM is set"):
        run_fix(copy(tmp_path, "interpolated.yaml"), "interpolated.yaml", "defaulted", 2048 * MIB)


@pytest.mark.parametrize(("fixture", "service", "mib"), [g for g in GOLDEN if g[0] != "interpolated.yaml"])
def test_idempotent(tmp_path: Path, fixture: str, service: str, mib: int) -> None:
    root = copy(tmp_path, fixture)
    _before, after, _ = run_fix(root, fixture, service, mib * MIB)
    (root / fixture).write_text(after, encoding="utf-8", newline="")
    _again_before, again, _ = run_fix(root, fixture, service, mib * MIB)
    assert again == after


def test_no_compose_file_is_refused(tmp_path: Path) -> None:
    svc = Service("solo", str(tmp_path), None, None)
    ctx = FixContext(svc, Project(str(tmp_path), (svc,)), Finding("DW701", "t", "solo", Severity.LOW),
                     FixSettings(), Workspace(tmp_path))
    with pytest.raises(FixRefused, match="not defined in a compose file"):
        set_memory_limit(SetMemoryLimit("solo", 512 * MIB), ctx)


def test_examples_compose_file(tmp_path: Path) -> None:
    """The example fleet: mem_limit for legacy-api, deploy.resources.limits.memory for the others."""
    repo = Path(__file__).resolve().parents[3]
    shutil.copyfile(repo / "examples" / "docker-compose.yml", tmp_path / "docker-compose.yml")
    text = (tmp_path / "docker-compose.yml").read_text()
    project = Project(str(tmp_path), ())
    workspace = Workspace(tmp_path)
    for name, mib in (("legacy-api", 768), ("torch-cpu-api", 3072), ("lean-svc", 192)):
        svc = Service(name, None, None, None, compose_file=str(tmp_path / "docker-compose.yml"))
        ctx = FixContext(svc, project, Finding("DW702", "t", name, Severity.LOW), FixSettings(), workspace)
        set_memory_limit(SetMemoryLimit(name, mib * MIB, file=svc.compose_file), ctx)
    after = workspace.text(tmp_path / "docker-compose.yml")
    changed = [(a, b) for a, b in zip(text.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("          memory: 2g", "          memory: 3g"), ("    mem_limit: 1g", "    mem_limit: 768m"),
                       ("          memory: 128m", "          memory: 192m")]


# ---------------------------------------------------------------- the headroom rule and the unit style


def test_target_is_the_rules_figure_or_recomputed_from_the_peak() -> None:
    assert target_limit(SetMemoryLimit("s", 1536 * MIB), 1.5) == 1536 * MIB
    assert target_limit(SetMemoryLimit("s", 1500 * MIB), 1.5) == 1536 * MIB  # rounded up to 64 MiB
    with pytest.raises(FixRefused, match="headroom of 2"):
        target_limit(SetMemoryLimit("s", 1536 * MIB), 2.0)


@pytest.mark.parametrize(("model", "target", "want"), [
    ("1g", 2 << 30, "2g"), ("1g", 1536 * MIB, "1536m"), ("2G", 3 << 30, "3G"), ("2G", 2560 * MIB, "2560M"),
    ("512m", 768 * MIB, "768m"), ("512M", 768 * MIB, "768M"), ("536870912", 320 * MIB, "335544320"),
    ("1GiB", 2 << 30, "2GiB"), ("1GB", 1536 * MIB, "1536MB"), ("1.5g", 2 << 30, "2g"), ("1k", 64 * MIB, "65536k"),
])
def test_format_like(model: str, target: int, want: str) -> None:
    assert format_like(model, target) == want


# ---------------------------------------------------------------- property: only the limit's lines change

_NAMES = st.sampled_from(["api", "worker", "db-proxy", "web_1", "cache"])
_LIMIT = st.sampled_from(["1g", "512m", '"2G"', "'768M'", "536870912", "1GiB", "256M"])
_COMMENT = st.sampled_from(["", "  # note", "   #x"])


@st.composite
def _service_block(draw: st.DrawFn, name: str) -> tuple[list[str], bool]:
    lines = [f"  {name}:{draw(_COMMENT)}", f"    image: example/{name}:1"]
    has_limit = False
    for key in draw(st.lists(st.sampled_from(["env", "ports", "mem", "deploy", "command", "comment", "blank"]),
                             unique=True, max_size=5)):
        if key == "env":
            lines += ["    environment:", '      A: "1"', "      B: two"]
        elif key == "ports":
            lines += ["    ports:", '    - "80:80"']
        elif key == "mem":
            lines.append(f"    mem_limit: {draw(_LIMIT)}{draw(_COMMENT)}")
            has_limit = True
        elif key == "deploy":
            limit = draw(st.one_of(st.none(), _LIMIT))
            lines += ["    deploy:", "      resources:", "        limits:", '          cpus: "1"']
            if limit is not None:  # with mem_limit too: both change, or they disagree (refused)
                lines.append(f"          memory: {limit}{draw(_COMMENT)}")
                has_limit = True
        elif key == "command":
            lines.append('    command: ["serve", "--port", "80"]')
        elif key == "comment":
            lines.append("    # a comment inside the service")
        else:
            lines.append("")
    return lines, has_limit


@st.composite
def _compose(draw: st.DrawFn) -> tuple[str, str, bool]:
    names = draw(st.lists(_NAMES, unique=True, min_size=1, max_size=4))
    out = ["# generated", "x-common: &common", "  restart: always", "services:"]
    limits: dict[str, bool] = {}
    for name in names:
        block, has_limit = draw(_service_block(name))
        out += block
        limits[name] = has_limit
    if draw(st.booleans()):
        out += ["volumes:", "  data: {}"]
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    pick = draw(st.sampled_from(names))
    return ending.join(out) + ending, pick, limits[pick]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_compose(), steps=st.integers(min_value=1, max_value=64))
def test_setting_the_limit_changes_only_the_limit_lines(case: tuple[str, str, bool], steps: int) -> None:
    text, service, has_limit = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "compose.yaml").write_text(text, encoding="utf-8", newline="")
        try:
            before, after, _ = run_fix(root, "compose.yaml", service, steps * 64 * MIB)
        except FixRefused as exc:  # two limits that disagree is the one refusal these files can earn
            assert "disagree" in str(exc)
            return
        assert before == text
        matcher = difflib.SequenceMatcher(a=before.splitlines(True), b=after.splitlines(True), autojunk=False)
        for op, a1, a2, b1, b2 in matcher.get_opcodes():
            if op == "equal":
                continue
            if has_limit:
                assert op == "replace" and a2 - a1 == b2 - b1
                for old, new in zip(before.splitlines(True)[a1:a2], after.splitlines(True)[b1:b2], strict=True):
                    assert old.split(":", 1)[0] == new.split(":", 1)[0]
                    assert old.lstrip().startswith(("mem_limit:", "memory:"))
            else:
                assert op == "insert"
                inserted = [line.strip() for line in after.splitlines()[b1:b2]]
                assert inserted[-1].startswith("memory: ") and set(inserted[:-1]) <= {"deploy:", "resources:",
                                                                                      "limits:"}
        (root / "compose.yaml").write_text(after, encoding="utf-8", newline="")
        reparsed = {s.name: s.memory_limit_bytes for s in parse_compose_file(root / "compose.yaml", {}).services}
        assert reparsed[service] == steps * 64 * MIB
        again_before, again, _ = run_fix(root, "compose.yaml", service, steps * 64 * MIB)
        assert again == again_before == after


def test_a_limit_other_services_extend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FixRefused, match="change the limit of service child"):
        run_fix(copy(tmp_path, "extends.yaml"), "extends.yaml", "common", 2048 * MIB)


def test_rule_to_plan_on_the_example_fleet(tmp_path: Path) -> None:
    """DW702's own remedy through the planner: the rule's figure, the registry, the fixer, one line changed."""
    from deadweight.config import Config
    from deadweight.fixes.planner import plan_fixes
    from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
    from deadweight.rules.base import RuleContext
    from deadweight.rules.dw70x_memory import LooseMemoryLimit, TightMemoryLimit

    repo = Path(__file__).resolve().parents[3]
    shutil.copytree(repo / "examples", tmp_path / "examples")
    project = load_project(str(tmp_path / "examples"), scan_deployments=False)
    legacy, lean = project.service("legacy-api"), project.service("lean-svc")
    assert legacy is not None and lean is not None
    loose = list(LooseMemoryLimit().evaluate(RuleContext(legacy, Config(), memory_peak_bytes=200 * MIB)))
    tight = list(TightMemoryLimit().evaluate(RuleContext(lean, Config(), memory_peak_bytes=125 * MIB)))
    assert loose and tight
    results = (ServiceResult("legacy-api", None, "static", None, 0, tuple(loose)),
               ServiceResult("lean-svc", None, "static", None, 0, tuple(tight)))
    report = AuditReport(str(tmp_path / "examples"), results, AuditTotals(0, 0, 0))
    plan, _workspace = plan_fixes(report, project, FixSettings())
    assert [f.status for f in plan.fixes] == ["planned", "planned"], [f.reason for f in plan.fixes]
    (change,) = plan.files
    assert change.before is not None
    changed = [(a, b) for a, b in zip(change.before.splitlines(), change.after.splitlines(), strict=True) if a != b]
    assert changed == [("    mem_limit: 1g", "    mem_limit: 320m"),
                       ("          memory: 128m", "          memory: 192m")]


def test_a_remedy_with_the_peak_takes_any_headroom() -> None:
    from deadweight.fixes.compose import target_limit
    from deadweight.model.remedy import SetMemoryLimit

    mib = 1 << 20
    edit = SetMemoryLimit("api", limit_bytes=1536 * mib, current_bytes=512 * mib, peak_bytes=1000 * mib)
    assert target_limit(edit, 1.5) == 1536 * mib  # 1500 MiB rounded up to 64 MiB
    assert target_limit(edit, 2.0) == 2048 * mib
    assert target_limit(edit, 1.0) == 1024 * mib
