"""DW101's fix end to end, with the real tools against PyPI and the lab's CPU torch index (torch 2.13.0+cpu).

- uv and Poetry: a project declaring torch and six, locked first against PyPI (so the lock holds the CUDA
  build and its nvidia-*/cuda-* wheels), fixed with the lab's index as the CPU index; the lock is regenerated
  by the real tool and must pin torch from the lab's index with no CUDA entries, and a new audit must not
  report DW101.
- pip: examples/torch-cpu-api fixed the same way, then built with the real engine (``--network host``: the
  index is on 127.0.0.1); the image's torch must be the CPU build with no nvidia-* in site-packages.

uv and Poetry do not read pip's configuration, so the TLS-intercepting proxy's CA bundle is handed to them
through SSL_CERT_FILE / REQUESTS_CA_BUNDLE when the machine has one. Run under ``flock /tmp/dw-e2e.lock``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import EXAMPLES, in_ci

from deadweight.fixes.locks import cuda_entries
from deadweight.pipeline.audit import AuditOptions, audit_config, run_audit
from deadweight.pipeline.fix import fix
from deadweight.project.indexes import torch_index
from deadweight.project.loader import load_project

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
APP = "import torch\n\n\ndef embed(values):\n    return torch.tensor(values).mean().item()\n"
IMAGE = "deadweight-e2e/fix-torch-cpu-api:fixed"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (pip install -e '.[test]')"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture(autouse=True)
def _tls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    if CA_BUNDLE.is_file():
        monkeypatch.setenv("SSL_CERT_FILE", str(CA_BUNDLE))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(CA_BUNDLE))
    monkeypatch.setenv("POETRY_CACHE_DIR", str(tmp_path / "poetry-cache"))
    yield


def _project(root: Path, pyproject: str) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(pyproject)
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "__main__.py").write_text(APP)
    return root


def _dw101(path: Path, index: str) -> list[str]:
    config = audit_config(str(path), torch_cpu_index=index)
    report = run_audit(str(path), config, AuditOptions(), project=load_project(str(path)))
    return [f.title for s in report.services for f in s.findings if f.rule == "DW101"]


def _locked_torch(lock: Path) -> list[dict[str, object]]:
    data = tomllib.loads(lock.read_text())
    return [p for p in data["package"] if p["name"] == "torch"]


def _fix_and_check(root: Path, lock_name: str, index: str) -> float:
    lock = root / lock_name
    before = lock.read_text()
    assert cuda_entries(before), "the PyPI lock should hold the CUDA build to begin with"
    assert _dw101(root, index)
    started = time.monotonic()
    plan = fix(str(root), torch_cpu_index=index, only=["DW101"], write=True)
    elapsed = time.monotonic() - started
    row = next(f for f in plan.fixes if f.rule == "DW101")
    assert row.status == "planned", row.reason
    assert plan.written
    print(f"{lock_name}: {row.commands} (fix {elapsed:.1f}s)")
    after = lock.read_text()
    assert cuda_entries(after) == []
    assert any(str(p["version"]).endswith("+cpu") for p in _locked_torch(lock))
    service = load_project(str(root)).services[0]
    found = torch_index(service)
    assert found is not None and found.cpu
    assert _dw101(root, index) == []
    return elapsed


def test_uv_project_fixed_and_relocked(tmp_path: Path, torch_cpu_index: str) -> None:
    uv = _tool("uv")
    root = _project(tmp_path / "uvsvc", '[project]\nname = "uvsvc"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
                                        'dependencies = [\n    "torch>=2.1",  # the model\n    "six",\n]\n\n'
                                        "[tool.uv]\npackage = false\n")
    subprocess.run([uv, "lock"], cwd=root, check=True, capture_output=True, timeout=600)
    _fix_and_check(root, "uv.lock", torch_cpu_index)
    sources = [p["source"] for p in _locked_torch(root / "uv.lock")]
    assert {"registry": torch_cpu_index} in sources
    text = (root / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "uvsvc"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
                           'dependencies = [\n    "torch>=2.1",  # the model\n')
    assert 'torch = [{ index = "pytorch-cpu", marker = "sys_platform != \'darwin\'" }]' in text


def test_poetry_project_fixed_and_relocked(tmp_path: Path, torch_cpu_index: str) -> None:
    poetry = _tool("poetry")
    root = _project(tmp_path / "posvc", '[tool.poetry]\nname = "posvc"\nversion = "0.1.0"\ndescription = ""\n'
                                        'authors = []\npackage-mode = false\n\n[tool.poetry.dependencies]\n'
                                        'python = "^3.11"\ntorch = ">=2.1"\nsix = "*"\n')
    subprocess.run([poetry, "lock", "--no-interaction"], cwd=root, check=True, capture_output=True, timeout=900)
    _fix_and_check(root, "poetry.lock", torch_cpu_index)
    sources = [p.get("source") for p in _locked_torch(root / "poetry.lock")]
    assert sources == [{"type": "legacy", "url": torch_cpu_index.rstrip("/"), "reference": "pytorch-cpu"}], sources
    assert 'torch = { version = ">=2.1", source = "pytorch-cpu" }\n' in (root / "pyproject.toml").read_text()


def test_pdm_project_fixed_and_relocked(tmp_path: Path, torch_cpu_index: str) -> None:
    """PDM: the family bound to the CPU source; pdm.lock records the version without its +cpu label, and
    deadweight's audit does not read [[tool.pdm.source]] yet (docs/fix-torch.md), so only the lock is checked."""
    pdm = _tool("pdm")
    root = _project(tmp_path / "pdmsvc", '[project]\nname = "pdmsvc"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
                                         'dependencies = ["torch>=2.1", "six"]\n\n[tool.pdm]\ndistribution = false\n')
    subprocess.run([pdm, "lock"], cwd=root, check=True, capture_output=True, timeout=900)
    assert cuda_entries((root / "pdm.lock").read_text())
    plan = fix(str(root), torch_cpu_index=torch_cpu_index, only=["DW101"], write=True)
    row = next(f for f in plan.fixes if f.rule == "DW101")
    assert row.status == "planned", row.reason
    assert row.commands and row.commands[0].startswith("pdm update --no-sync --update-eager torch")
    print(f"pdm.lock: {row.commands}")
    lock = (root / "pdm.lock").read_text()
    assert cuda_entries(lock) == []
    torch = _locked_torch(root / "pdm.lock")
    files = [f["file"] for p in torch for f in p["files"]]  # type: ignore[attr-defined]
    assert files and all("+cpu-" in name for name in files), files
    assert 'exclude_packages = ["*"]' in (root / "pyproject.toml").read_text()


def test_pip_example_builds_a_cpu_only_image(tmp_path: Path, torch_cpu_index: str, docker_client: object) -> None:
    root = tmp_path / "torch-cpu-api"
    shutil.copytree(EXAMPLES / "torch-cpu-api", root)
    requirements = (root / "requirements.txt").read_bytes()
    plan = fix(str(root), torch_cpu_index=torch_cpu_index, only=["DW101"], write=True)
    row = next(f for f in plan.fixes if f.rule == "DW101")
    assert row.status == "planned", row.reason
    assert (root / "requirements.txt").read_bytes() == requirements
    dockerfile = (root / "Dockerfile").read_text()
    assert f"ARG TORCH_INDEX_URL={torch_cpu_index}\n" in dockerfile
    assert 'RUN pip install --no-cache-dir --no-deps --index-url "$TORCH_INDEX_URL" torch==2.13.0+cpu\n' \
           "RUN pip install --no-cache-dir -r requirements.txt\n" in dockerfile
    assert _dw101(root, torch_cpu_index) == []
    subprocess.run(["docker", "build", "--network", "host", "-t", IMAGE, str(root)], check=True,
                   capture_output=True, timeout=1800)
    probe = ("import pathlib, site, torch; "
             "dirs = [p for d in site.getsitepackages() if pathlib.Path(d).is_dir() "
             "for p in pathlib.Path(d).iterdir() if p.name.startswith(('nvidia', 'triton', 'cuda'))]; "
             "print(torch.__version__, torch.cuda.is_available(), len(dirs))")
    out = subprocess.run(["docker", "run", "--rm", IMAGE, "python", "-c", probe], check=True, capture_output=True,
                         text=True, timeout=300).stdout.split()
    assert out == ["2.13.0+cpu", "False", "0"]
