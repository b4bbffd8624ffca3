"""fixes/dockerignore.add_patterns on real projects: golden diffs (create, extend, negation, CRLF, the ignore
file beside a custom Dockerfile), patterns dropped for what the build and the code need, property tests on
random ignore files, and the CLI end to end on the example fleet.

Goldens live in tests/fixtures/fix/dockerignore/<case>.diff; ``DEADWEIGHT_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadweight.errors import ParseError
from deadweight.fixes.base import FixContext, FixRefused, FixSettings
from deadweight.fixes.dockerignore import HEADER, add_patterns
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding, Severity
from deadweight.model.remedy import AddDockerignore
from deadweight.project.dockerignore import IgnoreMatcher
from deadweight.project.loader import load_project

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "fix" / "dockerignore"
UPDATE = os.environ.get("DEADWEIGHT_UPDATE_GOLDEN") == "1"
PATTERNS = ("data", "notebooks", "**/*.ipynb")


def copy(tmp_path: Path, case: str) -> Path:
    root = tmp_path / case
    shutil.copytree(FIXTURES / case, root)
    return root


def fix(root: Path, patterns: tuple[str, ...] = PATTERNS, service: str | None = None,
        workspace: Workspace | None = None) -> tuple[Workspace, FixContext]:
    """Run the fixer for ``service`` (the only one by default); raises FixRefused."""
    project = load_project(str(root), scan_deployments=False)
    svc = project.service(service) if service else project.services[0]
    assert svc is not None
    workspace = workspace or Workspace(root)
    ctx = FixContext(service=svc, project=project, finding=Finding("DW401", "t", svc.name, Severity.LOW),
                     settings=FixSettings(), workspace=workspace)
    add_patterns(AddDockerignore(patterns, file=svc.dockerignore or str(root / ".dockerignore")), ctx)
    return workspace, ctx


def diffs(workspace: Workspace) -> str:
    out = []
    for change in workspace.changes():
        before = (change.before or "").splitlines(True)
        out.append("".join(difflib.unified_diff(before, change.after.splitlines(True),
                                                f"a/{change.path}" if change.before is not None else "/dev/null",
                                                f"b/{change.path}")))
    return "".join(out)


def golden(case: str, got: str) -> str:
    path = FIXTURES / f"{case}.diff"
    if UPDATE:
        path.write_bytes(got.encode("utf-8"))
    return path.read_bytes().decode("utf-8")


def write_back(root: Path, workspace: Workspace) -> None:
    for change in workspace.changes():
        (root / change.path).write_bytes(change.after.encode("utf-8"))


@pytest.mark.parametrize("case", ["create", "extend", "negation", "crlf", "copy_named", "code_opens", "specific"])
def test_golden_diff(tmp_path: Path, case: str) -> None:
    root = copy(tmp_path, case)
    workspace, _ctx = fix(root)
    assert diffs(workspace) == golden(case, diffs(workspace))


@pytest.mark.parametrize("case", ["create", "extend", "negation", "crlf", "copy_named", "code_opens", "specific"])
def test_reapplying_is_a_no_op(tmp_path: Path, case: str) -> None:
    root = copy(tmp_path, case)
    workspace, _ = fix(root)
    write_back(root, workspace)
    again, ctx = fix(root)
    assert again.changes() == ()
    assert not [n for n in ctx.notes if "not adding" in n and "data" not in n]


def test_created_file_excludes_the_clutter_and_keeps_the_rest(tmp_path: Path) -> None:
    root = copy(tmp_path, "create")
    workspace, _ = fix(root)
    text = workspace.text(root / ".dockerignore")
    assert text.splitlines()[0] == HEADER
    matcher = IgnoreMatcher.from_lines(text.splitlines())
    assert matcher.excluded("data/orders.csv") and matcher.excluded("notebooks/explore.ipynb")
    assert not any(matcher.excluded(p) for p in ("Dockerfile", "app.py", "requirements.txt", ".dockerignore"))


def test_negation_keeps_working(tmp_path: Path) -> None:
    """``data`` after ``!data/sample.csv`` would exclude the sample again: it goes before the first ``!``."""
    root = copy(tmp_path, "negation")
    workspace, _ = fix(root)
    text = workspace.text(root / ".dockerignore")
    matcher = IgnoreMatcher.from_lines(text.splitlines())
    assert not matcher.excluded("data/sample.csv") and not matcher.excluded("README.md")
    assert matcher.excluded("data/orders.csv") and matcher.excluded("other.md")
    assert text.index("data\n") < text.index("!README.md")


def test_copy_of_a_named_file_under_the_directory_keeps_it(tmp_path: Path) -> None:
    root = copy(tmp_path, "copy_named")
    workspace, ctx = fix(root)
    text = workspace.text(root / ".dockerignore")
    assert "data" not in text.splitlines() and "notebooks" in text.splitlines()
    assert any("not adding data" in n and "data/model.pkl" in n and "COPY" in n for n in ctx.notes)


def test_a_path_the_code_opens_keeps_its_directory(tmp_path: Path) -> None:
    root = copy(tmp_path, "code_opens")
    workspace, ctx = fix(root)
    assert "data" not in workspace.text(root / ".dockerignore").splitlines()
    assert any("not adding data" in n and "app.py:4" in n and "data/lookup.json" in n for n in ctx.notes)


def test_every_pattern_needed_is_refused(tmp_path: Path) -> None:
    root = copy(tmp_path, "all_needed")
    with pytest.raises(FixRefused, match=r"every pattern .*app\.py:1 names data/orders\.csv"):
        fix(root, ("data",))


def test_build_files_are_never_excluded(tmp_path: Path) -> None:
    root = copy(tmp_path, "create")
    workspace, ctx = fix(root, ("*.txt", "Dockerfile*", "data"))
    lines = workspace.text(root / ".dockerignore").splitlines()
    assert lines == [HEADER, "data"]
    assert any("requirements.txt" in n for n in ctx.notes) and any("Dockerfile" in n for n in ctx.notes)


def test_the_ignore_file_beside_a_custom_dockerfile_wins(tmp_path: Path) -> None:
    root = copy(tmp_path, "specific")
    workspace, _ = fix(root)
    assert [c.path for c in workspace.changes()] == ["Dockerfile.prod.dockerignore"]


def test_a_service_sharing_the_context_keeps_what_it_copies(tmp_path: Path) -> None:
    root = copy(tmp_path, "shared")
    workspace, ctx = fix(root, ("data", "notebooks"), service="a")
    assert workspace.text(root / ".dockerignore").splitlines() == [HEADER, "notebooks"]
    assert any("not adding data" in n and "Dockerfile.b" in n for n in ctx.notes)


def test_already_there_in_another_spelling_is_no_change(tmp_path: Path) -> None:
    root = copy(tmp_path, "create")
    (root / ".dockerignore").write_text("/data/\nnotebooks/\n**/*.ipynb\n")
    workspace, _ = fix(root)
    assert workspace.changes() == ()


def test_a_second_service_extends_our_block_instead_of_a_new_header(tmp_path: Path) -> None:
    root = copy(tmp_path, "create")
    workspace, _ = fix(root, ("data",))
    fix(root, ("notebooks",), workspace=workspace)
    assert workspace.text(root / ".dockerignore") == f"{HEADER}\ndata\nnotebooks\n"


# ---------------------------------------------------------------- property: random existing ignore files

_LINES = st.sampled_from([
    "", "# comment", "*.log", "data/keep", "/build/", "!data/keep.csv", "notebooks/**", "!README.md",
    "**/__pycache__", "  spaced  ", ".git", "!*.md", "*.md", "tmp?", "[abc].txt", "# added by deadweight fix (DW401)",
])


@pytest.fixture(scope="module")
def mini() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(FIXTURES / "create", root / "svc")
        yield root / "svc"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.lists(_LINES, max_size=8), ending=st.sampled_from(["\n", "\r\n"]), final=st.booleans())
def test_appending_changes_nothing_above_the_block_and_reapplying_is_a_no_op(
        mini: Path, body: list[str], ending: str, final: bool) -> None:
    text = ending.join(body) + (ending if final and body else "")
    workspace = Workspace(mini)
    workspace.set(mini / ".dockerignore", text)
    try:
        IgnoreMatcher.from_lines(text.splitlines())
    except ParseError:
        return
    fix(mini, ("data", "notebooks"), workspace=workspace)
    after = workspace.text(mini / ".dockerignore")
    old, new = text.splitlines(), after.splitlines()
    negations = [i for i, line in enumerate(old) if line.strip().startswith("!")]
    cut = negations[0] if negations else len(old)
    while negations and cut > 0 and old[cut - 1].lstrip().startswith("#"):
        cut -= 1
    assert new[:cut] == old[:cut]  # nothing above the block changes
    assert new[len(new) - (len(old) - cut):] == old[cut:] or cut == len(old)  # nor below it
    if not negations:
        assert after.startswith(text if not text or text.endswith(("\n", "\r")) else text.rstrip("\r\n"))
    before_matcher = IgnoreMatcher.from_lines(old)
    after_matcher = IgnoreMatcher.from_lines(new)
    for path in ("data/keep.csv", "README.md", "app.py", "Dockerfile", "requirements.txt", "x.md"):
        if not before_matcher.excluded(path) and path != "data/keep.csv":
            assert not after_matcher.excluded(path), path
    if not before_matcher.excluded("data/keep.csv") and any(line.strip() == "!data/keep.csv" for line in old):
        assert not after_matcher.excluded("data/keep.csv")
    assert after_matcher.excluded("data/orders.csv") or before_matcher.excluded("data/orders.csv") or any(
        line.strip().startswith("!") for line in old)
    again = Workspace(mini)
    again.set(mini / ".dockerignore", after)
    fix(mini, ("data", "notebooks"), workspace=again)
    assert again.text(mini / ".dockerignore") == after


# ---------------------------------------------------------------- the CLI on the example fleet


def test_fix_only_dw401_write_then_audit_reports_no_dw401(tmp_path: Path) -> None:
    fleet = tmp_path / "examples"
    shutil.copytree(REPO / "examples", fleet)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-m", "deadweight", "fix", str(fleet), "--only", "DW401", "--write",
                           "--offline"], capture_output=True, text=True, env=env, check=False, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    created = fleet / "legacy-api" / ".dockerignore"
    assert created.is_file(), done.stdout
    assert created.read_text().splitlines()[0] == HEADER
    audit = subprocess.run([sys.executable, "-m", "deadweight", "audit", str(fleet), "--offline", "--format",
                            "json"], capture_output=True, text=True, env=env, check=False, timeout=300)
    report = json.loads(audit.stdout)
    legacy = next(s for s in report["services"] if s["name"] == "legacy-api")
    assert not [f for f in legacy["findings"] if f["rule"] == "DW401"]
    assert {f["rule"] for f in legacy["findings"]} >= {"DW301", "DW304"}  # the rest of the audit still runs
    again = subprocess.run([sys.executable, "-m", "deadweight", "fix", str(fleet), "--only", "DW401", "--offline"],
                           capture_output=True, text=True, env=env, check=False, timeout=300)
    assert "would change 0 file(s)" in again.stdout


# ---------------------------------------------------------------- the paths code and settings name


def test_references_read_literals_joins_and_image_paths(tmp_path: Path) -> None:
    from deadweight.fixes.dockerignore_refs import references
    from deadweight.model.project import ShippedFile

    (tmp_path / "app.py").write_text(
        '"""Reads data/ at start-up."""\n'
        'import os\nfrom pathlib import Path\n'
        'CFG = {"data": 1}\n'  # a dict key: not a path
        'A = os.path.join(BASE, "models", "m.pkl")\n'
        'B = Path(__file__).parent / "assets" / "logo.png"\n'
        'C = f"reports/{NAME}.csv"\n'
        'D = open("/srv/app/static/x.css")\n'
        'E = row["notebooks"]\n'  # a subscript: not a path
    )
    (tmp_path / "lib" / "site-packages").mkdir(parents=True)
    (tmp_path / "lib" / "site-packages" / "dep.py").write_text('open("data/x")\n')
    (tmp_path / "conf.yaml").write_text("model: models/other.pkl\n")
    listing = ["app.py", "conf.yaml", "models", "models/m.pkl", "assets", "reports", "static", "static/x.css",
               "data", "notebooks", "lib", "lib/site-packages", "lib/site-packages/dep.py"]
    shipped = [ShippedFile("static/x.css", "/srv/app/static/x.css", 1, 5)]
    refs = references(context_dir=tmp_path, files=["app.py", "conf.yaml", "lib/site-packages/dep.py"],
                      listing=listing, shipped=shipped, workdir="/srv/app",
                      words={"environment MODEL": "--model=models/env.pkl"})
    found = {(r.path, r.where) for r in refs}
    assert ("models/m.pkl", "app.py:5") in found and ("assets/logo.png", "app.py:6") in found
    assert ("reports", "app.py:7") in found and ("static/x.css", "app.py:8") in found
    assert ("models/other.pkl", "conf.yaml:1") in found and ("models/env.pkl", "environment MODEL") in found
    assert not {p for p, _ in found} & {"data", "notebooks", "data/x"}
