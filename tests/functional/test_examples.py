"""The example fleet's files, the stand-in wheel generator, the tiny OCI example and the lab helpers.

No engine needed: these check the inputs the e2e suite and the README rely on.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


labtools = load(REPO / "tests" / "e2e" / "lab.py", "deadweight_e2e_lab")


# ---------------------------------------------------------------- fleet


def test_fleet_has_five_buildable_services() -> None:
    services = {s.name: s for s in labtools.example_services()}
    assert set(services) == {"torch-cpu-api", "report-worker", "pandas-etl", "legacy-api", "lean-svc"}
    for svc in services.values():
        assert (svc.context / "Dockerfile").is_file()
        assert (svc.context / "requirements.txt").is_file()
        assert svc.image == f"deadweight-example/{svc.name}:latest"
        text = (svc.context / "Dockerfile").read_text()
        assert "FROM python:3.11-slim" in text


def test_legacy_api_carries_its_clutter_and_no_dockerignore() -> None:
    ctx = EXAMPLES / "legacy-api"
    assert not (ctx / ".dockerignore").exists()
    for clutter in (".venv/pyvenv.cfg", "notebooks/exploration.ipynb", "data/cache/orders-2024-05.parquet"):
        assert (ctx / clutter).is_file(), clutter
    dockerfile = (ctx / "Dockerfile").read_text()
    assert "COPY . ." in dockerfile and "--no-install-recommends" not in dockerfile
    assert "--no-cache-dir" not in dockerfile and "gunicorn" in dockerfile
    assert "postgresql+psycopg2://" in (ctx / "settings.py").read_text()


def test_lab_buildargs_point_only_torch_at_the_standin_index() -> None:
    env = {"DEADWEIGHT_LAB_STANDIN_INDEX": "http://127.0.0.1:1234/standin/"}
    by_name = {s.name: s for s in labtools.example_services()}
    assert labtools.lab_buildargs(by_name["torch-cpu-api"], env) == {
        "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:1234/standin/",
        "PIP_CONSTRAINT": "http://127.0.0.1:1234/standin/constraints.txt",
    }
    assert labtools.lab_buildargs(by_name["pandas-etl"], env) == {}
    with pytest.raises(RuntimeError, match="STANDIN_INDEX"):
        labtools.lab_buildargs(by_name["torch-cpu-api"], {})


def test_context_hash_tracks_files_and_ignores_the_index_port(tmp_path: Path) -> None:
    ctx = tmp_path / "svc"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (ctx / "__pycache__").mkdir()
    (ctx / "__pycache__" / "x.pyc").write_bytes(b"junk")
    svc = labtools.ExampleService("svc", ctx, "svc:latest")
    env_a = {"DEADWEIGHT_LAB_STANDIN_INDEX": "http://127.0.0.1:1111/standin/"}
    env_b = {"DEADWEIGHT_LAB_STANDIN_INDEX": "http://127.0.0.1:2222/standin/"}
    args_a = {"PIP_EXTRA_INDEX_URL": env_a["DEADWEIGHT_LAB_STANDIN_INDEX"]}
    args_b = {"PIP_EXTRA_INDEX_URL": env_b["DEADWEIGHT_LAB_STANDIN_INDEX"]}
    first = labtools.context_hash(svc, args_a, env_a, "sha256:base")
    assert labtools.context_hash(svc, args_b, env_b, "sha256:base") == first
    (ctx / "__pycache__" / "y.pyc").write_bytes(b"more junk")
    assert labtools.context_hash(svc, args_a, env_a, "sha256:base") == first
    assert labtools.context_hash(svc, args_a, env_a, "sha256:other-base") != first
    (ctx / "app.py").write_text("print('hi')\n")
    assert labtools.context_hash(svc, args_a, env_a, "sha256:base") != first


def test_parse_exports_reads_lab_env_output() -> None:
    text = "export A='1'\nexport B=\"two words\"\nnot an export\nexport C=3\n"
    assert labtools.parse_exports(text) == {"A": "1", "B": "two words", "C": "3"}


# ---------------------------------------------------------------- stand-in wheels


def test_standin_wheels_are_valid_and_play_cuda_torch(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(EXAMPLES / "standin" / "make_wheels.py"), str(tmp_path)], check=True)
    wheels = {p.parent.name: p for p in tmp_path.glob("*/*.whl")}
    assert set(wheels) == {"torch", "nvidia-cublas-cu12", "nvidia-cudnn-cu12"}
    for project, whl in wheels.items():
        with zipfile.ZipFile(whl) as zf:
            names = zf.namelist()
            record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
            for row in zf.read(record_name).decode().splitlines():
                path, digest, size = row.split(",")
                if path == record_name:
                    continue
                data = zf.read(path)
                want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert digest == f"sha256={want}" and int(size) == len(data), path
            meta = Parser().parsestr(zf.read(next(n for n in names if n.endswith("/METADATA"))).decode())
        assert meta["Name"] == project and meta["Version"].endswith("+standin")
        index = (tmp_path / project / "index.html").read_text()
        assert f'href="{whl.name}#sha256={hashlib.sha256(whl.read_bytes()).hexdigest()}"' in index
        assert whl.stat().st_size > 1_000_000
    with zipfile.ZipFile(wheels["torch"]) as zf:
        meta = Parser().parsestr(zf.read("torch-2.5.1+standin.dist-info/METADATA").decode())
        assert "torch/lib/libtorch_cuda.so" in zf.namelist()
    assert sorted(r.split("==")[0] for r in meta.get_all("Requires-Dist")) == [
        "nvidia-cublas-cu12", "nvidia-cudnn-cu12"]
    assert (tmp_path / "constraints.txt").read_text() == "torch==2.5.1\n"


def test_standin_wheels_are_reproducible(tmp_path: Path) -> None:
    script = str(EXAMPLES / "standin" / "make_wheels.py")
    subprocess.run([sys.executable, script, str(tmp_path / "a")], check=True)
    subprocess.run([sys.executable, script, str(tmp_path / "b")], check=True)
    for whl in (tmp_path / "a").glob("*/*.whl"):
        assert whl.read_bytes() == (tmp_path / "b" / whl.parent.name / whl.name).read_bytes()


def test_standin_torch_api_runs_the_example_code(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(EXAMPLES / "standin" / "make_wheels.py"), str(tmp_path / "idx")],
                   check=True)
    with zipfile.ZipFile(next((tmp_path / "idx" / "torch").glob("*.whl"))) as zf:
        zf.extractall(tmp_path / "site")
    code = (
        "import torch\n"
        "d = torch.device('cpu')\n"
        "w = torch.tensor([0.5, 0.25], dtype=torch.float32, device=d)\n"
        "with torch.no_grad():\n"
        "    x = torch.tensor([2, 4]).to(d)\n"
        "    print(float((x * w).sum()), str(d), torch.cuda.is_available(), torch.version.cuda, len(w))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path / "site")}).stdout
    assert out.split() == ["2.0", "cpu", "False", "12.4", "2"]


# ---------------------------------------------------------------- tiny OCI image


def test_tiny_image_is_small_valid_and_up_to_date(tmp_path: Path) -> None:
    layout = EXAMPLES / "tiny-image"
    assert sum(p.stat().st_size for p in layout.rglob("*") if p.is_file()) < 200_000
    blobs = layout / "blobs" / "sha256"
    for blob in blobs.iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"]) == 4
    # Regenerating gives the same layer contents (gzip bytes may differ between zlib builds; diff ids don't).
    script = str(EXAMPLES / "make_tiny_image.py")
    subprocess.run([sys.executable, script, str(tmp_path / "again")], check=True)
    again = json.loads((tmp_path / "again" / "index.json").read_text())
    manifest2 = json.loads((tmp_path / "again" / "blobs" / "sha256" /
                            again["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config2 = json.loads((tmp_path / "again" / "blobs" / "sha256" /
                          manifest2["config"]["digest"].split(":")[1]).read_bytes())
    assert config2["rootfs"] == config["rootfs"]


def test_tiny_image_has_shadowed_pip_cache_and_a_dist() -> None:
    layout = EXAMPLES / "tiny-image"
    blobs = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    names = []
    for layer in manifest["layers"]:
        with tarfile.open(blobs / layer["digest"].split(":")[1], "r:gz") as tar:
            names.append(set(tar.getnames()))
    assert any(n.startswith("root/.cache/pip/") for n in names[1])
    assert "root/.cache/.wh.pip" in names[2]
    assert "usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/RECORD" in names[1]


# ---------------------------------------------------------------- scripts/lab without an engine


def test_lab_script_usage_and_env_when_down(tmp_path: Path) -> None:
    lab = [sys.executable, str(REPO / "scripts" / "lab")]
    bad = subprocess.run([*lab, "sideways"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "up | down | status | env" in bad.stderr
    env = {"DEADWEIGHT_LAB_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    down = subprocess.run([*lab, "env"], capture_output=True, text=True, check=False, env=env)
    assert down.returncode == 1 and down.stdout == "" and "not up" in down.stderr
    # Leftover settings of registries that no longer run are not reported as up.
    reg = tmp_path / "state" / "registry"
    reg.mkdir(parents=True)
    (reg / "info.json").write_text('{"port": 5999}')
    (tmp_path / "state" / "registry.pid").write_text("999999999\n")
    stale = subprocess.run([*lab, "env"], capture_output=True, text=True, check=False, env=env)
    assert stale.returncode == 1 and "5999" not in stale.stdout
