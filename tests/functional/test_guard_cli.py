"""deadweight guard end to end through the CLI in static mode (no Docker engine): a baseline audit, a change
that adds a CUDA torch, the ratchet naming exactly that cause with its bytes, waivers valid and expired,
budgets, every format written with -o, and bad input with its exit code. DW302 (caches) is only estimated
statically, so the dropped --no-cache-dir half (measured) of the scenario is in tests/e2e/test_guard_e2e.py."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.support.wheels import build_wheel, installed_bytes, serve_indexes, write_index

from deadweight.cli.main import main
from deadweight.reports import guard_json

MB = 1_000_000
LINUX = "cp311-cp311-manylinux_2_17_x86_64"


@pytest.fixture()
def indexes(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, int]]]:
    w = tmp_path / "wheels"
    w.mkdir()
    wheels = [
        build_wheel(w, "app-lib", "1.0", {"app_lib/__init__.py": b"x = 1\n" * 50}),
        build_wheel(w, "torch", "2.5.1", {"torch/__init__.py": b"", "torch/lib/libtorch_cuda.so": b"\1" * (4 * MB)},
                    requires=("nvidia-cublas-cu12==12.4.5.8; platform_system == 'Linux'",), tag=LINUX),
        build_wheel(w, "nvidia-cublas-cu12", "12.4.5.8", {"nvidia/cublas/lib/libcublas.so.12": b"\2" * (5 * MB)},
                    tag="py3-none-manylinux_2_17_x86_64"),
    ]
    cpu_dir = tmp_path / "cpuwheels"
    cpu_dir.mkdir()
    cpu_files = {"torch/__init__.py": b"", "torch/lib/libtorch_cpu.so": b"\3" * MB}
    cpu = build_wheel(cpu_dir, "torch", "2.5.1+cpu", cpu_files, tag=LINUX)
    # installed bytes: torch (the CUDA build), torch+cpu, nvidia_cublas_cu12, app_lib
    sizes = {key: installed_bytes(wheel) for key, wheel in (("app_lib", wheels[0]), ("torch", wheels[1]),
                                                           ("nvidia_cublas_cu12", wheels[2]), ("torch+cpu", cpu))}
    write_index(tmp_path / "simple", wheels)
    write_index(tmp_path / "cpu", [cpu])
    with serve_indexes(tmp_path / "simple", tmp_path / "cpu") as (main_url, cpu_url):
        yield main_url, cpu_url, sizes


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, indexes: tuple[str, str, dict[str, int]]) -> str:
    """No engine, a private cache, the test index as PyPI; returns the CPU torch index URL."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", indexes[0])
    return indexes[1]


@pytest.fixture()
def service(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    (root / "app").mkdir(parents=True)
    (root / ".git").mkdir()  # the config search stops here
    (root / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r "
        "requirements.txt\nCOPY app ./app\nCMD [\"python\", \"-m\", \"app.main\"]\n"
    )
    (root / "requirements.txt").write_text("app-lib==1.0\n")
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text("import app_lib\n\nprint(app_lib.x)\n")
    return root


def add_torch(root: Path) -> None:
    (root / "requirements.txt").write_text("app-lib==1.0\ntorch==2.5.1\n")
    (root / "app" / "main.py").write_text(
        "import app_lib\nimport torch\n\nDEVICE = torch.device('cpu')\nprint(app_lib.x, DEVICE)\n"
    )


def baseline(capsys: pytest.CaptureFixture[str], root: Path, cpu_index: str, tmp_path: Path) -> Path:
    out = tmp_path / "baseline.json"
    code = main(["audit", str(root), "--format", "json", "-o", str(out), "--torch-cpu-index", cpu_index])
    capsys.readouterr()
    assert code == 0
    return out


def guard(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(["guard", *args, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, guard_json.load_schema(), cls=jsonschema.Draft202012Validator)
    return code, doc


WAIVER = """
[[tool.deadweight.guard.waivers]]
rule = "DW101"
package = "torch"
owner = "ml-team"
reason = "GPU nodes arrive in Q3"
expires = 2026-09-30
"""


def test_the_ratchet_names_the_new_cuda_torch_and_waivers_decide(
    capsys: pytest.CaptureFixture[str], env: str, service: Path, tmp_path: Path,
    indexes: tuple[str, str, dict[str, int]],
) -> None:
    cpu_index, sizes = env, indexes[2]
    base = baseline(capsys, service, cpu_index, tmp_path)
    args = [str(service), "--baseline", str(base), "--torch-cpu-index", cpu_index]

    # unchanged: within budget
    code, doc = guard(capsys, *args)
    assert code == 0 and doc["status"] == "pass"
    assert doc["services"][0]["growth"]["bytes"] == 0

    add_torch(service)
    code, doc = guard(capsys, *args)
    assert code == 1 and doc["status"] == "fail"
    (svc,) = doc["services"]
    failing = [c for c in svc["checks"] if c["status"] == "fail"]
    assert [(c["budget"], c["rule"], c["package"]) for c in failing] == [("new-finding", "DW101", "torch")]
    saving = sizes["torch"] + sizes["nvidia_cublas_cu12"] - sizes["torch+cpu"]
    assert failing[0]["finding"]["savings_bytes"] == saving and failing[0]["estimated"] is True
    assert svc["growth"]["bytes"] == sizes["torch"] + sizes["nvidia_cublas_cu12"]
    assert svc["facts"]["estimated"] is True and svc["facts"]["distributions"]["torch"] == sizes["torch"]

    # the text names the cause with its bytes
    assert main(["guard", *args]) == 1
    text = capsys.readouterr().out
    assert "new finding DW101" in text and "(torch): an estimated" in text

    # waived until 2026-09-30: passes and is listed as waived
    (service / "pyproject.toml").write_text(WAIVER)
    code, doc = guard(capsys, *args, "--today", "2026-09-30")
    assert code == 0
    (waived,) = [c for c in doc["services"][0]["checks"] if c["status"] == "waived"]
    assert waived["waiver"]["owner"] == "ml-team"

    # the day after, the waiver has expired: fails, saying so
    assert main(["guard", *args, "--today", "2026-10-01"]) == 1
    assert "waiver #1 (rule=DW101, package=torch; owner ml-team: GPU nodes arrive in Q3) expired on 2026-09-30" \
        in capsys.readouterr().out


def test_budgets_in_static_mode_and_not_checked(
    capsys: pytest.CaptureFixture[str], env: str, service: Path,
) -> None:
    add_torch(service)
    (service / ".deadweight.toml").write_text(
        '[guard]\nmax-size = "5MB"\nfail-on-new = "none"\n[guard.distributions]\n"nvidia-*" = 0\n'
        "[guard.rules]\nDW101 = 1\n"
    )
    code, doc = guard(capsys, str(service), "--torch-cpu-index", env)
    assert code == 1
    got = {c["budget"]: c for c in doc["services"][0]["checks"]}
    assert got["max-size"]["status"] == "fail" and got["max-size"]["estimated"] is True
    assert got["distributions.nvidia-*"]["status"] == "fail"
    assert got["rules.DW101"]["status"] == "pass"

    # a budget static mode cannot check: exit 3, or 0 with --allow-unchecked; never "within budget" silently
    (service / ".deadweight.toml").write_text("[guard]\nmax-layers = 10\n[guard.classes]\ngpu = 0\n")
    code, doc = guard(capsys, str(service), "--torch-cpu-index", env)
    assert code == 3 and doc["status"] == "not_checked"
    assert {c["status"] for c in doc["services"][0]["checks"]} == {"not_checked"}
    code, doc = guard(capsys, str(service), "--torch-cpu-index", env, "--allow-unchecked")
    assert code == 0 and doc["summary"]["not_checked"] == 2

    # a rule budget for a rule this run ignored is not checked, not "0 findings"
    (service / ".deadweight.toml").write_text("[guard.rules]\nDW101 = 0\n")
    assert guard(capsys, str(service), "--torch-cpu-index", env)[0] == 1
    code, doc = guard(capsys, str(service), "--torch-cpu-index", env, "--ignore", "DW101")
    assert code == 3 and doc["services"][0]["checks"][0]["status"] == "not_checked"


def test_every_format_writes_to_a_file(
    capsys: pytest.CaptureFixture[str], env: str, service: Path, tmp_path: Path,
) -> None:
    add_torch(service)
    (service / ".deadweight.toml").write_text('[guard]\nmax-size = "5MB"\nmax-layers = 3\n')
    for fmt in ("text", "json", "markdown", "sarif", "junit"):
        out = tmp_path / f"guard.{fmt}"
        assert main(["guard", str(service), "--torch-cpu-index", env, "--format", fmt, "-o", str(out)]) == 1
        assert capsys.readouterr().out == ""
        assert "max-size" in out.read_text()
    suite = ET.parse(tmp_path / "guard.junit").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("skipped") == "1"
    sarif = json.loads((tmp_path / "guard.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["guard/max-size"]
    assert (tmp_path / "guard.markdown").read_text().startswith("### :x: deadweight guard: over budget")


@pytest.mark.parametrize(("config", "message"), [
    ('[guard]\nmax-size = "5 parsecs"\n', "unknown size unit"),
    ("[guard]\nmax-sise = 1\n", "unknown key 'max-sise'"),
    ("[[guard.waivers]]\nrule = 'DW101'\nreason = 'r'\nexpires = 2027-01-01\n", "needs owner"),
    ("[guard.services.nosuch]\nmax-size = 1\n", "names unknown services: nosuch"),
])
def test_config_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], env: str, service: Path, config: str, message: str,
) -> None:
    (service / ".deadweight.toml").write_text(config)
    assert main(["guard", str(service)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_bad_baselines(capsys: pytest.CaptureFixture[str], env: str, service: Path, tmp_path: Path) -> None:
    assert main(["guard", str(service), "--baseline", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert main(["guard", str(service), "--baseline", str(garbage)]) == 3
    assert "not JSON" in capsys.readouterr().err
    garbage.write_text(json.dumps({"schema": "deadweight/1", "command": "inspect"}))
    assert main(["guard", str(service), "--baseline", str(garbage)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an audit or guard report" in err[0]
    assert main(["guard", str(service), "--today", "tomorrow"]) == 2


def test_a_service_that_cannot_be_audited_is_exit_3(
    capsys: pytest.CaptureFixture[str], env: str, tmp_path: Path,
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Dockerfile").write_text("FROM python:3.11-slim\nRUN <<EOF\necho never closed\n")
    code, doc = guard(capsys, str(broken), "--allow-unchecked")
    assert code == 3
    assert doc["services"][0]["error"] and doc["summary"]["errors"] == 1


def test_every_option_and_key_is_documented() -> None:
    from deadweight.cli.guard import guard_command
    from deadweight.guard.config import SERVICE_KEYS, WAIVER_KEYS

    docs = Path(__file__).resolve().parents[2] / "docs"
    guide, cli = (docs / "guard.md").read_text(), (docs / "cli.md").read_text()
    section = cli[cli.index("## `deadweight guard [PATH]`"):]
    for param in guard_command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--"):
                assert f"`{opt}" in guide, opt
                assert f"`{opt}" in section, opt
    for key in sorted(SERVICE_KEYS | WAIVER_KEYS):
        assert f"`{key}" in guide or f"{key} =" in guide, key
    for status in ("pass", "fail", "waived", "not_checked"):
        assert f"`{status}`" in guide


def fleet_of_two(service: Path, tmp_path: Path) -> Path:
    """A compose fleet of the test service and a copy of it that adds a CUDA torch."""
    import shutil

    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / ".git").mkdir()
    shutil.copytree(service, fleet / "lean", ignore=shutil.ignore_patterns(".git"))
    shutil.copytree(service, fleet / "heavy", ignore=shutil.ignore_patterns(".git"))
    add_torch(fleet / "heavy")
    (fleet / "compose.yaml").write_text("services:\n  lean:\n    build: ./lean\n  heavy:\n    build: ./heavy\n")
    return fleet


def test_fleet_budgets_total_size_and_dead_weight(
    capsys: pytest.CaptureFixture[str], env: str, service: Path, tmp_path: Path,
) -> None:
    fleet = fleet_of_two(service, tmp_path)
    assert main(["audit", str(fleet), "--format", "json", "--torch-cpu-index", env, "--fail-on", "none"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["dead_weight_bytes"] > 1 * MB
    config = fleet / ".deadweight.toml"
    config.write_text('[guard.fleet]\nmax-size = "1GB"\nmax-dead-weight = "1MB"\nmax-dead-weight-percent = 99\n')
    code, doc = guard(capsys, str(fleet), "--torch-cpu-index", env)
    assert code == 1 and doc["status"] == "fail"
    fleet_doc = doc["fleet"]
    # the audit's totals: the size with shared layers once (a static estimate has no layers: each service's own)
    assert fleet_doc["size_bytes"] == totals["unique_layer_bytes"] and fleet_doc["summed_bytes"] == totals["size_bytes"]
    assert fleet_doc["dead_weight_bytes"] == totals["dead_weight_bytes"] and fleet_doc["estimated"] is True
    assert fleet_doc["dead_weight_percent"] == pytest.approx(100 * totals["dead_weight_bytes"] / totals["size_bytes"])
    got = {c["budget"]: c for c in fleet_doc["checks"]}
    assert {k: c["status"] for k, c in got.items()} == {
        "fleet.max-size": "pass", "fleet.max-dead-weight": "fail", "fleet.max-dead-weight-percent": "pass"}
    assert got["fleet.max-dead-weight"]["actual"] == totals["dead_weight_bytes"]
    assert got["fleet.max-dead-weight"]["limit"] == 1 * MB
    assert all(not s["checks"] for s in doc["services"])  # fleet budgets are not per-service budgets
    assert doc["summary"]["fail"] == 1 and doc["summary"]["checks"] == 3

    # every format carries the fleet's checks
    assert main(["guard", str(fleet), "--torch-cpu-index", env]) == 1
    text = capsys.readouterr().out
    assert "fleet: " in text and "with shared layers counted once" in text
    assert "FAIL        fleet.max-dead-weight" in text
    assert main(["guard", str(fleet), "--torch-cpu-index", env, "--format", "junit"]) == 1
    suites = {s.get("name"): s for s in ET.fromstring(capsys.readouterr().out.split("\n", 1)[1])}
    assert suites["(fleet)"].get("tests") == "3" and suites["(fleet)"].get("failures") == "1"
    assert main(["guard", str(fleet), "--torch-cpu-index", env, "--format", "sarif"]) == 1
    (result,) = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert result["ruleId"] == "guard/fleet.max-dead-weight" and result["message"]["text"].startswith("the fleet:")

    # a waiver for the fleet's budget
    config.write_text(config.read_text() + '[[guard.waivers]]\nbudget = "fleet.max-dead-weight"\nowner = "platform"\n'
                      'reason = "torch moves to the CPU index next sprint"\nexpires = 2026-12-31\n')
    code, doc = guard(capsys, str(fleet), "--torch-cpu-index", env, "--today", "2026-12-31")
    assert code == 0 and {c["status"] for c in doc["fleet"]["checks"]} == {"pass", "waived"}
    assert guard(capsys, str(fleet), "--torch-cpu-index", env, "--today", "2027-01-01")[0] == 1

    # per-service keys are not fleet keys
    config.write_text("[guard.fleet]\nmax-layers = 3\n")
    assert main(["guard", str(fleet)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'max-layers'" in err[0], err


def test_fleet_totals_missing_a_service_are_not_checked(
    capsys: pytest.CaptureFixture[str], env: str, service: Path, tmp_path: Path,
) -> None:
    fleet = fleet_of_two(service, tmp_path)
    (fleet / "heavy" / "Dockerfile").write_text("FROM python:3.11-slim\nRUN <<EOF\necho never closed\n")
    (fleet / ".deadweight.toml").write_text('[guard.fleet]\nmax-size = "1GB"\n')
    code, doc = guard(capsys, str(fleet), "--torch-cpu-index", env, "--allow-unchecked")
    assert code == 3  # a service not audited is exit 3 whatever --allow-unchecked says
    (check,) = doc["fleet"]["checks"]
    assert check["status"] == "not_checked" and "heavy" in check["reason"]
    assert doc["fleet"]["size_bytes"] is None


def test_several_formats_in_one_run(
    capsys: pytest.CaptureFixture[str], env: str, service: Path, tmp_path: Path,
) -> None:
    add_torch(service)
    (service / ".deadweight.toml").write_text('[guard]\nmax-size = "5MB"\nmax-layers = 3\n')
    args = [str(service), "--torch-cpu-index", env, "--today", "2026-12-01"]
    outs = {fmt: tmp_path / f"all.{fmt}" for fmt in ("sarif", "markdown", "junit", "json")}
    pairs = [word for fmt, out in outs.items() for word in ("--format", fmt, "-o", str(out))]
    assert main(["guard", *args, *pairs]) == 1
    assert capsys.readouterr().out == ""
    for fmt, out in outs.items():  # each file is what a run with that format alone writes
        assert main(["guard", *args, "--format", fmt]) == 1
        assert out.read_text() == capsys.readouterr().out, fmt
    for bad, message in (
        (["--format", "sarif", "--format", "json", "-o", str(tmp_path / "x")], "2 --format and 1 --output"),
        (["--format", "sarif", "-o", "x", "--format", "json", "-o", "x"], "as many different -o files"),
        (["--format", "sarif", "-o", "-", "--format", "json", "-o", "y"], "as many different -o files"),
    ):
        assert main(["guard", *args, *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
