"""verify's checks against real images in the lab engine: a healthy stdlib HTTP service with an OpenAPI
document (``dw-vchecks-web``), and the same service slimmed badly (``dw-vchecks-broken``): libsqlite3 removed
(``import sqlite3`` fails on the missing .so), ``decimal`` removed (imported only at request time), pip
removed and a distribution with an unmet requirement added, a stand-in torch that is a CUDA build computing
something else. Every check must pass on good->good and fail, by name, on good->broken.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from deadweight.engine.client import Engine
from deadweight.model.project import Service
from deadweight.model.verification import CheckResult
from deadweight.verify.checks import CheckInput, run_checks

GOOD = "dw-vchecks-web:latest"
BROKEN = "dw-vchecks-broken:latest"

APP = r"""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOC = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {
    "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/items": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/teapot": {"get": {"responses": {"418": {"description": "tea"}}}},
    "/items/{id}": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/search": {"get": {"parameters": [{"name": "q", "in": "query", "required": True}]}},
    "/upload": {"post": {"responses": {"200": {"description": "ok"}}}},
}}

class Handler(BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        try:
            if self.path == "/openapi.json":
                return self.reply(200, DOC)
            if self.path == "/health":
                return self.reply(200, {"ok": True})
            if self.path == "/items":
                import decimal  # request-time import: only the runtime trace sees it
                return self.reply(200, [str(decimal.Decimal("1.10"))])
            if self.path == "/teapot":
                return self.reply(418, {})
            return self.reply(404, {})
        except Exception as exc:
            return self.reply(500, {"error": repr(exc)})

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"""

# a stand-in for torch (no wheel download in a test): the same attributes the framework probe reads
FAKE_TORCH = r"""
__version__ = "2.3.1+cpu"
class version:
    cuda = None
class cuda:
    @staticmethod
    def is_available():
        return False
SHIFT = 0.0
class Tensor:
    def __init__(self, rows):
        self.rows = rows
    def reshape(self, r, c):
        flat = [x for row in self.rows for x in row]
        return Tensor([flat[i * c:(i + 1) * c] for i in range(r)])
    def __matmul__(self, other):
        cols = list(zip(*other.rows))
        return Tensor([[sum(a * b for a, b in zip(row, col)) + SHIFT for col in cols] for row in self.rows])
    def tolist(self):
        return self.rows
def manual_seed(n):
    pass
def arange(n):
    return Tensor([[float(i) for i in range(int(n))]])
def ones(r, c):
    return Tensor([[1.0] * c for _ in range(r)])
"""

GOOD_DOCKERFILE = """FROM python:3.11-slim
WORKDIR /app
COPY app.py /app/app.py
COPY torch /app/torch
ENV PYTHONPATH=/app
EXPOSE 8000
CMD ["python", "/app/app.py"]
"""

# what a careless slimming does, found wherever this base keeps it (Debian or python.org layout)
BREAK = r"""
import decimal, glob, os, pip, shutil, sysconfig
for lib in glob.glob("/usr/lib/*/libsqlite3.so.0*") + glob.glob("/usr/*lib/libsqlite3.so.0*"):
    os.remove(lib)
home = os.path.dirname(decimal.__file__)
for pattern in ("decimal.py", "_pydecimal.py", "lib-dynload/_decimal*", "__pycache__/*decimal*"):
    for path in glob.glob(os.path.join(home, pattern)):
        os.remove(path)
packages = os.path.dirname(os.path.dirname(pip.__file__))
shutil.rmtree(os.path.dirname(pip.__file__))
for info in glob.glob(os.path.join(packages, "pip-*")):
    shutil.rmtree(info)
info = os.path.join(sysconfig.get_paths()["purelib"], "fakepkg-1.0.dist-info")
os.makedirs(info)
with open(os.path.join(info, "METADATA"), "w") as handle:
    handle.write("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0\nRequires-Dist: nosuchdep>=1\n")
torch = "/app/torch/__init__.py"
text = open(torch).read().replace("+cpu", "+cu121").replace("cuda = None", "cuda = '12.1'")
open(torch, "w").write(text.replace("SHIFT = 0.0", "SHIFT = 0.5"))
"""

BROKEN_DOCKERFILE = f"""FROM {GOOD}
COPY break.py /tmp/break.py
RUN python /tmp/break.py && rm /tmp/break.py
"""

FIND_SQLITE = (
    'import glob; print(sorted(glob.glob("/usr/lib/*/libsqlite3.so.0") + glob.glob("/usr/*lib/libsqlite3.so.0"))[0])'
)

PYPROJECT = """[project]
name = "web"
version = "0"

[tool.deadweight.verify]
commands = ["python -c 'import sqlite3'", ["python", "-c", "print('hi')"]]
structure-tests = ["structure.yaml"]
timeout = 60
"""

STRUCTURE = """schemaVersion: 2.0.0
commandTests:
  - name: python version
    command: python
    args: ["--version"]
    expectedOutput: ["Python 3\\\\.\\\\d+"]
fileExistenceTests:
  - name: app
    path: /app/app.py
    shouldExist: true
    permissions: "-rw-r--r--"
  - name: libsqlite3
    path: @LIB@
    shouldExist: true
fileContentTests:
  - name: app serves openapi
    path: /app/app.py
    expectedContents: ["openapi\\\\.json"]
metadataTest:
  workdir: /app
  exposedPorts: ["8000"]
  env:
    - key: PYTHONPATH
      value: /app
"""


def _context(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _build(client: Any, tag: str, files: dict[str, str]) -> None:
    client.images.build(fileobj=io.BytesIO(_context(files)), custom_context=True, tag=tag, rm=True)


@pytest.fixture(scope="module")
def images(docker_client: Any) -> Iterator[None]:
    _build(docker_client, GOOD, {"Dockerfile": GOOD_DOCKERFILE, "app.py": APP, "torch/__init__.py": FAKE_TORCH})
    _build(docker_client, BROKEN, {"Dockerfile": BROKEN_DOCKERFILE, "break.py": BREAK})
    yield
    for tag in (BROKEN, GOOD):
        docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def engine(images: None) -> Iterator[Engine]:
    with Engine(timeout=300) as eng:
        yield eng


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, docker_client: Any, images: None) -> Path:
    root = tmp_path_factory.mktemp("vchecks-project")
    (root / "pyproject.toml").write_text(PYPROJECT)
    lib = docker_client.containers.run(GOOD, ["python", "-c", FIND_SQLITE], remove=True).decode().strip()
    (root / "structure.yaml").write_text(STRUCTURE.replace("@LIB@", lib))
    (root / ".git").mkdir()  # the config search stops here
    return root


SERVICE = Service(name="web", context_dir=None, dockerfile=None, image=None, memory_limit_bytes=256 << 20)
MODULES = ("json", "sqlite3", "torch")


def _target(project: Path, after: str, before: str | None = GOOD, service: Service = SERVICE) -> CheckInput:
    return CheckInput(
        service=service,
        after_image=after,
        before_image=before,
        modules=MODULES,
        frameworks={"torch": "cpu"},
        project_dir=project,
        start_timeout=30,
    )


def _by_name(results: tuple[CheckResult, ...]) -> dict[str, CheckResult]:
    return {f"{r.check}:{r.name}": r for r in results}


def _statuses(results: tuple[CheckResult, ...]) -> dict[str, str]:
    return {f"{r.check}:{r.name}": r.status for r in results}


@pytest.fixture(scope="module")
def good(engine: Engine, project: Path) -> tuple[CheckResult, ...]:
    return run_checks(engine, _target(project, GOOD))


@pytest.fixture(scope="module")
def broken(engine: Engine, project: Path) -> tuple[CheckResult, ...]:
    return run_checks(engine, _target(project, BROKEN))


def test_every_check_passes_on_the_good_image(good: tuple[CheckResult, ...]) -> None:
    statuses = _statuses(good)
    assert {r.check for r in good} == {
        "pip-check",
        "imports",
        "framework",
        "start",
        "openapi",
        "user",
        "memory",
        "import-trace",
    }
    assert all(s == "pass" for s in statuses.values()), statuses
    results = _by_name(good)
    assert results["imports:import 3 modules"].data["modules"] == {"json": "ok", "sqlite3": "ok", "torch": "ok"}
    assert "port 8000" in results["start:start web"].detail
    openapi = results["openapi:OpenAPI parameterless GETs"]
    assert openapi.data["before"] == {"/health": 200, "/items": 200, "/teapot": 418}  # no {id}, no required q
    trace = results["import-trace:runtime import trace"]
    assert "decimal" in trace.data["imported"] and "http.server" in trace.data["imported"]
    assert "urllib.request" not in trace.data["imported"]  # deadweight's own probe (docker exec) is not traced
    memory = next(r for r in good if r.check == "memory")
    assert 0 < memory.data["after_peak_bytes"] < 256 << 20
    assert all(r.command.startswith("docker") for r in good)


def test_the_broken_image_fails_each_check_by_name(broken: tuple[CheckResult, ...]) -> None:
    results = _by_name(broken)
    statuses = _statuses(broken)
    pip = next(r for r in broken if r.check == "pip-check")
    assert pip.status == "fail" and "fakepkg 1.0 requires nosuchdep" in pip.detail and "no pip" in pip.name
    imports = results["imports:import 3 modules"]
    assert imports.status == "fail"
    assert imports.data["failed"] == ["sqlite3"]
    assert "libsqlite3.so.0: cannot open shared object file" in imports.data["modules"]["sqlite3"]
    assert statuses["framework:torch build"] == "fail"
    assert "CUDA 12.1" in results["framework:torch build"].detail
    assert statuses["framework:torch deterministic op"] == "fail"
    assert statuses["start:start web"] == "pass"  # what broke is only imported at request time
    assert statuses["openapi:OpenAPI parameterless GETs"] == "fail"
    assert "GET /items: 200 before, 500 after" in results["openapi:OpenAPI parameterless GETs"].detail
    trace = results["import-trace:runtime import trace"]
    assert trace.status == "fail"
    assert "decimal" in trace.data["failed"]
    user = {r.name: r.status for r in broken if r.check == "user"}
    assert user["python -c 'import sqlite3'"] == "fail"
    assert user["python -c print('hi')"] == "pass"
    assert user["structure.yaml: file libsqlite3"] == "fail"
    assert user["structure.yaml: file app"] == "pass"
    assert user["structure.yaml: metadata"] == "pass"


def test_start_fails_when_the_service_exits_non_zero(engine: Engine, project: Path) -> None:
    service = replace(SERVICE, command=("python", "-c", "import sys; print('boom'); sys.exit(3)"))
    (start,) = run_checks(engine, _target(project, GOOD, service=service), only=("start",))
    assert start.status == "fail"
    assert start.detail.startswith("exited with code 3")
    assert "boom" in start.output
    assert start.command.startswith("docker run --rm --network none --memory 268435456 ")


def test_start_waits_for_the_compose_healthcheck(engine: Engine, project: Path) -> None:
    probe = "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)"
    service = replace(SERVICE, healthcheck=("CMD", "python", "-c", probe))
    (start,) = run_checks(engine, _target(project, GOOD, service=service), only=("start",))
    assert start.status == "pass", start.detail
    assert start.detail.startswith("healthy (compose healthcheck)")
    assert start.data["readiness"] == "healthcheck"


def test_memory_fails_when_the_service_is_oom_killed(engine: Engine, project: Path) -> None:
    hog = "import time; b = bytearray(256 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"
    service = replace(SERVICE, command=("python", "-c", hog), memory_limit_bytes=48 << 20)
    results = _by_name(
        run_checks(engine, _target(project, GOOD, before=None, service=service), only=("start", "memory"))
    )
    memory = next(r for r in results.values() if r.check == "memory")
    assert memory.status == "fail" and "OOM-killed" in memory.detail
    assert results["start:start web"].status == "fail"


def test_without_a_before_image_the_differential_checks_skip(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # no [tool.deadweight.verify] here
    results = _by_name(
        run_checks(
            engine,
            _target(tmp_path, GOOD, before=None),
            only=("framework", "openapi", "user", "memory", "import-trace"),
        )
    )
    statuses = {k: r.status for k, r in results.items()}
    assert statuses == {
        "framework:torch build": "pass",
        "framework:torch deterministic op": "skip",
        "openapi:OpenAPI parameterless GETs": "skip",
        "user:user checks": "skip",
        "memory:memory under 268 MB": "pass",
        "import-trace:runtime import trace": "skip",
    }
    assert "http.server" in results["import-trace:runtime import trace"].data["imported"]
    assert results["memory:memory under 268 MB"].data["before_peak_bytes"] is None
