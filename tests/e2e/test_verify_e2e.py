"""deadweight verify --write on the real engine: two example services with findings (report-worker, legacy-api)
and a planted breaking edit (tests/fixtures/verify/plugin-worker: PyYAML loaded through a name built at run time,
so the audit calls it unused). Every rebuilt image is smaller, its checks pass, each kept edit's measured saving
adds up to the size difference, the breaking edit is bisected, dropped and named with the check it broke, and the
files written are exactly the kept edits."""

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
SERVICES = ("report-worker", "legacy-api")
PREFIX = "dw-vcore-e2e"


def _fleet(tmp_path: Path) -> Path:
    """report-worker and legacy-api as examples/ declares them, plus the planted plugin-worker."""
    project = tmp_path / "fleet"
    project.mkdir()
    compose = YAML(typ="safe").load((ROOT / "examples" / "docker-compose.yml").read_text())
    services = {name: compose["services"][name] for name in SERVICES}
    for name in SERVICES:
        shutil.copytree(ROOT / "examples" / name, project / name, symlinks=True)
    shutil.copytree(ROOT / "tests" / "fixtures" / "verify" / "plugin-worker", project / "plugin-worker")
    services["plugin-worker"] = {"build": {"context": "./plugin-worker"}}
    out = YAML()
    with (project / "docker-compose.yml").open("w") as fh:
        out.dump({"name": "dw-vcore-e2e", "services": services}, fh)
    return project


def _texts(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_verify_write_keeps_what_passes_and_drops_the_planted_breaking_edit(
    example_images: dict[str, Any],
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    project = _fleet(tmp_path)
    original = _texts(project)
    images = [a for name in SERVICES for a in ("--image", f"{name}=docker:{example_images[name].tag}")]
    try:
        code = main(["verify", str(project), "--write", "--format", "json", "--tag-prefix", PREFIX, *images])
        report = json.loads(capsys.readouterr().out)
        jsonschema.validate(report, verify_json.load_schema(), cls=jsonschema.Draft202012Validator)
        services = {s["name"]: s for s in report["services"]}
        # every service passed; one edit was dropped, so the exit code says so (1), and the rest was written
        assert code == 1, report
        assert report["passed"] is True and report["written"] is True
        assert all(s["status"] == "passed" for s in services.values()), [
            (s["name"], s["status"], s["error"]) for s in services.values()
        ]
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
            assert docker_client.images.get(service["after_build"]["image"]).attrs["Size"] > 0

        # the planted breaking edit: caught by the imports check, bisected to DW201 pyyaml, dropped; six landed
        planted = {e["package"]: e for e in services["plugin-worker"]["edits"]}
        assert planted["pyyaml"]["status"] == "dropped"
        assert "imports" in planted["pyyaml"]["broke"]
        assert "DW201" in planted["pyyaml"]["reason"] and "yaml" in planted["pyyaml"]["reason"]
        assert planted["six"]["status"] == "kept"
        removed = {
            d["name"] for d in services["plugin-worker"]["comparison"]["distributions"] if d["change"] == "removed"
        }
        assert removed == {"six"}
        report_worker = {
            d["name"] for d in services["report-worker"]["comparison"]["distributions"] if d["change"] == "removed"
        }
        assert {"scipy", "pandas"} <= report_worker

        # the files written are exactly those of the kept edits, and nothing else changed
        now = _texts(project)
        changed = {path for path in set(now) | set(original) if now.get(path) != original.get(path)}
        kept_files = {f for s in services.values() for e in s["edits"] if e["status"] == "kept" for f in e["files"]}
        assert changed == {str(Path(f)) for f in report["files"]} == kept_files
        requirements = now["plugin-worker/requirements.txt"]
        assert "pyyaml" in requirements and "six" not in requirements
        assert "scipy" not in now["report-worker/requirements.txt"]
    finally:
        for image in docker_client.images.list(name=f"{PREFIX}/*"):
            for tag in image.tags:
                docker_client.images.remove(tag, force=True)
