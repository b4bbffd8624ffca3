"""fix on a real image, then a real build: the legacy-api example's Dockerfile edits (DW304's
--no-install-recommends, DW302's apt cleanup and pip --no-cache-dir) are written, the edited Dockerfile still
builds, and auditing the new image finds neither the caches nor the recommends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lab import ExampleImage

from deadweight.cli.main import main

FIXED_TAG = "deadweight-fixtest/legacy-api:fixed"


def test_fixed_dockerfile_builds_and_audits_clean(
    docker_client: Any, example_images: dict[str, ExampleImage], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    example = example_images["legacy-api"]
    project = tmp_path / "legacy-api"
    shutil.copytree(example.context, project)
    before = (project / "Dockerfile").read_text()

    code = main(["fix", str(project), "--image", example.tag, "--only", "DW302", "--only", "DW304", "--write",
                 "--offline"])
    out = capsys.readouterr().out
    assert code == 0, out
    after = (project / "Dockerfile").read_text()
    assert after != before
    run_line = after.splitlines()[3]
    assert run_line == ("RUN apt-get update && apt-get install --no-install-recommends -y gcc libpq-dev python3-dev "
                        "&& apt-get clean && rm -rf /var/lib/apt/lists/*")
    assert "RUN pip install --no-cache-dir -r requirements.txt" in after.splitlines()
    # every other line as it was
    assert [x for k, x in enumerate(after.splitlines()) if k not in (3, 7)] == [
        x for k, x in enumerate(before.splitlines()) if k not in (3, 7)]

    try:
        docker_client.images.build(path=str(project), tag=FIXED_TAG, network_mode="host", rm=True, forcerm=True,
                                   pull=False)
        code = main(["audit", str(project), "--image", FIXED_TAG, "--format", "json", "--offline"])
        doc = json.loads(capsys.readouterr().out)
        assert code in (0, 1), doc
        findings = [f for s in doc["services"] for f in s["findings"]]
        assert not [f for f in findings if f["rule"] == "DW304"]
        assert not [f for f in findings if f["rule"] == "DW302"], [f["title"] for f in findings]

        code = main(["fix", str(project), "--image", FIXED_TAG, "--only", "DW302", "--only", "DW304", "--offline"])
        assert "would change 0 file(s)" in capsys.readouterr().out  # nothing left to do
    finally:
        docker_client.images.remove(FIXED_TAG, force=True)
