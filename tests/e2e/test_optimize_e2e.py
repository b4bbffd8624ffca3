"""deadweight optimize on the real engine, on a small service written here: its requirements declare a 3 MB
package nothing imports (DW201) and pip's cache stays in a layer (DW302). optimize builds it before and after,
checks the after image, writes the passing edits, and the results report's measured savings are the image size
difference; the written files are exactly the ones the report lists, holding the edits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.support.wheels import build_wheel, serve_indexes, write_index

from deadweight.cli.optimize import exit_code
from deadweight.pipeline.audit import audit_config
from deadweight.pipeline.optimize import optimize
from deadweight.reports import results_json, results_markdown, results_text

PREFIX = "dw-voptimize-e2e"
DOCKERFILE = """FROM python:3.11-slim
ARG PIP_INDEX_URL
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY app.py .
CMD ["python", "-c", "import app; import time; time.sleep(3600)"]
"""


@pytest.fixture
def index(tmp_path: Path) -> Iterator[str]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    built = [
        build_wheel(wheels, "app-lib", "1.0", {"app_lib/__init__.py": b"x = 1\n"}),
        build_wheel(
            wheels, "heavy-lib", "2.0", {"heavy_lib/__init__.py": b"", "heavy_lib/data.bin": b"\1" * 3_000_000}
        ),
    ]
    write_index(tmp_path / "simple", built)
    with serve_indexes(tmp_path / "simple") as (url,):
        yield url


@pytest.fixture
def service(tmp_path: Path, index: str) -> Path:
    root = tmp_path / "svc"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (root / "requirements.txt").write_text("app-lib==1.0\nheavy-lib==2.0\n", encoding="utf-8")
    (root / "app.py").write_text("import app_lib\n\nprint(app_lib.x)\n", encoding="utf-8")
    (root / "compose.yaml").write_text(
        f"services:\n  app:\n    build:\n      context: .\n      args:\n        PIP_INDEX_URL: {index}\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def cleanup(docker_client: Any) -> Iterator[None]:
    yield
    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith(PREFIX + "/"):
                docker_client.images.remove(tag, force=True)


def test_optimize_write_lands_the_passing_edits_and_reports_measured_savings(
    service: Path, cleanup: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    steps: list[tuple[str, str]] = []
    report = optimize(
        service,
        config=audit_config(service),
        write=True,
        network="host",
        progress=lambda s, what: steps.append((s, what)),
        tag_prefix=PREFIX,
    )
    doc = json.loads(results_json.render(report))
    jsonschema.Draft202012Validator(results_json.load_schema()).validate(doc)
    (svc,) = doc["services"]
    assert svc["error"] is None, svc["error"]
    assert steps and all(s == "app" for s, _ in steps)

    # smaller, measured, and the report's savings are the size difference
    assert svc["after"]["size_bytes"] < svc["before"]["size_bytes"]
    assert svc["saved_bytes"] == svc["before"]["size_bytes"] - svc["after"]["size_bytes"] >= 3_000_000
    assert doc["summary"]["saved_bytes"] == svc["saved_bytes"]
    kept = [e for e in svc["edits"] if e["status"] == "kept"]
    assert {e["rule"] for e in kept} >= {"DW201"}
    measured = [e["measured_savings_bytes"] for e in kept]
    assert all(m is not None for m in measured) and sum(measured) == svc["saved_bytes"]
    assert svc["after_build"]["cold_seconds"] > 0 and svc["after_build"]["warm_seconds"] is not None

    # every check that ran passed, and they ran
    ran = [c for c in svc["checks"] if c["status"] != "skip"]
    assert ran and all(c["status"] == "pass" for c in ran), ran
    assert doc["passed"] and doc["verified"] and exit_code(report) == 0

    # written: exactly the listed files, holding the edits
    assert doc["written"] is True and "requirements.txt" in doc["files"]
    assert "heavy-lib" not in (service / "requirements.txt").read_text(encoding="utf-8")
    assert "app-lib==1.0" in (service / "requirements.txt").read_text(encoding="utf-8")

    # the human reports carry the same figures
    markdown = results_markdown.render(report)
    assert "**Verified**" in markdown and "The kept edits were written." in markdown
    text = results_text.render(report)
    assert "Verified. Wrote" in text
