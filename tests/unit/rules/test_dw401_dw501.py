"""DW401 (context clutter) from a real build context, and DW501 (unpinned) from real requirement files."""

from __future__ import annotations

from pathlib import Path

from deadweight.model.finding import Severity
from deadweight.model.project import Service
from deadweight.model.remedy import AddDockerignore, ReplaceRequirement
from deadweight.project.loader import load_project
from deadweight.rules.dw401_context import MIN_BYTES, BuildContextClutter
from deadweight.rules.dw501_unpinned import UnpinnedRequirement
from deadweight.rules.engine import evaluate_all
from imagebuilder import F
from tests.unit.rules.ruleimages import SITE, analyze, context, dist

KB = 1024

CONTEXT = {
    "app.py": b"print('hi')\n",
    "requirements.txt": b"requests==2.32.3\n",
    ".venv/lib/python3.11/site-packages/requests/__init__.py": b"\0" * (40 * KB),
    ".venv/pyvenv.cfg": b"home = /usr/bin\n",
    "notebooks/explore.ipynb": b"{" + b" " * (30 * KB) + b"}",
    "analysis.ipynb": b"{" + b" " * (5 * KB) + b"}",
    "data/train.csv": b"x,y\n" * (10 * KB),
    "src/data/loader.py": b"def load(): ...\n",  # a code package named data below the top: not clutter
    "pkg/__pycache__/mod.cpython-311.pyc": b"\0" * (2 * KB),
}


def write_context(root: Path, dockerignore: str | None = None) -> Service:
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in CONTEXT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nWORKDIR /app\nCOPY . /app\nCMD [\"python\", \"app.py\"]\n")
    if dockerignore is not None:
        (root / ".dockerignore").write_text(dockerignore)
    return load_project(str(root), environ={}).services[0]


def clutter_sizes(svc: Service) -> dict[str, int]:
    """Shipped clutter by image path, from the loader's ShippedFile list (context sizes)."""
    prefixes = (".venv/", "notebooks/", "data/", "pkg/__pycache__/")
    return {f.image_path.lstrip("/"): f.size_bytes for f in svc.shipped
            if f.context_path.startswith(prefixes) or f.context_path.endswith(".ipynb")}


def test_dw401_without_an_image_counts_context_sizes_and_is_estimated(tmp_path: Path) -> None:
    svc = write_context(tmp_path / "ctx")
    expected = clutter_sizes(svc)
    assert "app/src/data/loader.py" not in expected and len(expected) == 6
    [finding] = BuildContextClutter().evaluate(context(svc, shipped=svc.shipped))
    assert dict(finding.claims) == {f"file:{p}": s for p, s in expected.items()}
    assert finding.savings_bytes == sum(expected.values())
    assert finding.estimated
    for line in ("**/.venv", "notebooks", "data", "**/*.ipynb", "**/__pycache__"):
        assert line in finding.fix
    assert all(e.location == f"{svc.dockerfile_path}:3" for e in finding.evidence)


def test_dw401_with_the_image_counts_what_the_tree_holds(tmp_path: Path) -> None:
    svc = write_context(tmp_path / "ctx")
    # the image got every shipped file except the data, which a later RUN deleted
    layer = [F(f.image_path, (tmp_path / "ctx" / f.context_path).read_bytes()) for f in svc.shipped]
    analysis, inventory = analyze(tmp_path, [layer, [F("app/data/train.csv", kind="whiteout")]])
    [finding] = BuildContextClutter().evaluate(context(svc, analysis, inventory, shipped=svc.shipped))
    expected = {p: s for p, s in clutter_sizes(svc).items() if not p.startswith("app/data/")}
    assert dict(finding.claims) == {f"file:{p}": s for p, s in expected.items()}
    assert not finding.estimated
    assert "data" not in finding.fix.split(": ", 1)[1].split(", ")


def test_dw401_respects_dockerignore_and_the_floor(tmp_path: Path) -> None:
    svc = write_context(tmp_path / "ctx", ".venv\nnotebooks\ndata\n*.ipynb\n**/__pycache__\n")
    assert svc.shipped and not clutter_sizes(svc)
    assert list(BuildContextClutter().evaluate(context(svc, shipped=svc.shipped))) == []
    # only the 5 kB notebook and the 2 kB bytecode left: under the 64 kB floor
    svc = write_context(tmp_path / "ctx2", ".venv\nnotebooks\ndata\n")
    assert 0 < sum(clutter_sizes(svc).values()) < MIN_BYTES
    assert list(BuildContextClutter().evaluate(context(svc, shipped=svc.shipped))) == []


# ------------------------------------------------------------------ DW501

REQUIREMENTS = """\
requests>=2.0
fastapi
numpy==2.1.0
httpx~=0.27  # deadweight: ignore[DW501]
pydantic==2.*
"""


def requirements_project(tmp_path: Path, pyproject: str | None = None) -> Service:
    root = tmp_path / "req"
    root.mkdir(exist_ok=True)
    (root / "requirements.txt").write_text(REQUIREMENTS)
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY requirements.txt .\n"
                                     "RUN pip install --no-cache-dir -r requirements.txt\n")
    if pyproject is not None:
        (root / "pyproject.toml").write_text(pyproject)
    return load_project(str(root), environ={}).services[0]


def test_dw501_pins_to_the_version_the_image_has(tmp_path: Path) -> None:
    svc = requirements_project(tmp_path)
    analysis, inventory = analyze(tmp_path, [dist("requests", "2.32.3", {"requests/__init__.py": 10})
                                             + dist("pydantic", "2.9.2", {"pydantic/__init__.py": 10})])
    evaluation = evaluate_all(context(svc, analysis, inventory), (UnpinnedRequirement(),))
    findings = {f.package: f for f in evaluation.findings}
    assert set(findings) == {"requests", "fastapi", "pydantic"}
    req_file = str(Path(svc.context_dir or "") / "requirements.txt")
    assert findings["requests"].fix == "Pin it: requests==2.32.3"
    assert findings["requests"].path == f"{req_file}:1"
    assert findings["requests"].evidence[1].location == f"{SITE}/requests-2.32.3.dist-info"
    assert findings["pydantic"].fix == "Pin it: pydantic==2.9.2"
    assert findings["fastapi"].fix == "Pin it to the version you test with (==)."  # not in the image
    assert "allows any version" in findings["fastapi"].evidence[0].detail
    assert all(f.savings_bytes == 0 and not f.estimated for f in findings.values())


def test_dw501_reports_pyproject_ranges_bounded_ones_as_info_and_is_silent_for_locked(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "svc"\nversion = "1"\n'
                                         'dependencies = ["requests>=2", "httpx~=0.27", "rich<14"]\n')
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /src\nRUN pip install /src\n")
    svc = load_project(str(root), environ={}).services[0]
    findings = {f.package: f for f in UnpinnedRequirement().evaluate(context(svc))}
    assert set(findings) == {"requests", "httpx", "rich"}
    assert findings["requests"].severity is Severity.LOW  # open: anything newer
    assert findings["httpx"].severity is Severity.INFO and findings["rich"].severity is Severity.INFO
    assert "bounded range" in findings["httpx"].evidence[0].detail
    assert findings["requests"].path == f"{root / 'pyproject.toml'}:4"

    (root / "pyproject.toml").write_text('[tool.poetry]\nname = "svc"\n\n[tool.poetry.dependencies]\n'
                                         'python = "^3.11"\nrequests = "^2.31"\nboto3 = "*"\n')
    svc = load_project(str(root), environ={}).services[0]
    findings = {f.package: f for f in UnpinnedRequirement().evaluate(context(svc))}
    assert set(findings) == {"requests", "boto3"}  # python is no dependency
    assert findings["requests"].severity is Severity.INFO  # ^2.31: >=2.31,<3.0
    assert findings["boto3"].severity is Severity.LOW

    (root / "requirements.txt").write_text("requests>=2\n")
    (root / "Dockerfile").write_text(
        "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    )
    svc = load_project(str(root), environ={}).services[0]
    [finding] = UnpinnedRequirement().evaluate(context(svc))
    assert finding.package == "requests" and finding.severity is Severity.LOW
    (root / "poetry.lock").write_text('[[package]]\nname = "requests"\nversion = "2.32.3"\n')
    svc = load_project(str(root), environ={}).services[0]
    assert [(p.name, p.version) for p in svc.locked] == [("requests", "2.32.3")]
    assert list(UnpinnedRequirement().evaluate(context(svc))) == []


# ------------------------------------------------------------------ remedies


def test_dw401_remedy_adds_the_patterns_to_the_ignore_file(tmp_path: Path) -> None:
    svc = write_context(tmp_path / "ctx")
    [finding] = BuildContextClutter().evaluate(context(svc, shipped=svc.shipped))
    [edit] = finding.remedy
    assert isinstance(edit, AddDockerignore) and edit.kind == "add-dockerignore"
    assert edit.file == str(tmp_path / "ctx" / ".dockerignore")  # none yet: the one to create
    assert set(edit.patterns) == {"**/.venv", "notebooks", "data", "**/*.ipynb", "**/__pycache__"}
    assert finding.fix == "Add to .dockerignore: " + ", ".join(edit.patterns)
    svc = write_context(tmp_path / "ctx2", "*.md\n")  # an ignore file that misses the clutter: edit that one
    [finding] = BuildContextClutter().evaluate(context(svc, shipped=svc.shipped))
    [edit] = finding.remedy
    assert isinstance(edit, AddDockerignore) and edit.file == svc.dockerignore and edit.file is not None
    assert Path(edit.file).name == ".dockerignore"


def test_dw501_remedy_pins_the_line_to_the_image_version(tmp_path: Path) -> None:
    svc = requirements_project(tmp_path)
    analysis, inventory = analyze(tmp_path, [dist("requests", "2.32.3", {"requests/__init__.py": 10})])
    findings = {f.package: f for f in UnpinnedRequirement().evaluate(context(svc, analysis, inventory))}
    [edit] = findings["requests"].remedy
    assert isinstance(edit, ReplaceRequirement) and (edit.name, edit.specifier) == (None, "==2.32.3")
    assert (edit.file, edit.line, edit.original) == (str(Path(svc.context_dir or "") / "requirements.txt"), 1,
                                                     "requests>=2.0")
    assert findings["fastapi"].remedy == ()  # nothing installed to pin to: advice, no edit
