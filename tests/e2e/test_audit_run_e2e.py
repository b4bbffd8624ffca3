"""audit --run with the real engine: containers started as compose would (command, memory limit, network off),
memory sampled from the engine, DW701 for a limit the peak nearly fills and DW702 for one far above it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deadweight.cli.main import main

# touches 31 MiB (bytes(n) alone maps zero pages lazily, which no one counts as used)
HOLD_31_MIB = "import time; x = bytes(31 * 1024 * 1024).replace(bytes(1), b'x'); time.sleep(60)"


def test_run_observes_memory_against_compose_limits(
    example_images: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = example_images["lean-svc"].tag
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        f"  loose:\n    image: {image}\n    mem_limit: 1g\n"
        "    healthcheck:\n      test: [\"CMD\", \"python\", \"-c\", "
        "\"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/')\"]\n"
        f"  tight:\n    image: {image}\n    command: [\"python\", \"-c\", \"{HOLD_31_MIB}\"]\n    mem_limit: 36m\n"
        f"  unlimited:\n    image: {image}\n"
    )
    (tmp_path / ".deadweight.toml").write_text("[run]\ntimeout = 8\n")
    code = main(["audit", str(tmp_path), "--run", "--select", "DW7", "--format", "json", "--fail-on", "none"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    services = {s["name"]: s for s in doc["services"]}
    assert [f["rule"] for f in services["loose"]["findings"]] == ["DW702"]
    assert [f["rule"] for f in services["tight"]["findings"]] == ["DW701"]
    assert services["unlimited"]["findings"] == []
    assert {s["rule"] for s in services["unlimited"]["skipped"]} == {"DW701", "DW702"}
    (loose,) = services["loose"]["findings"]
    assert any("until healthy" in (e["location"] or "") for e in loose["evidence"])  # compose healthcheck applied
    (tight,) = services["tight"]["findings"]
    peak = next(e for e in tight["evidence"] if e["kind"] == "runtime")
    assert "network none" in peak["location"]
    assert "Raise mem_limit" in tight["fix"]
    # every service's peak is reported against its limit, finding or not
    for name, limit in (("loose", 1 << 30), ("tight", 36 << 20), ("unlimited", None)):
        memory = services[name]["memory"]
        assert memory["limit_bytes"] == limit and memory["peak_bytes"] and memory["evidence"]
    assert services["tight"]["memory"]["fraction"] >= 0.8 > services["loose"]["memory"]["fraction"]
    main(["audit", str(tmp_path), "--run", "--select", "DW7", "--fail-on", "none"])
    text = capsys.readouterr().out
    assert "memory loose: peak " in text and " of 1.00 GiB, " in text and "memory unlimited: peak " in text

    # without --run the memory rules are skipped, and the report says why
    main(["audit", str(tmp_path), "--select", "DW7", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    for service in doc["services"]:
        assert {(s["rule"], s["reason"]) for s in service["skipped"]} == {
            ("DW701", "needs --run (observed memory)"), ("DW702", "needs --run (observed memory)")}
