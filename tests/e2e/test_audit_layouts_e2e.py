"""Layouts with the real engine and the lab registry (issue 9): an ``image:``-only service audited from its
registry when the engine lacks it, and ``--build`` of a Dockerfile outside its context."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from deadweight.cli.main import main

pytestmark = pytest.mark.e2e


def docker(*args: str) -> str:
    res = subprocess.run(["docker", *args], capture_output=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-500:]
    return res.stdout.decode()


def test_image_only_service_is_audited_from_its_registry(
    example_images: dict[str, Any],
    registry: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    remote = f"{registry}/dw-issue9-lean:{uuid.uuid4().hex[:8]}"
    docker("tag", example_images["lean-svc"].tag, remote)
    docker("push", "-q", remote)
    docker("rmi", remote)  # only the tag: the engine no longer has this name, the registry does
    (tmp_path / "compose.yaml").write_text(f"services:\n  lean:\n    image: {remote}\n")
    code = main(["audit", str(tmp_path), "--format", "json", "--fail-on", "none"])
    doc = json.loads(capsys.readouterr().out)
    (service,) = doc["services"]
    assert code == 0, service
    assert service["mode"] == "image" and service["image"] == f"registry:{remote}" and service["not_audited"] is None
    assert service["size_bytes"] and service["error"] is None and doc["totals"]["nothing_audited"] is None


def test_build_a_dockerfile_outside_its_context(
    example_images: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    docker_client: Any,
) -> None:
    root = tmp_path / "repo"
    (root / "docker").mkdir(parents=True)
    (root / "extra.txt").write_text("shipped from the context at the repository root\n")
    (root / "docker" / "Dockerfile").write_text(f"FROM {example_images['lean-svc'].tag}\nCOPY extra.txt /extra.txt\n")
    (root / "compose.yaml").write_text(
        "services:\n  dw-issue9-outside:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n"
    )
    other = tmp_path / "elsewhere"
    (other / "dw-issue9-ctx").mkdir(parents=True)
    (other / "dw-issue9-ctx" / "extra.txt").write_text("x\n")
    (other / "Dockerfile").write_text(f"FROM {example_images['lean-svc'].tag}\nCOPY extra.txt /extra.txt\n")
    try:
        # compose: the Dockerfile inside the context, in a subdirectory
        code = main(["audit", str(root), "--build", "--format", "json", "--fail-on", "none"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 0 and doc["services"][0]["mode"] == "image", doc["services"][0]
        # --dockerfile outside the context altogether: the SDK sends it by its absolute path
        code = main(
            [
                "audit",
                str(other / "dw-issue9-ctx"),
                "--dockerfile",
                str(other / "Dockerfile"),
                "--build",
                "--format",
                "json",
                "--fail-on",
                "none",
            ]
        )
        doc = json.loads(capsys.readouterr().out)
        (service,) = doc["services"]
        assert code == 0 and service["mode"] == "image" and service["error"] is None, service
        assert service["image"] == "docker:deadweight-audit/dw-issue9-ctx:latest"
    finally:
        for tag in ("deadweight-audit/dw-issue9-outside:latest", "deadweight-audit/dw-issue9-ctx:latest"):
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
