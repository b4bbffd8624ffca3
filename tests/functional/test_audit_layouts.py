"""Project layouts a new user brings (issue 9): a Dockerfile outside its context (``--dockerfile``/``--context``,
compose's ``build.dockerfile``), ``image:``-only services, and a compose ``build.target`` that is a node
stage. Real files, a real index of real wheels on loopback; no engine (DOCKER_HOST points nowhere)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.support.wheels import build_wheel, serve_indexes, write_index

from deadweight.cli.main import main
from deadweight.reports import audit_json

DOCKERFILE = (
    "FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r "
    'requirements.txt\nCOPY app ./app\nCMD ["python", "-m", "app.main"]\n'
)
#: a registry that refuses at once: an image: service the engine lacks is then "not audited", fast
NO_REGISTRY = "127.0.0.1:9"


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    w = tmp_path / "wheels"
    w.mkdir()
    # incompressible payloads: the wheel files weigh about what they hold (DW302's static cache figure)
    wheels = [
        build_wheel(w, "numpy", "2.1.3", {"numpy/__init__.py": b"", "numpy/core.so": os.urandom(200_000)}),
        build_wheel(w, "scipy", "1.14.1", {"scipy/__init__.py": b"", "scipy/linalg.so": os.urandom(300_000)}),
    ]
    write_index(tmp_path / "simple", wheels)
    with serve_indexes(tmp_path / "simple") as (url,):
        monkeypatch.setenv("PIP_INDEX_URL", url)
        yield url


def repo(root: Path) -> Path:
    """The common layout: ``docker/Dockerfile``, the context at the repository root."""
    (root / "docker").mkdir(parents=True)
    (root / "docker" / "Dockerfile").write_text(DOCKERFILE)
    (root / "requirements.txt").write_text("numpy==2.1.3\nscipy==1.14.1\n")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text("import numpy\n\nprint(numpy.ones(3))\n")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", *args, "--format", "json", "--fail-on", "none"])
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, audit_json.load_schema(), cls=jsonschema.Draft202012Validator)
    return code, doc


def unused(service: dict[str, Any]) -> list[str]:
    return sorted(f["package"] for f in service["findings"] if f["rule"] == "DW201")


def test_dockerfile_outside_its_context(
    index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repo(tmp_path / "proj")
    # without the flag the repository root has no Dockerfile: a bare requirements directory, and the installs
    # the Dockerfile makes are unknown
    code, doc = run(capsys, str(root), "--dockerfile", str(root / "docker" / "Dockerfile"))
    assert code == 0
    (service,) = doc["services"]
    assert service["mode"] == "static" and service["error"] is None and service["not_audited"] is None
    assert unused(service) == ["scipy"]
    # --context names it explicitly; the Dockerfile path is relative to the working directory, as docker's -f
    monkeypatch.chdir(root / "docker")
    code, doc = run(capsys, "Dockerfile", "--context", str(root))
    (service,) = doc["services"]
    assert code == 0 and service["name"] == "proj" and unused(service) == ["scipy"]


def test_dockerfile_flag_errors(index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(tmp_path / "proj")
    assert main(["audit", str(root), "--dockerfile", str(root / "nope" / "Dockerfile")]) == 2
    assert "no such Dockerfile" in capsys.readouterr().err
    (root / "compose.yaml").write_text("services:\n  app:\n    build: .\n")
    assert main(["audit", str(root / "compose.yaml"), "--dockerfile", str(root / "docker" / "Dockerfile")]) == 2
    assert "compose file gives each service's build.dockerfile" in capsys.readouterr().err


def test_compose_build_dockerfile_outside_the_context(
    index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "fleet"
    repo(root / "svc")
    (root / "compose.yaml").write_text(
        "services:\n  api:\n    build:\n      context: ./svc\n      dockerfile: ../svc/docker/Dockerfile\n"
    )
    code, doc = run(capsys, str(root))
    (service,) = doc["services"]
    assert code == 0 and service["error"] is None and unused(service) == ["scipy"]


def test_image_only_services_nothing_audited(index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "images"
    root.mkdir()
    (root / "compose.yaml").write_text(
        f"services:\n  cache:\n    image: {NO_REGISTRY}/redis:7\n  db:\n    image: {NO_REGISTRY}/postgres:16\n"
    )
    code, doc = run(capsys, str(root))
    assert code == 3  # never "no findings"
    rows = {s["name"]: s for s in doc["services"]}
    assert all(s["mode"] == "none" and s["findings"] == [] for s in rows.values())
    assert "neither in the local engine nor readable from its registry" in rows["cache"]["not_audited"]
    assert doc["totals"]["nothing_audited"].startswith("cache: image 127.0.0.1:9/redis:7")
    assert main(["audit", str(root)]) == 3
    out = capsys.readouterr().out
    assert "nothing audited" in out and "no findings" not in out
    assert main(["audit", str(root), "--format", "markdown"]) == 3
    assert "**Nothing audited**" in capsys.readouterr().out
    # offline asks no registry, and says so
    code, doc = run(capsys, str(root), "--offline")
    assert code == 3 and "--offline asks no registry" in doc["services"][0]["not_audited"]


def test_image_only_beside_a_built_service(index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "fleet"
    repo(root / "svc")
    (root / "compose.yaml").write_text(
        "services:\n  api:\n    build:\n      context: ./svc\n      dockerfile: docker/Dockerfile\n"
        f"  cache:\n    image: {NO_REGISTRY}/redis:7\n"
    )
    code, doc = run(capsys, str(root))
    rows = {s["name"]: s for s in doc["services"]}
    assert code == 0 and doc["totals"]["nothing_audited"] is None
    assert unused(rows["api"]) == ["scipy"] and rows["cache"]["not_audited"] and rows["cache"]["mode"] == "none"


NODE_AND_PYTHON = """\
FROM node:20-slim AS assets
WORKDIR /web
COPY package.json .
RUN npm install
CMD ["npm", "run", "build"]

FROM python:3.11-slim
WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app ./app
COPY --from=assets /web /srv/static
CMD ["python", "-m", "app.main"]
"""


def test_node_build_target_is_not_a_python_service(
    index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "fleet"
    svc = repo(root / "svc")
    (svc / "Dockerfile").write_text(NODE_AND_PYTHON)
    (svc / "package.json").write_text("{}\n")
    (root / "compose.yaml").write_text(
        "services:\n  api:\n    build: ./svc\n  assets:\n    build:\n      context: ./svc\n      target: assets\n"
    )
    code, doc = run(capsys, str(root))
    rows = {s["name"]: s for s in doc["services"]}
    assert code == 0
    assert rows["assets"]["mode"] == "none" and rows["assets"]["findings"] == []
    assert "build target 'assets' is not a Python stage (FROM node:20-slim" in rows["assets"]["not_audited"]
    assert unused(rows["api"]) == ["scipy"]


def test_static_dw302_is_the_downloaded_wheels_size(
    index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Statically, a pip install that keeps its cache bakes about the wheel files it downloaded (issue 9)."""
    root = repo(tmp_path / "proj")
    (root / "Dockerfile").write_text(
        DOCKERFILE.replace("--no-cache-dir ", "").replace(
            "WORKDIR /srv\n", "WORKDIR /srv\nRUN apt-get update && apt-get install -y --no-install-recommends gcc\n"
        )
    )
    _code, doc = run(capsys, str(root))
    (service,) = doc["services"]
    by_path = {f["path"]: f for f in service["findings"] if f["rule"] == "DW302"}
    wheels = sum(p.stat().st_size for p in (tmp_path / "wheels").glob("*.whl"))
    # the index's file size where it gives one, else the members' compressed bytes (the file less its headers)
    assert 0.99 * wheels <= by_path[".cache/pip"]["savings_bytes"] <= wheels
    assert by_path[".cache/pip"]["estimated"] is True
    assert by_path["var/lib/apt/lists"]["savings_bytes"] == 19_000_000
    (dw301,) = [f for f in service["findings"] if f["rule"] == "DW301"]
    assert dw301["savings_bytes"] == 180_000_000 and dw301["estimated"] is True
    assert "DW302" not in {s["rule"] for s in service["skipped"]}
