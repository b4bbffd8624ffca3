"""deadweight audit end to end through the CLI, without a Docker engine: static mode against a real index of
real wheels served on loopback, config precedence, exit codes, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from tests.support.wheels import build_wheel, installed_bytes, load_static_server, serve_indexes, write_index

from deadweight.cli.main import main
from deadweight.reports import audit_json

MB = 1_000_000


@pytest.fixture()
def indexes(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, int]]]:
    """(PyPI-like index URL, CPU torch index URL, installed bytes per wheel)."""
    w = tmp_path / "wheels"
    w.mkdir()
    linux = "cp311-cp311-manylinux_2_17_x86_64"
    main_wheels = [
        build_wheel(w, "app-lib", "1.0", {"app_lib/__init__.py": b"x = 1\n" * 50}),
        build_wheel(w, "bigunused", "2.0", {"bigunused/__init__.py": b"", "bigunused/data.bin": b"\0" * (3 * MB)}),
        build_wheel(w, "torch", "2.5.1", {"torch/__init__.py": b"", "torch/lib/libtorch_cuda.so": b"\1" * (4 * MB)},
                    requires=("nvidia-cublas-cu12==12.4.5.8; platform_system == 'Linux'",), tag=linux),
        build_wheel(w, "nvidia-cublas-cu12", "12.4.5.8",
                    {"nvidia/cublas/lib/libcublas.so.12": b"\2" * (5 * MB)}, tag="py3-none-manylinux_2_17_x86_64"),
    ]
    cpu_dir = tmp_path / "cpuwheels"
    cpu_dir.mkdir()
    cpu_files = {"torch/__init__.py": b"", "torch/lib/libtorch_cpu.so": b"\3" * MB}
    cpu = build_wheel(cpu_dir, "torch", "2.5.1+cpu", cpu_files, tag=linux)
    sizes = {wheel.name: installed_bytes(wheel) for wheel in [*main_wheels, cpu]}
    write_index(tmp_path / "simple", main_wheels)
    write_index(tmp_path / "cpu", [cpu])
    with serve_indexes(tmp_path / "simple", tmp_path / "cpu") as (main_url, cpu_url):
        yield main_url, cpu_url, sizes


@pytest.fixture()
def service(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    (root / "app").mkdir(parents=True)
    (root / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
        "COPY app ./app\nCMD [\"python\", \"-m\", \"app.main\"]\n"
    )
    (root / "requirements.txt").write_text("app-lib==1.0\nbigunused==2.0\ntorch==2.5.1\n")
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text(
        "import app_lib\nimport torch\n\nDEVICE = torch.device('cpu')\nprint(app_lib.x, DEVICE)\n"
    )
    return root


@pytest.fixture()
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["audit", *args, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_static_audit_estimates_from_the_index(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None,
    indexes: tuple[str, str, dict[str, int]], service: Path,
) -> None:
    index, cpu_index, sizes = indexes
    monkeypatch.setenv("PIP_INDEX_URL", index)
    code, doc = _audit(capsys, str(service), "--torch-cpu-index", cpu_index)
    jsonschema.validate(doc, audit_json.load_schema(), cls=jsonschema.Draft202012Validator)
    assert code == 1  # DW101 is high, the default fail level
    (svc,) = doc["services"]  # type: ignore[misc]
    assert svc["mode"] == "static" and svc["image"] is None
    by_rule = {(f["rule"], f["package"]): f for f in svc["findings"]}
    cuda = sizes["torch-2.5.1-cp311-cp311-manylinux_2_17_x86_64.whl"]
    cublas = sizes["nvidia_cublas_cu12-12.4.5.8-py3-none-manylinux_2_17_x86_64.whl"]
    cpu = sizes["torch-2.5.1+cpu-cp311-cp311-manylinux_2_17_x86_64.whl"]
    dw101 = by_rule[("DW101", "torch")]
    assert dw101["savings_bytes"] == cuda + cublas - cpu
    assert dw101["estimated"] is True
    assert cpu_index in dw101["fix"]
    assert any(e["kind"] == "device-cpu" and "app/main.py:4" in e["location"] for e in dw101["evidence"])
    dw201 = by_rule[("DW201", "bigunused")]
    assert dw201["savings_bytes"] == sizes["bigunused-2.0-py3-none-any.whl"]
    assert ("DW201", "app-lib") not in by_rule and ("DW201", "torch") not in by_rule
    skipped = {s["rule"] for s in svc["skipped"]}
    assert {"DW202", "DW303", "DW701", "DW702"} <= skipped  # DW302 is estimated statically

    # offline from the cache: same answer, and no request leaves the process
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("offline run used the network")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    code2, doc2 = _audit(capsys, str(service), "--torch-cpu-index", cpu_index, "--offline")
    assert code2 == 1
    assert doc2["services"][0]["findings"] == svc["findings"]  # type: ignore[index]


def test_offline_with_an_empty_cache_says_so(
    capsys: pytest.CaptureFixture[str], no_engine: None, service: Path
) -> None:
    code, doc = _audit(capsys, str(service), "--offline")
    (svc,) = doc["services"]  # type: ignore[misc]
    assert svc["error"] is None
    assert any("offline" in w for w in svc["warnings"])
    # nothing could be resolved: the audit could not check the service, and never says it is clean
    assert svc["unresolved"]
    assert code == 3


def test_config_file_selects_ignores_and_rejects_unknown_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None,
    indexes: tuple[str, str, dict[str, int]], service: Path,
) -> None:
    index, cpu_index, _ = indexes
    monkeypatch.setenv("PIP_INDEX_URL", index)
    (service / ".deadweight.toml").write_text(
        f'torch-cpu-index = "{cpu_index}"\nfail-on = "medium"\n[per-package-ignores]\nbigunused = ["DW201"]\n'
    )
    code, doc = _audit(capsys, str(service), "--ignore", "DW1")
    rules = {(f["rule"], f["package"]) for f in doc["services"][0]["findings"]}  # type: ignore[index]
    assert ("DW201", "bigunused") not in rules and not any(r.startswith("DW1") for r, _ in rules)
    assert code == 0  # DW501 etc. are low; nothing at medium or above is left

    (service / ".deadweight.toml").write_text("fail_on = 'high'\nbogus-key = 1\n")
    assert main(["audit", str(service)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bogus-key" in err[0]


def test_requirement_line_ignore_comment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None,
    indexes: tuple[str, str, dict[str, int]], service: Path,
) -> None:
    index, cpu_index, _ = indexes
    monkeypatch.setenv("PIP_INDEX_URL", index)
    (service / "requirements.txt").write_text(
        "app-lib==1.0\nbigunused==2.0  # deadweight: ignore[DW201]\ntorch==2.5.1\n"
    )
    _, doc = _audit(capsys, str(service), "--torch-cpu-index", cpu_index)
    assert not any(f["rule"] == "DW201" for f in doc["services"][0]["findings"])  # type: ignore[index]


def test_broken_service_gets_a_row_and_exit_3(  # noqa: PLR0917 - pytest fixtures
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None,
    indexes: tuple[str, str, dict[str, int]], service: Path, tmp_path: Path,
) -> None:
    index, cpu_index, _ = indexes
    monkeypatch.setenv("PIP_INDEX_URL", index)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Dockerfile").write_text("FROM python:3.11-slim\nRUN <<EOF\necho never closed\n")
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  good:\n    build: {service}\n  bad:\n    build: {broken}\n"
    )
    code, doc = _audit(capsys, str(tmp_path / "compose.yaml"), "--torch-cpu-index", cpu_index)
    assert code == 3
    rows = {s["name"]: s for s in doc["services"]}  # type: ignore[attr-defined]
    assert rows["bad"]["error"] and "Dockerfile" in rows["bad"]["error"]
    assert rows["good"]["error"] is None and rows["good"]["findings"]


def test_unparseable_compose_is_one_line_exit_3(capsys: pytest.CaptureFixture[str], no_engine: None,
                                                tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a: [unclosed\n")
    assert main(["audit", str(tmp_path)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "compose.yaml" in err[0]


def test_markdown_and_sarif_formats(  # noqa: PLR0917 - pytest fixtures
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None,
    indexes: tuple[str, str, dict[str, int]], service: Path, tmp_path: Path,
) -> None:
    index, cpu_index, _ = indexes
    monkeypatch.setenv("PIP_INDEX_URL", index)
    out = tmp_path / "report.md"
    main(["audit", str(service), "--torch-cpu-index", cpu_index, "--format", "markdown", "-o", str(out)])
    text = out.read_text()
    assert "DW101" in text and "Cost" in text
    main(["audit", str(service), "--torch-cpu-index", cpu_index, "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0"
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"DW101", "DW201"}


def test_fail_on_none_reports_without_failing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None,
    indexes: tuple[str, str, dict[str, int]], service: Path,
) -> None:
    index, cpu_index, _ = indexes
    monkeypatch.setenv("PIP_INDEX_URL", index)
    code, doc = _audit(capsys, str(service), "--torch-cpu-index", cpu_index, "--fail-on", "none")
    assert code == 0 and doc["services"][0]["findings"]  # type: ignore[index]
    assert main(["audit", str(service), "--fail-on", "none,high"]) == 2
    code, _ = _audit(capsys, str(service), "--torch-cpu-index", cpu_index, "--fail-on", "DW201")
    assert code == 1


def test_full_python_base_gets_slim_advice_and_alpine_only_with_musl_wheels(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None, tmp_path: Path,
) -> None:
    w = tmp_path / "w"
    w.mkdir()
    pure = build_wheel(w, "purelib", "1.0", {"purelib/__init__.py": b"x = 1\n"})
    musl = build_wheel(w, "fastext", "1.0", {"fastext/_c.so": b"\0" * 100}, tag="cp311-cp311-musllinux_1_2_x86_64")
    glibc = build_wheel(w, "fastext", "1.0", {"fastext/_c.so": b"\0" * 100}, tag="cp311-cp311-manylinux_2_17_x86_64")
    glibc_only = build_wheel(w, "glibconly", "1.0", {"glibconly/_c.so": b"\0" * 100},
                             tag="cp311-cp311-manylinux_2_17_x86_64")
    write_index(tmp_path / "simple", [pure, musl, glibc, glibc_only])
    server = load_static_server().start(str(tmp_path / "simple"))
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    svc = tmp_path / "svc"
    svc.mkdir()
    (svc / "Dockerfile").write_text("FROM python:3.11\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n"
                                    "CMD [\"python\", \"/app/main.py\"]\n")
    (svc / "main.py").write_text("import purelib\nimport fastext\n")
    try:
        (svc / "requirements.txt").write_text("purelib==1.0\nfastext==1.0\n")
        _, doc = _audit(capsys, str(svc))
        (dw601,) = [f for f in doc["services"][0]["findings"] if f["rule"] == "DW601"]  # type: ignore[index]
        assert "python:3.11-slim" in dw601["fix"] and "python:3.11-alpine" in dw601["fix"]
        assert dw601["estimated"] is True and dw601["savings_bytes"] > 0

        (svc / "requirements.txt").write_text("purelib==1.0\nfastext==1.0\nglibconly==1.0\n")
        (svc / "main.py").write_text("import purelib\nimport fastext\nimport glibconly\n")
        _, doc = _audit(capsys, str(svc))
        (dw601,) = [f for f in doc["services"][0]["findings"] if f["rule"] == "DW601"]  # type: ignore[index]
        assert "alpine" not in dw601["fix"]
        assert any("glibconly" in e["detail"] and "compile" in e["detail"] for e in dw601["evidence"])
    finally:
        server.shutdown()


def test_unreadable_image_gets_a_row_and_exit_3(
    capsys: pytest.CaptureFixture[str], no_engine: None, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM python:3.11-slim\nCMD [\"python\"]\n")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    build: ./a\n  b:\n    build: ./b\n")
    missing = tmp_path / "nope.tar"
    code, doc = _audit(capsys, str(tmp_path), "--image", f"a=docker-archive:{missing}", "--offline")
    assert code == 3
    rows = {s["name"]: s for s in doc["services"]}  # type: ignore[attr-defined]
    assert "nope.tar" in rows["a"]["error"] and rows["a"]["image"] == f"docker-archive:{missing}"
    assert rows["b"]["error"] is None and rows["b"]["mode"] == "static"
    assert main(["audit", str(tmp_path), "--image", "c=docker:x"]) == 2  # no such service: usage error


def test_malformed_image_reference_is_a_usage_error_as_in_inspect(
    capsys: pytest.CaptureFixture[str], no_engine: None, tmp_path: Path
) -> None:
    """A service row keeps the kind of its error: bad reference syntax is exit 2, whichever command reads it."""
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCMD [\"python\"]\n")
    assert main(["inspect", "docker-archive:"]) == 2
    capsys.readouterr()
    code, doc = _audit(capsys, str(tmp_path), "--image", "docker-archive:", "--offline")
    assert code == 2
    (row,) = doc["services"]  # type: ignore[misc]
    assert "docker-archive:" in row["error"]
    # an image that cannot be read stays an input error (exit 3)
    code, _ = _audit(capsys, str(tmp_path), "--image", f"docker-archive:{tmp_path / 'nope.tar'}", "--offline")
    assert code == 3


def test_faiss_import_counts_as_a_gpu_framework_for_dw102(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_engine: None, tmp_path: Path,
) -> None:
    """A service whose code imports faiss and never asks for a GPU is CPU-only, so faiss-gpu is reported."""
    w = tmp_path / "w"
    w.mkdir()
    gpu = build_wheel(w, "faiss-gpu", "1.7.2", {"faiss/__init__.py": b"", "faiss/_swigfaiss.so": b"\0" * MB},
                      tag="cp311-cp311-manylinux_2_17_x86_64")
    write_index(tmp_path / "simple", [gpu])
    server = load_static_server().start(str(tmp_path / "simple"))
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    svc = tmp_path / "svc"
    svc.mkdir()
    (svc / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n"
                                    "CMD [\"python\", \"/app/main.py\"]\n")
    (svc / "requirements.txt").write_text("faiss-gpu==1.7.2\n")
    (svc / "main.py").write_text("import faiss\n\nindex = faiss.IndexFlatL2(64)\n")
    try:
        _, doc = _audit(capsys, str(svc), "--select", "DW102")
    finally:
        server.shutdown()
    (finding,) = doc["services"][0]["findings"]  # type: ignore[index]
    assert finding["rule"] == "DW102" and finding["package"] == "faiss-gpu"
    assert "faiss-cpu" in finding["fix"]
