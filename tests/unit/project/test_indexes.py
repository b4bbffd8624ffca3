"""Which index serves torch (project/indexes.py), read from real project files through load_project."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.project.indexes import TorchIndex, is_cpu_index, torch_index
from deadweight.project.loader import load_project

PIP = ("FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt .\n"
       "RUN pip install --no-cache-dir -r requirements.txt\n")


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def index_of(tmp_path: Path, files: dict[str, str]) -> TorchIndex | None:
    [svc] = load_project(str(project(tmp_path, files)), environ={}).services
    return torch_index(svc)


@pytest.mark.parametrize(("url", "cpu"), [
    ("https://download.pytorch.org/whl/cpu", True),
    ("https://download.pytorch.org/whl/cpu/", True),
    ("https://mirror.example/pytorch/whl/cpu/simple/", True),
    ("https://download.pytorch.org/whl/cu121", False),
    ("https://download.pytorch.org/whl/cpu-cxx11-abi", False),
    ("https://pypi.org/simple", False),
])
def test_cpu_index_urls(url: str, cpu: bool) -> None:
    assert is_cpu_index(url) is cpu


def test_plain_pypi_has_no_cpu_index(tmp_path: Path) -> None:
    assert index_of(tmp_path, {"Dockerfile": PIP, "requirements.txt": "torch==2.5.1\n"}) is None


def test_a_cuda_index_is_not_a_cpu_index(tmp_path: Path) -> None:
    files = {"Dockerfile": PIP,
             "requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu121\ntorch==2.5.1\n"}
    assert index_of(tmp_path, files) is None


def test_index_on_the_run_line(tmp_path: Path) -> None:
    dockerfile = ("FROM python:3.11-slim\n"
                  "RUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu\n")
    found = index_of(tmp_path, {"Dockerfile": dockerfile})
    assert found is not None and found.cpu and found.location.endswith("/Dockerfile:2")


@pytest.mark.parametrize("line", ["ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu",
                                  "ARG PIP_INDEX_URL=https://download.pytorch.org/whl/cpu",
                                  "ENV UV_TORCH_BACKEND=cpu"])
def test_index_from_env_or_arg(tmp_path: Path, line: str) -> None:
    dockerfile = f"FROM python:3.11-slim\n{line}\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    found = index_of(tmp_path, {"Dockerfile": dockerfile, "requirements.txt": "torch==2.5.1\n"})
    assert found is not None and found.cpu and found.location.endswith("Dockerfile:2")


def test_cuda_backend_is_not_cpu(tmp_path: Path) -> None:
    dockerfile = "FROM python:3.11-slim\nENV UV_TORCH_BACKEND=cu124\nRUN uv pip install --system torch\n"
    assert index_of(tmp_path, {"Dockerfile": dockerfile}) is None


def test_pip_conf_copied_into_the_image(tmp_path: Path) -> None:
    dockerfile = "FROM python:3.11-slim\nCOPY pip.conf /etc/pip.conf\n" + PIP.split("\n", 1)[1]
    conf = "[global]\nno-cache-dir = true\nextra-index-url = https://download.pytorch.org/whl/cpu\n"
    found = index_of(tmp_path, {"Dockerfile": dockerfile, "pip.conf": conf, "requirements.txt": "torch\n"})
    assert found is not None and found.location == "pip.conf:3"


def test_pip_conf_not_copied_does_not_count(tmp_path: Path) -> None:
    conf = "[global]\nindex-url = https://download.pytorch.org/whl/cpu\n"
    assert index_of(tmp_path, {"Dockerfile": PIP, "pip.conf": conf, "requirements.txt": "torch\n"}) is None


def test_poetry_source_named_by_torch(tmp_path: Path) -> None:
    pyproject = (
        '[tool.poetry]\nname = "svc"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        'torch = { version = "2.5.1", source = "pytorch-cpu" }\n\n'
        '[[tool.poetry.source]]\nname = "pytorch-cpu"\nurl = "https://download.pytorch.org/whl/cpu"\n'
        'priority = "explicit"\n')
    dockerfile = "FROM python:3.11-slim\nCOPY pyproject.toml .\nRUN pip install poetry && poetry install\n"
    found = index_of(tmp_path, {"Dockerfile": dockerfile, "pyproject.toml": pyproject})
    assert found is not None and found.location == "pyproject.toml:11"


def test_poetry_source_not_used_by_torch_does_not_count(tmp_path: Path) -> None:
    pyproject = (
        '[tool.poetry]\nname = "svc"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        'torch = "2.5.1"\n\n'
        '[[tool.poetry.source]]\nname = "pytorch-cpu"\nurl = "https://download.pytorch.org/whl/cpu"\n'
        'priority = "explicit"\n')
    dockerfile = "FROM python:3.11-slim\nCOPY pyproject.toml .\nRUN pip install poetry && poetry install\n"
    assert index_of(tmp_path, {"Dockerfile": dockerfile, "pyproject.toml": pyproject}) is None


def test_a_lock_that_pins_a_cuda_torch_is_not_cpu(tmp_path: Path) -> None:
    lock = ('version = 1\n\n[[package]]\nname = "torch"\nversion = "2.5.1"\n'
            'source = { registry = "https://pypi.org/simple" }\n')
    pyproject = '[project]\nname = "svc"\nversion = "0.1"\ndependencies = ["torch==2.5.1"]\n'
    dockerfile = "FROM python:3.11-slim\nCOPY . .\nRUN uv sync --frozen\n"
    assert index_of(tmp_path, {"Dockerfile": dockerfile, "pyproject.toml": pyproject, "uv.lock": lock}) is None


def test_pdm_lock_with_a_cpu_version(tmp_path: Path) -> None:
    lock = '[metadata]\nlock_version = "4.5"\n\n[[package]]\nname = "torch"\nversion = "2.5.1+cpu"\n'
    pyproject = '[project]\nname = "svc"\nversion = "0.1"\ndependencies = ["torch==2.5.1"]\n'
    dockerfile = "FROM python:3.11-slim\nCOPY . .\nRUN pdm install --prod\n"
    found = index_of(tmp_path, {"Dockerfile": dockerfile, "pyproject.toml": pyproject, "pdm.lock": lock})
    assert found is not None and found.detail == "pdm.lock locks torch 2.5.1+cpu" and found.location == "pdm.lock:6"


UV_DOCKERFILE = "FROM python:3.11-slim\nCOPY . .\nRUN uv sync --frozen\n"


@pytest.mark.parametrize(("marker", "cpu"), [
    ("sys_platform == 'linux'", True),
    ("sys_platform != 'darwin'", True),
    ("platform_machine == 'aarch64'", True),
    ("sys_platform == 'darwin'", False),
    ("sys_platform == 'win32'", False),
])
def test_uv_source_markers_are_evaluated_for_a_linux_container(tmp_path: Path, marker: str, cpu: bool) -> None:
    pyproject = (
        '[project]\nname = "svc"\nversion = "0.1"\ndependencies = ["torch==2.5.1"]\n\n'
        f'[tool.uv.sources]\ntorch = [{{ index = "pytorch-cpu", marker = "{marker}" }}]\n\n'
        '[[tool.uv.index]]\nname = "pytorch-cpu"\nurl = "https://download.pytorch.org/whl/cpu"\nexplicit = true\n')
    found = index_of(tmp_path, {"Dockerfile": UV_DOCKERFILE, "pyproject.toml": pyproject})
    assert (found is not None and found.cpu) is cpu


def test_env_of_a_builder_stage_counts(tmp_path: Path) -> None:
    dockerfile = ("FROM python:3.11-slim AS build\nENV UV_TORCH_BACKEND=cpu\nRUN uv venv /venv && "
                  "uv pip install --python /venv torch\n\nFROM python:3.11-slim\nCOPY --from=build /venv /venv\n")
    found = index_of(tmp_path, {"Dockerfile": dockerfile})
    assert found is not None and found.detail == "UV_TORCH_BACKEND=cpu" and found.location.endswith("Dockerfile:2")


def test_a_declared_cpu_version_with_find_links(tmp_path: Path) -> None:
    reqs = "--find-links https://download.pytorch.org/whl/torch_stable.html\ntorch==2.5.1+cpu\n"
    found = index_of(tmp_path, {"Dockerfile": PIP, "requirements.txt": reqs})
    assert found is not None and found.detail == "torch==2.5.1+cpu declared"
    assert found.location.endswith("requirements.txt:2")


def test_poetry_lock_with_the_cpu_source(tmp_path: Path) -> None:
    lock = ('[[package]]\nname = "torch"\nversion = "2.5.1"\ndescription = "Tensors"\noptional = false\n'
            'python-versions = ">=3.8.0"\nfiles = []\n\n[package.source]\ntype = "legacy"\n'
            'url = "https://download.pytorch.org/whl/cpu"\nreference = "pytorch-cpu"\n')
    pyproject = ('[tool.poetry]\nname = "svc"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\n'
                 'python = "^3.11"\ntorch = "2.5.1"\n')
    dockerfile = "FROM python:3.11-slim\nCOPY . .\nRUN pip install poetry && poetry install --only main\n"
    found = index_of(tmp_path, {"Dockerfile": dockerfile, "pyproject.toml": pyproject, "poetry.lock": lock})
    assert found is not None and found.url == "https://download.pytorch.org/whl/cpu"
    assert found.detail == "poetry.lock locks torch from https://download.pytorch.org/whl/cpu"


PDM_DOCKERFILE = "FROM python:3.11-slim\nCOPY . .\nRUN pip install pdm && pdm install --prod\n"
CPU = "https://download.pytorch.org/whl/cpu"


def test_a_pdm_source_that_includes_torch(tmp_path: Path) -> None:
    pyproject = ("[project]\nname = 'svc'\nversion = '1'\ndependencies = ['torch>=2.1']\n"
                 f"[[tool.pdm.source]]\nname = 'pytorch-cpu'\nurl = '{CPU}'\n"
                 "include_packages = ['torch', 'torchvision']\nexclude_packages = ['*']\n")
    found = index_of(tmp_path, {"Dockerfile": PDM_DOCKERFILE, "pyproject.toml": pyproject})
    assert found is not None and found.cpu and found.url == CPU


def test_a_pdm_source_that_does_not_include_torch_is_not_its_index(tmp_path: Path) -> None:
    pyproject = ("[project]\nname = 'svc'\nversion = '1'\ndependencies = ['torch>=2.1']\n"
                 f"[[tool.pdm.source]]\nname = 'pytorch-cpu'\nurl = '{CPU}'\ninclude_packages = ['torchvision']\n")
    assert index_of(tmp_path, {"Dockerfile": PDM_DOCKERFILE, "pyproject.toml": pyproject}) is None


def test_pdm_lock_keeps_the_cpu_label_only_in_the_file_names(tmp_path: Path) -> None:
    lock = ('[[package]]\nname = "torch"\nversion = "2.13.0"\nfiles = [\n'
            '  {file = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", hash = "sha256:00"},\n'
            '  {file = "torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl", hash = "sha256:01"},\n]\n')
    files = {"Dockerfile": PDM_DOCKERFILE, "pdm.lock": lock,
             "pyproject.toml": "[project]\nname = 'svc'\nversion = '1'\ndependencies = ['torch>=2.1']\n"}
    found = index_of(tmp_path, files)
    assert found is not None and found.cpu and "2.13.0+cpu" in found.detail


def test_a_poetry_group_routes_torch_to_its_source(tmp_path: Path) -> None:
    pyproject = ("[tool.poetry]\nname = 'svc'\nversion = '1'\n[tool.poetry.dependencies]\npython = '^3.11'\n"
                 "[tool.poetry.group.ml.dependencies]\ntorch = { version = '^2.1', source = 'pytorch-cpu' }\n"
                 f"[[tool.poetry.source]]\nname = 'pytorch-cpu'\nurl = '{CPU}'\npriority = 'explicit'\n")
    dockerfile = "FROM python:3.11-slim\nCOPY . .\nRUN pip install poetry && poetry install --with ml\n"
    found = index_of(tmp_path, {"Dockerfile": dockerfile, "pyproject.toml": pyproject})
    assert found is not None and found.cpu and "group.ml" in found.detail
