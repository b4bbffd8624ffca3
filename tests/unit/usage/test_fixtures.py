"""Every fixture project end to end (no image): zero false "unused", every truly unused package found."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deadweight.model.usage import VerdictStatus
from deadweight.usage import ModuleMapper, decide, iter_project_files, scan_files
from deadweight.usage.mapping import synthetic_distributions

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "usage"
# Fixtures judged through their Dockerfile/compose (``path = "project"``) are in test_project_fixtures.py.
PROJECTS = sorted(
    p.name
    for p in FIXTURES.iterdir()
    if (p / "expected.toml").exists() and tomllib.loads((p / "expected.toml").read_text()).get("path") != "project"
)


def _declared(project: Path) -> list[str]:
    req = project / "requirements.txt"
    if req.exists():
        lines = [ln.strip() for ln in req.read_text().splitlines()]
        return [str(canonicalize_name(Requirement(ln).name)) for ln in lines if ln and not ln.startswith("-")]
    data = tomllib.loads((project / "pyproject.toml").read_text())
    return [str(canonicalize_name(Requirement(d).name)) for d in data["project"]["dependencies"]]


def _verdicts(name: str) -> tuple[dict[str, VerdictStatus], dict[str, list[str]]]:
    project = FIXTURES / name
    names = _declared(project)
    # installed=False: the answer must not depend on what happens to be installed on this machine.
    dists = synthetic_distributions(names, installed=False)
    mapper = ModuleMapper(dists)
    files, _ = iter_project_files(project)
    result = scan_files(
        [f for f in files if f.name != "expected.toml"], root=project, known_modules=mapper.known_top_levels()
    )
    verdicts = decide(dists, names, result.evidence, mapper=mapper)
    expected = tomllib.loads((project / "expected.toml").read_text())
    return {n: v.status for n, v in verdicts.items()}, expected


def test_fixture_set_covers_several_projects() -> None:
    assert len(PROJECTS) >= 5


@pytest.mark.parametrize("name", PROJECTS)
def test_no_false_unused(name: str) -> None:
    statuses, expected = _verdicts(name)
    wrong = [d for d in expected["used"] if statuses[str(canonicalize_name(d))].is_unused]
    assert wrong == []
    assert all(statuses[d] is VerdictStatus.USED for d in expected["used"]), statuses


@pytest.mark.parametrize("name", PROJECTS)
def test_every_truly_unused_found(name: str) -> None:
    statuses, expected = _verdicts(name)
    assert {d: statuses[d] for d in expected["unused"]} == dict.fromkeys(
        expected["unused"], VerdictStatus.DECLARED_UNUSED
    )


def test_undecidable_is_unknown_not_unused() -> None:
    statuses, expected = _verdicts("dynamic_unknown")
    assert expected["unknown"] == ["pylibmc"]
    assert statuses["pylibmc"] is VerdictStatus.UNKNOWN
