"""deadweight verify --write on the real engine: example services with findings (report-worker; legacy-api, the
one with the most edits) and a planted breaking edit (tests/fixtures/verify/plugin-worker: PyYAML loaded through
a name built at run time, so the audit calls it unused). Every rebuilt image is smaller, its checks pass, the kept
edits' measured savings add up to the size difference, the breaking edit is bisected, dropped and named with the
check it broke, and the files written are exactly the kept edits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from deadweight.cli.main import main
from deadweight.reports import verify_json

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "dw-vcore-e2e"
CHECKS: tuple[str, ...] = ()  # every check


def _fleet(tmp_path: Path, examples: tuple[str, ...], *, planted: bool) -> Path:
    """Example services as examples/ declares them, and the planted plugin-worker."""
    project = tmp_path / "fleet"
    project.mkdir()
    compose = YAML(typ="safe").load((ROOT / "examples" / "docker-compose.yml").read_text())
    services = {name: compose["services"][name] for name in examples}
    for name in examples:
        shutil.copytree(ROOT / "examples" / name, project / name, symlinks=True)
    if planted:
        shutil.copytree(ROOT / "tests" / "fixtures" / "verify" / "plugin-worker", project / "plugin-worker")
        services["plugin-worker"] = {"build": {"context": "./plugin-worker"}}
    with (project / "docker-compose.yml").open("w") as fh:
        YAML().dump({"name": "dw-vcore-e2e", "services": services}, fh)
    return project


def _texts(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file()
    }


def _verify(
    examples: tuple[str, ...],
    *,
    planted: bool,
    example_images: dict[str, Any],
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> tuple[int, dict[str, Any], dict[str, str], dict[str, str]]:
    """verify --write over the fleet: (exit code, the JSON report, the files before, the files after)."""
    project = _fleet(tmp_path, examples, planted=planted)
    original = _texts(project)
    images = [a for name in examples for a in ("--image", f"{name}=docker:{example_images[name].tag}")]
    try:
        checks = [a for check in CHECKS for a in ("--check", check)]
        code = main(["verify", str(project), "--write", "--format", "json", "--tag-prefix", PREFIX, *checks, *images])
        report = json.loads(capsys.readouterr().out)
    finally:
        for image in docker_client.images.list(name=f"{PREFIX}/*"):
            for tag in image.tags:
                docker_client.images.remove(tag, force=True)
    jsonschema.validate(report, verify_json.load_schema(), cls=jsonschema.Draft202012Validator)
    return code, report, original, _texts(project)


def _proven(report: dict[str, Any], original: dict[str, str], now: dict[str, str]) -> dict[str, Any]:
    """What holds for every verified service and for the files written; the services by name."""
    services = {s["name"]: s for s in report["services"]}
    assert all(s["status"] == "passed" for s in services.values()), [
        (s["name"], s["status"], s["error"], [(c["check"], c["status"], c["detail"]) for c in s["checks"]])
        for s in services.values()
    ]
    assert report["passed"] is True and report["written"] is True
    for name, service in services.items():
        comparison = service["comparison"]
        assert comparison["after"]["size_bytes"] < comparison["before"]["size_bytes"], name
        assert not [c for c in service["checks"] if c["status"] in ("fail", "error")], name
        assert {c["check"] for c in service["checks"]} >= {"pip-check", "imports"}
        kept = [e for e in service["edits"] if e["status"] == "kept"]
        assert kept, name
        # measured, not estimated: the kept edits' savings add up to the size difference exactly
        assert sum(e["measured_savings_bytes"] for e in kept) == comparison["saved_bytes"], name
        assert service["after_build"]["cold_seconds"] > 0 and service["after_build"]["warm_seconds"] >= 0
        assert comparison["after"]["compressed_bytes"] < comparison["before"]["compressed_bytes"]
    # the files written are exactly those of the kept edits, and nothing else changed
    changed = {path for path in set(now) | set(original) if now.get(path) != original.get(path)}
    kept_files = {f for s in services.values() for e in s["edits"] if e["status"] == "kept" for f in e["files"]}
    assert changed == set(report["files"]) == kept_files
    return services


def test_verify_write_keeps_what_passes_and_drops_the_planted_breaking_edit(
    example_images: dict[str, Any],
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    code, report, original, now = _verify(
        ("report-worker",),
        planted=True,
        example_images=example_images,
        docker_client=docker_client,
        capsys=capsys,
        tmp_path=tmp_path,
    )
    services = _proven(report, original, now)
    # every service passed; one edit was dropped, so the exit code says so (1), and the rest was written
    assert code == 1, report
    planted = {e["package"]: e for e in services["plugin-worker"]["edits"]}
    assert planted["pyyaml"]["status"] == "dropped"
    assert "imports" in planted["pyyaml"]["broke"]
    assert "DW201" in planted["pyyaml"]["reason"] and "yaml" in planted["pyyaml"]["reason"]
    assert planted["six"]["status"] == "kept"
    removed = {d["name"] for d in services["plugin-worker"]["comparison"]["distributions"] if d["change"] == "removed"}
    assert removed == {"six"}
    worker_removed = {
        d["name"] for d in services["report-worker"]["comparison"]["distributions"] if d["change"] == "removed"
    }
    assert {"scipy", "pandas"} <= worker_removed
    assert "pyyaml" in now["plugin-worker/requirements.txt"] and "six" not in now["plugin-worker/requirements.txt"]
    assert "scipy" not in now["report-worker/requirements.txt"]


def test_verify_write_on_legacy_api(
    example_images: dict[str, Any],
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The example with the most edits (builder split, apt recommends, pip cache, .dockerignore, pins): whatever
    the bisection keeps is proven, measured and written; a dropped edit names its rule and the check it broke."""
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    code, report, original, now = _verify(
        ("legacy-api",),
        planted=False,
        example_images=example_images,
        docker_client=docker_client,
        capsys=capsys,
        tmp_path=tmp_path,
    )
    services = _proven(report, original, now)
    edits = services["legacy-api"]["edits"]
    dropped = [e for e in edits if e["status"] == "dropped"]
    assert code == (1 if dropped else 0), report
    for edit in dropped:
        assert edit["broke"] and edit["rule"] in edit["reason"]
    assert len(edits) >= 3
