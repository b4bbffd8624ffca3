"""deadweight guard with the real engine: a baseline audit of a small service, then a pull request that adds
a CUDA torch (the lab's stand-in CUDA wheels) and drops --no-cache-dir. guard --baseline exits 1 naming exactly
those two causes, the new DW101 and DW302 findings, with their bytes; waived, it exits 0; expired, 1.

The service is lean-svc's app, built in one stage (lean-svc's second stage would leave any pip cache behind),
plus a small vendored sdist the app imports. Why the sdist: pip caches HTTP downloads only from HTTPS
indexes, and the lab serves its wheels over plain HTTP on loopback, so without --no-cache-dir the cache that
stays in the image is the wheel pip built from the sdist (~/.cache/pip/wheels), as it is for any sdist.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import shutil
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from deadweight.cli.main import main
from deadweight.reports import guard_json

ROOT = Path(__file__).resolve().parents[2]
NAME = "guard-e2e-svc"
TAG = f"deadweight-audit/{NAME}:latest"

DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY vendor/ /vendor/
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py .
USER nobody
CMD ["python", "app.py"]
"""

WAIVERS = """
[[tool.deadweight.guard.waivers]]
rule = "DW101"
package = "torch"
owner = "ml-team"
reason = "GPU nodes arrive next quarter"
expires = 2026-12-31

[[tool.deadweight.guard.waivers]]
rule = "DW302"
service = "guard-e2e-svc"
owner = "platform"
reason = "cache cleanup in the next base image"
expires = 2026-12-31
"""


def _sdist(vendor: Path) -> None:
    """guard-extra 0.1 as an sdist: a module with 1.2 MB of incompressible text, built with setuptools."""
    src = vendor.parent / "sdist-src" / "guard-extra-0.1"
    (src / "guard_extra").mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "guard-extra"\nversion = "0.1"\n'
    )
    blob = base64.b64encode(random.Random(13).randbytes(900_000)).decode()
    (src / "guard_extra" / "__init__.py").write_text(f'TABLE = "{blob}"\n')
    vendor.mkdir()
    with tarfile.open(vendor / "guard-extra-0.1.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="guard-extra-0.1")


def _service(tmp_path: Path) -> Path:
    root = tmp_path / NAME
    root.mkdir()
    (root / ".git").mkdir()  # the config search stops at the service
    shutil.copy(ROOT / "examples" / "lean-svc" / "app.py", root / "app.py")
    (root / "Dockerfile").write_text(DOCKERFILE)
    _sdist(root / "vendor")
    pins = (ROOT / "examples" / "lean-svc" / "requirements.txt").read_text()
    (root / "requirements.txt").write_text(f"--find-links /vendor\n{pins.strip()}\nguard-extra==0.1\n")
    app = (root / "app.py").read_text()
    (root / "app.py").write_text(app.replace("import orjson\n", "import guard_extra\nimport orjson\n", 1))
    return root


def _pull_request(root: Path, standin_index: str) -> None:
    """Add a CUDA torch that the app uses on the CPU, and drop --no-cache-dir."""
    reqs = (root / "requirements.txt").read_text()
    (root / "requirements.txt").write_text(f"--extra-index-url {standin_index}\n{reqs}torch==2.5.1+standin\n")
    app = (root / "app.py").read_text()
    app = app.replace("import orjson\n", 'import orjson\nimport torch\n\nDEVICE = torch.device("cpu")\n', 1)
    (root / "app.py").write_text(app.replace('"status": "ok"', '"status": "ok", "device": str(DEVICE)', 1))
    dockerfile = (root / "Dockerfile").read_text()
    assert "--no-cache-dir " in dockerfile
    (root / "Dockerfile").write_text(dockerfile.replace("--no-cache-dir ", ""))


def _cache_file_bytes(docker_client: Any) -> int:
    out = docker_client.containers.run(TAG, ["sh", "-c", "find /root/.cache/pip -type f -printf '%s\\n'"],
                                       user="root", remove=True, network_disabled=True)
    return sum(int(line) for line in out.decode().split())


def test_guard_names_the_new_cuda_torch_and_pip_cache(  # noqa: PLR0917 - pytest fixtures
    lab: dict[str, str], docker_client: Any, tmp_path: Path, cpu_index: tuple[str, int],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    cpu_url, cpu_bytes = cpu_index
    root = _service(tmp_path)
    baseline = tmp_path / "baseline.json"
    common = ["--network", "host", "--torch-cpu-index", cpu_url]
    try:
        code = main(["audit", str(root), "--build", *common, "--format", "json", "-o", str(baseline)])
        capsys.readouterr()
        base = json.loads(baseline.read_text())
        assert code == 0, base
        assert [s["findings"] for s in base["services"]] == [[]]

        _pull_request(root, lab["DEADWEIGHT_LAB_STANDIN_INDEX"])
        code = main(["guard", str(root), "--build", *common, "--baseline", str(baseline), "--format", "json"])
        doc = json.loads(capsys.readouterr().out)
        jsonschema.validate(doc, guard_json.load_schema(), cls=jsonschema.Draft202012Validator)
        assert code == 1 and doc["status"] == "fail"
        (svc,) = doc["services"]
        assert svc["mode"] == "image" and svc["image"] == f"docker:{TAG}"
        failing = sorted((c for c in svc["checks"] if c["status"] == "fail"), key=lambda c: c["rule"])
        assert [(c["budget"], c["rule"]) for c in failing] == [("new-finding", "DW101"), ("new-finding", "DW302")]
        dw101, dw302 = (c["finding"] for c in failing)
        # DW101: the CUDA torch and the nvidia stack it pulled, minus the CPU build, measured on the image
        dists = svc["facts"]["distributions"]
        stack = dists["torch"] + sum(b for n, b in dists.items() if n.startswith("nvidia-"))
        assert dw101["package"] == "torch" and dw101["savings_bytes"] == stack - cpu_bytes
        # DW302: the wheel pip cached from the sdist, byte for byte what the container holds
        assert dw302["path"].endswith(".cache/pip")
        assert dw302["savings_bytes"] == _cache_file_bytes(docker_client) >= 256 * 1024
        assert not dw101["estimated"] and not dw302["estimated"]
        assert svc["growth"]["bytes"] > stack

        # the text report names the same two causes with their bytes
        image = ["--image", f"docker:{TAG}", "--torch-cpu-index", cpu_url, "--baseline", str(baseline)]
        assert main(["guard", str(root), *image]) == 1
        text = capsys.readouterr().out
        fail_lines = [line for line in text.splitlines() if line.lstrip().startswith("FAIL")]
        assert len(fail_lines) == 2
        assert "new finding DW101" in fail_lines[0] or "new finding DW101" in fail_lines[1]
        assert any("new finding DW302" in line for line in fail_lines)

        # the same change, waived until the end of the year: passes, listed as waived
        (root / "pyproject.toml").write_text(WAIVERS)
        code = main(["guard", str(root), *image, "--today", "2026-12-02", "--format", "json"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 0, doc
        assert sorted(c["rule"] for c in doc["services"][0]["checks"] if c["status"] == "waived") == \
            ["DW101", "DW302"]

        # expired: fails again, with a line saying each waiver expired
        assert main(["guard", str(root), *image, "--today", "2027-01-01"]) == 1
        text = capsys.readouterr().out
        assert text.count("expired on 2026-12-31") == 2
    finally:
        with contextlib.suppress(Exception):  # cleanup only: the build may not have got that far
            docker_client.images.remove(TAG, force=True)
