"""DW101 in a static audit (issue 9), through the CLI against a real index of real wheels on loopback: the
estimate resolves PyPI's CUDA torch, so only the project's index/lock reading keeps the rule silent when the
build really installs the CPU build; torch reached only through sentence-transformers still counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.wheels import build_wheel, serve_indexes, write_index

from deadweight.cli.main import main

MB = 1_000_000
LINUX = "cp311-cp311-manylinux_2_17_x86_64"
PIP = ("FROM python:3.11-slim\nWORKDIR /srv\n{env}COPY requirements.txt .\nRUN pip install -r requirements.txt\n"
       "COPY app ./app\nCMD [\"python\", \"-m\", \"app.main\"]\n")


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    w = tmp_path / "wheels"
    w.mkdir()
    wheels = [
        build_wheel(w, "torch", "2.5.1", {"torch/__init__.py": b"", "torch/lib/libtorch_cuda.so": b"\1" * (2 * MB)},
                    requires=("nvidia-cublas-cu12==12.4.5.8; platform_system == 'Linux'",), tag=LINUX),
        build_wheel(w, "nvidia-cublas-cu12", "12.4.5.8",
                    {"nvidia/cublas/lib/libcublas.so.12": b"\2" * (3 * MB)}, tag="py3-none-manylinux_2_17_x86_64"),
        build_wheel(w, "sentence-transformers", "3.3.1", {"sentence_transformers/__init__.py": b""},
                    requires=("torch>=1.11.0",)),
    ]
    cpu_dir = tmp_path / "cpuwheels"
    cpu_dir.mkdir()
    cpu = build_wheel(cpu_dir, "torch", "2.5.1+cpu", {"torch/__init__.py": b"", "torch/lib/libtorch_cpu.so": b"\3"},
                      tag=LINUX)
    write_index(tmp_path / "simple", wheels)
    write_index(tmp_path / "cpu", [cpu])
    with serve_indexes(tmp_path / "simple", tmp_path / "cpu") as (url, cpu_url):
        monkeypatch.setenv("PIP_INDEX_URL", url)
        yield url, cpu_url


def project(root: Path, *, requirements: str, code: str, env: str = "", files: dict[str, str] | None = None) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "Dockerfile").write_text(PIP.format(env=env))
    (root / "requirements.txt").write_text(requirements)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text(code)
    for rel, text in (files or {}).items():
        (root / rel).write_text(text)
    return root


def dw101(capsys: pytest.CaptureFixture[str], root: Path, cpu_index: str) -> list[dict[str, object]]:
    main(["audit", str(root), "--format", "json", "--torch-cpu-index", cpu_index])
    doc = json.loads(capsys.readouterr().out)
    [svc] = doc["services"]
    assert svc["mode"] == "static" and svc["error"] is None
    return [f for f in svc["findings"] if f["rule"] == "DW101"]


CPU_CODE = "import torch\n\nDEVICE = torch.device('cpu')\nprint(torch.ones(2, device=DEVICE))\n"


def test_pypi_torch_on_cpu_code_fires(capsys: pytest.CaptureFixture[str], index: tuple[str, str],
                                       tmp_path: Path) -> None:
    root = project(tmp_path / "svc", requirements="torch==2.5.1\n", code=CPU_CODE)
    [finding] = dw101(capsys, root, index[1])
    assert finding["estimated"] is True


@pytest.mark.parametrize(("env", "files"), [
    ("ENV UV_TORCH_BACKEND=cpu\n", None),
    ("ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu\n", None),
    ("COPY pip.conf /etc/pip.conf\n", {"pip.conf": "[global]\nextra-index-url = https://download.pytorch.org/whl/cpu\n"}),
])
def test_a_cpu_index_the_estimate_does_not_read_still_silences_it(
    capsys: pytest.CaptureFixture[str], index: tuple[str, str], tmp_path: Path, env: str,
    files: dict[str, str] | None,
) -> None:
    root = project(tmp_path / "svc", requirements="torch==2.5.1\n", code=CPU_CODE, env=env, files=files)
    assert dw101(capsys, root, index[1]) == []


def test_torch_through_sentence_transformers_fires_with_the_path(
    capsys: pytest.CaptureFixture[str], index: tuple[str, str], tmp_path: Path,
) -> None:
    code = ("\"\"\"Embeddings.\"\"\"\n\nfrom sentence_transformers import SentenceTransformer\n\n"
            "model = SentenceTransformer('all-MiniLM-L6-v2', device='cpu')\n")
    root = project(tmp_path / "svc", requirements="sentence-transformers==3.3.1\n", code=code)
    [finding] = dw101(capsys, root, index[1])
    via = [e for e in finding["evidence"] if e["kind"] == "usage"]  # type: ignore[union-attr]
    assert [e["detail"] for e in via] == ["torch via sentence-transformers, imported at app/main.py:3"]
