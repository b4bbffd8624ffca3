"""deadweight audit over the example fleet, built by the real engine: the exact rule set per service, measured
savings, fleet totals, and a second run answered from the layer cache with identical results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from deadweight.cli.main import main
from deadweight.reports import audit_json

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_RULES = {
    "torch-cpu-api": {"DW101", "DW501"},
    "report-worker": {"DW201"},
    "pandas-etl": set(),
    "legacy-api": {"DW301", "DW302", "DW303", "DW304", "DW401", "DW501"},
    "lean-svc": set(),
}


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, Any]:
    code = main(args)
    return code, json.loads(capsys.readouterr().out)


def test_fleet_audit_finds_exactly_the_planted_dead_weight(
    example_images: dict[str, Any], cpu_index: tuple[str, int], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    url, cpu_bytes = cpu_index
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    args = ["audit", str(ROOT / "examples"), "--format", "json", "--torch-cpu-index", url]
    code, doc = _json(capsys, args)
    jsonschema.validate(doc, audit_json.load_schema(), cls=jsonschema.Draft202012Validator)
    assert code == 1  # DW101 is high
    services = {s["name"]: s for s in doc["services"]}
    assert {name: {f["rule"] for f in s["findings"]} for name, s in services.items()} == EXPECTED_RULES
    for service in services.values():
        assert service["mode"] == "image" and service["error"] is None
        assert service["image"] == f"docker:{example_images[service['name']].tag}"

    # DW101: torch + the nvidia stack it pulled, minus the CPU build's installed size, measured on the image
    torch_api = services["torch-cpu-api"]
    (dw101,) = [f for f in torch_api["findings"] if f["rule"] == "DW101"]
    _, inspected = _json(capsys, ["inspect", torch_api["image"], "--packages", "--format", "json"])
    dists = {d["name"]: d for env in inspected["python"]["environments"] for d in env["distributions"]}
    stack = dists["torch"]["size_bytes"] + sum(d["size_bytes"] for n, d in dists.items() if n.startswith("nvidia-"))
    assert dw101["savings_bytes"] == stack - cpu_bytes
    assert dw101["estimated"] is False
    assert inspected["size_bytes"] == torch_api["size_bytes"]

    # DW201: exactly the declared-but-unused scientific packages; numpy is used
    worker = services["report-worker"]
    assert sorted(f["package"] for f in worker["findings"] if f["rule"] == "DW201") == ["pandas", "scipy"]

    # gunicorn (only in CMD) and psycopg2 (only in a DATABASE_URL) are used: never reported unused
    legacy = services["legacy-api"]
    assert not any(f["rule"] in ("DW201", "DW202") for f in legacy["findings"])
    unpinned = {f["package"] for f in legacy["findings"] if f["rule"] == "DW501"}
    assert {"gunicorn", "psycopg2"} <= unpinned

    totals = doc["totals"]
    assert totals["size_bytes"] == sum(s["size_bytes"] for s in services.values())
    assert totals["unique_layer_bytes"] < totals["size_bytes"]  # the base image is shared
    assert totals["dead_weight_bytes"] == sum(s["dead_weight_bytes"] for s in services.values())

    # a second audit is answered from the layer cache and says exactly the same
    code2, again = _json(capsys, args)
    assert code2 == code and again == doc
