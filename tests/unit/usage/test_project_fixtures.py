"""Fixtures judged the way ``audit --no-image`` judges them: through the Dockerfile and compose file
(load_project + collect_usage), so what ships, what starts the service and which services share an image
all count. Each package's verdict must be exactly the one expected.toml gives."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from deadweight.model.inventory import Inventory, PythonEnvironment
from deadweight.model.usage import VerdictStatus
from deadweight.project.loader import load_project
from deadweight.usage import ModuleMapper, decide
from deadweight.usage.mapping import synthetic_distributions
from deadweight.usage.service import NO_APPLICATION_CODE, collect_usage, image_groups, service_verdicts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "usage"
PROJECTS = sorted(
    p.name
    for p in FIXTURES.iterdir()
    if (p / "expected.toml").exists() and tomllib.loads((p / "expected.toml").read_text()).get("path") == "project"
)
USED = {VerdictStatus.USED, VerdictStatus.USED_TRANSITIVELY}


def _statuses(project: Path) -> dict[str, dict[str, VerdictStatus]]:
    """Per service: canonical name -> verdict, over the names the service declares."""
    loaded = load_project(str(project), environ={})
    groups = image_groups(loaded.services)
    out: dict[str, dict[str, VerdictStatus]] = {}
    for service in loaded.services:
        if not service.requirements:
            continue  # db, redis: images without a Python project
        names = sorted({str(canonicalize_name(r.name)) for r in service.requirements})
        dists = synthetic_distributions(names, installed=False)
        mapper = ModuleMapper(dists)
        usage = collect_usage(
            service, service.shipped, image_config=None, tree=None, known_modules=mapper.known_top_levels(),
            sharing=groups[service.name],
        )
        verdicts = decide(dists, names, usage.evidence, mapper=mapper, complete=usage.complete)
        out[service.name] = {n: v.status for n, v in verdicts.items() if n in names}
    return out


def test_there_are_project_fixtures() -> None:
    assert "builder_stage" in PROJECTS


@pytest.mark.parametrize("name", PROJECTS)
def test_exact_verdicts(name: str) -> None:
    project = FIXTURES / name
    expected = tomllib.loads((project / "expected.toml").read_text())
    for service, statuses in _statuses(project).items():
        got = {
            n: "used" if s in USED else "unused" if s is VerdictStatus.DECLARED_UNUSED else "unknown"
            for n, s in statuses.items()
        }
        want = {
            str(canonicalize_name(n)): kind for kind in ("used", "unused", "unknown") for n in expected.get(kind, [])
        }
        assert got == {n: want[n] for n in got}, service
        assert set(want) <= set(got), service


def test_code_copied_from_a_builder_stage_counts(tmp_path: Path) -> None:
    """Without following COPY --from, the builder's code is never scanned and flask would be 'unused'."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("import flask\n")
    (tmp_path / "requirements.txt").write_text("flask\nrich\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /src\nCOPY app/ ./app/\n"
        "FROM python:3.11-slim\nCOPY --from=0 /src/app /srv/app\nRUN pip install flask rich\n"
        'CMD ["python", "/srv/app/main.py"]\n'
    )
    assert list(_statuses(tmp_path).values()) == [{"flask": VerdictStatus.USED, "rich": VerdictStatus.DECLARED_UNUSED}]


def test_no_application_code_means_nothing_is_unused(tmp_path: Path) -> None:
    """The app ships as a wheel from an external image: an empty scan proves nothing."""
    (tmp_path / "requirements.txt").write_text("flask\nrich\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
        "COPY --from=registry.example/shop-wheels:1 /wheels /wheels\nRUN pip install /wheels/*.whl\n"
        'CMD ["python", "-m", "shop"]\n'
    )
    loaded = load_project(str(tmp_path), environ={})
    (service,) = loaded.services
    dists = synthetic_distributions(["flask", "rich"], installed=False)
    mapper = ModuleMapper(dists)
    usage = collect_usage(service, service.shipped, image_config=None, tree=None,
                          known_modules=mapper.known_top_levels())
    assert not usage.complete
    assert usage.incomplete_reason == NO_APPLICATION_CODE
    env = PythonEnvironment("/usr/local/lib/python3.11/site-packages", "system", "3.11", distributions=tuple(dists))
    joined = service_verdicts(service, inventory=Inventory(environments=(env,)), image_config=None, tree=None)
    assert {n: (v.status, v.reason) for n, v in joined.verdicts.items()} == {
        "flask": (VerdictStatus.UNKNOWN, NO_APPLICATION_CODE),
        "rich": (VerdictStatus.UNKNOWN, NO_APPLICATION_CODE),
    }


def test_services_built_alike_share_one_image() -> None:
    loaded = load_project(str(FIXTURES / "shared_image"), environ={})
    groups = image_groups(loaded.services)
    assert [s.name for s in groups["worker"]] == ["web", "worker", "beat"]
    assert [s.name for s in groups["db"]] == ["db"]
    assert [s.name for s in groups["redis"]] == ["redis"]


def test_each_service_alone_would_lose_what_another_needs() -> None:
    """The reason the grouping exists: judged alone, the worker's gunicorn is 'unused'."""
    loaded = load_project(str(FIXTURES / "shared_image"), environ={})
    worker = next(s for s in loaded.services if s.name == "worker")
    names = sorted(r.name for r in worker.requirements)
    dists = synthetic_distributions(names, installed=False)
    mapper = ModuleMapper(dists)
    alone = collect_usage(worker, worker.shipped, image_config=None, tree=None,
                          known_modules=mapper.known_top_levels())
    assert decide(dists, names, alone.evidence, mapper=mapper)["gunicorn"].status is VerdictStatus.DECLARED_UNUSED


def test_unused_reason_names_the_services_sharing_the_image() -> None:
    loaded = load_project(str(FIXTURES / "shared_image"), environ={})
    beat = next(s for s in loaded.services if s.name == "beat")
    dists = synthetic_distributions(sorted(r.name for r in beat.requirements), installed=False)
    env = PythonEnvironment("/usr/local/lib/python3.11/site-packages", "system", "3.11", distributions=tuple(dists))
    joined = service_verdicts(beat, inventory=Inventory(environments=(env,)), image_config=None, tree=None,
                              sharing=image_groups(loaded.services)["beat"])
    assert joined.verdicts["structlog"].status is VerdictStatus.DECLARED_UNUSED
    assert joined.verdicts["structlog"].reason.endswith(
        "(judged over every service that runs this image: beat, web, worker)"
    )
    assert joined.verdicts["gunicorn"].status is VerdictStatus.USED


def test_code_dockerignore_excludes_is_not_application_code(tmp_path: Path) -> None:
    """No Dockerfile COPY list: the whole context is scanned, less what .dockerignore keeps out."""
    (tmp_path / "requirements.txt").write_text("flask\n")
    (tmp_path / ".dockerignore").write_text("dev/\n")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "notes.py").write_text("print('scratch')\n")
    (service,) = load_project(str(tmp_path), environ={}).services
    usage = collect_usage(service, (), image_config=None, tree=None, known_modules=["flask"])
    assert usage.incomplete_reason == NO_APPLICATION_CODE
    (tmp_path / "app.py").write_text("import os\n")
    usage = collect_usage(service, (), image_config=None, tree=None, known_modules=["flask"])
    assert usage.complete and usage.incomplete_reason is None
