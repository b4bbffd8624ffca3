"""load_project: compose stacks, single service dirs, fallbacks and per-service errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deadweight.errors import ParseError
from deadweight.project import load_project

FIXTURES = Path(__file__).parents[2] / "fixtures" / "projects" / "model"


def test_compose_stack() -> None:
    root = FIXTURES / "stack"
    project = load_project(str(root), environ={})
    assert project.root == str(root.resolve())
    assert project.compose_file == str(root.resolve() / "compose.yaml")
    assert [s.name for s in project.services] == ["api", "worker", "db"]
    api, worker, db = project.services

    # api: the -r chain of the builder stage it copies from, plus the package named in a RUN
    reqs = [(r.name, r.specifier, r.origin, Path(r.source_file).name, r.line) for r in api.requirements]
    assert reqs == [
        ("pydantic", "==2.7.0", "requirements", "requirements-base.txt", 1),
        ("fastapi", "==0.110.0", "requirements", "requirements.txt", 2),
        ("torch", ">=2.1", "requirements", "requirements.txt", 3),
        ("uvicorn", "==0.30.0", "dockerfile-run", "Dockerfile", 14),
    ]
    assert api.requirements[2].ignores == ("DW101",)
    assert api.requirements[3].extras == ("standard",)
    assert api.image == "registry.local/shop/api:1.0"
    assert api.memory_limit_bytes == 512 * 1024**2
    assert api.command == ("uvicorn", "app.main:app", "--host", "0.0.0.0")  # from the Dockerfile CMD
    assert api.dockerfile is not None and api.dockerfile.final_stage().base == "python:3.11-slim"
    assert [(i.tool, i.stage_index) for i in api.installs] == [("pip", 0), ("apt-get", 1), ("pip", 1)]
    assert [(f.context_path, f.image_path) for f in api.shipped] == [("app/main.py", "/app/app/main.py")]
    assert api.context_file_count == 5  # NOTES.md is ignored
    assert not api.gpu.requested  # the ECS task for shop/api asks for none
    assert api.load_error is None and api.warnings == ()

    # worker: uv sync installs the project: pyproject deps (no dev group: --no-dev), scripts, lock
    assert [(r.name, r.origin) for r in worker.requirements] == [
        ("uv", "dockerfile-run"),
        ("celery", "pyproject"),
        ("redis", "pyproject"),
    ]
    assert worker.project_name == "shop-worker"
    assert worker.scripts == {"shop-worker": "worker.main:run"}
    assert [(p.name, p.version) for p in worker.locked] == [("celery", "5.4.0"), ("redis", "5.0.4")]
    assert worker.command == ("celery", "-A", "worker", "worker")  # compose overrides
    assert worker.gpu.requested
    assert worker.gpu.evidence[0].endswith("worker.yaml:20: resources.limits nvidia.com/gpu=1")

    assert db.dockerfile is None and db.image == "postgres:16" and db.requirements == ()


def test_compose_file_path_and_single_service_dir() -> None:
    via_file = load_project(str(FIXTURES / "stack" / "compose.yaml"), environ={}, scan_deployments=False)
    assert [s.name for s in via_file.services] == ["api", "worker", "db"]
    assert not via_file.service("worker").gpu.requested  # type: ignore[union-attr]

    single = load_project(str(FIXTURES / "single"), environ={})
    (svc,) = single.services
    assert svc.name == "single"
    assert svc.compose_file is None
    assert [(r.name, r.specifier) for r in svc.requirements] == [("flask", "==3.0.0"), ("requests", "")]
    assert svc.command == "python -m app"
    assert {f.image_path for f in svc.shipped} >= {"/app/requirements.txt", "/app/app/__main__.py"}


def test_compose_preferred_over_lone_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "docker-compose.yml").write_text("services:\n  only:\n    image: a\n")
    assert [s.name for s in load_project(str(tmp_path), environ={}).services] == ["only"]


def test_fallback_to_context_requirements_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python\nCOPY . /app\nRUN cd /app && make install\n")
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "svc"\ndependencies = ["pandas"]\n')
    (svc,) = load_project(str(tmp_path), environ={}).services
    assert [(r.name, r.origin) for r in svc.requirements] == [("numpy", "requirements"), ("pandas", "pyproject")]
    assert svc.project_name == "svc"


def test_pip_install_dot_with_extras_and_bind_mount(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM python\nWORKDIR /src\nCOPY pyproject.toml .\nRUN pip install '.[api]'\n"
        "RUN --mount=type=bind,source=reqs/prod.txt,target=/tmp/r.txt pip install -r /tmp/r.txt\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\ndependencies = ["httpx"]\n'
        '[project.optional-dependencies]\napi = ["fastapi"]\ndev = ["pytest"]\n'
    )
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "prod.txt").write_text("gunicorn\n")
    (svc,) = load_project(str(tmp_path), environ={}).services
    assert [(r.name, r.group) for r in svc.requirements] == [("httpx", None), ("fastapi", "api"), ("gunicorn", None)]


def test_missing_requirement_file_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python\nRUN pip install -r nothere.txt\n")
    (svc,) = load_project(str(tmp_path), environ={}).services
    assert svc.requirements == ()
    dockerfile = tmp_path / "Dockerfile"
    assert svc.warnings == (f"{dockerfile}:2: requirement file nothere.txt not found in the build context",)


def test_broken_dockerfile_is_a_per_service_error(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "stack", tmp_path / "stack")
    (tmp_path / "stack" / "api" / "Dockerfile").write_text("FROM python\nRUNN pip install x\n")
    project = load_project(str(tmp_path / "stack"), environ={})
    api = project.service("api")
    assert api is not None
    assert api.load_error == f"{tmp_path / 'stack' / 'api' / 'Dockerfile'}:2: unknown instruction RUNN"
    assert project.service("worker").load_error is None  # type: ignore[union-attr]


def test_bad_target_and_missing_dockerfile_are_per_service(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").write_text("FROM x AS base\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    build: {context: a, target: prod}\n  b:\n    build: b\n"
    )
    a, b = load_project(str(tmp_path), environ={}).services
    assert a.load_error is not None and "build target 'prod' is not a stage" in a.load_error
    assert b.load_error is not None and b.load_error.startswith(f"{tmp_path / 'compose.yaml'}:4: Dockerfile")


def test_unreadable_inputs_raise_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no such file or directory"):
        load_project(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParseError, match="no compose file, Dockerfile"):
        load_project(str(tmp_path / "empty"))
    (tmp_path / "compose.yaml").write_text("services:\n  a: [\n")
    with pytest.raises(ParseError, match=r"compose\.yaml:\d+: invalid YAML"):
        load_project(str(tmp_path))
