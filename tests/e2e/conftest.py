"""Session fixtures for the end-to-end tests: the lab (engine, registries, indexes) and the example fleet.

Every test under tests/e2e is marked `e2e`. Without the lab they are skipped with the reason, except in CI
(CI=true), where a missing lab is a failure: an e2e suite that silently skips proves nothing.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.wheels import build_wheel, load_static_server, write_index

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab as labtools
from lab import ExampleImage, RegistryAuth

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _unavailable(reason: str) -> None:
    if labtools.in_ci():
        pytest.fail(f"CI=true but the lab is not available: {reason} (scripts/test runs scripts/lab up)",
                    pytrace=False)
    pytest.skip(f"lab not available: {reason}; run scripts/lab up")


@pytest.fixture(scope="session")
def lab() -> dict[str, str]:
    """The lab's settings (DEADWEIGHT_LAB_*), checked to be reachable."""
    env = labtools.lab_env()
    if env is None:
        _unavailable("no DEADWEIGHT_LAB_* settings and `scripts/lab env` found none")
    assert env is not None
    return env


@pytest.fixture(scope="session")
def docker_client(lab: dict[str, str]) -> Iterator[Any]:
    try:
        import docker

        client = docker.from_env(timeout=900)
        client.ping()
    except Exception as e:  # the SDK raises several unrelated types for "no engine"
        _unavailable(f"docker engine does not answer ({type(e).__name__})")
        raise
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry(lab: dict[str, str]) -> str:
    """host:port of the anonymous registry (plain HTTP on 127.0.0.1)."""
    return lab["DEADWEIGHT_LAB_REGISTRY"]


@pytest.fixture(scope="session")
def registry_auth(lab: dict[str, str]) -> RegistryAuth:
    return RegistryAuth(lab["DEADWEIGHT_LAB_REGISTRY_AUTH"], lab["DEADWEIGHT_LAB_REGISTRY_USER"],
                        lab["DEADWEIGHT_LAB_REGISTRY_PASSWORD"])


@pytest.fixture(scope="session")
def torch_cpu_index(lab: dict[str, str]) -> str:
    """The PEP 503 index serving the machine's CPU torch wheel (for DW101's fix)."""
    url = lab.get("DEADWEIGHT_LAB_TORCH_INDEX")
    if not url:
        pytest.skip("no CPU torch wheel on this machine, so the lab serves no CPU torch index")
    return url


@pytest.fixture(scope="session")
def example_images(lab: dict[str, str], docker_client: Any) -> dict[str, ExampleImage]:
    """The example fleet, built once per session; images whose context-hash label matches are reused."""
    images = {}
    for svc in labtools.example_services():
        image = labtools.build_example(docker_client, svc, lab)
        images[svc.name] = ExampleImage(svc.name, svc.image, image.id, svc.context)
    return images


@pytest.fixture
def tmp_docker_archive(docker_client: Any, tmp_path: Path) -> Callable[[str], Path]:
    """tmp_docker_archive(tag) -> path of a `docker save` tarball of that image, in the test's tmp dir."""

    def save(tag: str) -> Path:
        safe = tag.replace("/", "_").replace(":", "_")
        return labtools.docker_save(docker_client, tag, tmp_path / f"{safe}.tar")

    return save


@pytest.fixture(scope="module")
def cpu_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A CPU torch index with a small stand-in CPU build, as a mirror of PyTorch's CPU index would serve it, at
    a path ending in ``/cpu`` (how deadweight tells a CPU index: DW101's fix refuses any other): (URL, installed
    bytes of that build)."""
    root = tmp_path_factory.mktemp("cpu-index")
    # the importable stand-in torch API of the examples' CUDA stand-in (examples/standin), so a service fixed
    # onto this index still starts; a CPU build: no CUDA libraries, version.cuda None
    spec = importlib.util.spec_from_file_location("make_wheels", ROOT / "examples" / "standin" / "make_wheels.py")
    assert spec and spec.loader
    standin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standin)
    files = {"torch/__init__.py": standin.TORCH_INIT.encode(), "torch/cuda/__init__.py": standin.TORCH_CUDA.encode(),
             "torch/version.py": b'__version__ = "2.5.1+cpu"\ncuda = None\ngit_version = "stand-in"\ndebug = False\n',
             "torch/lib/libtorch_cpu.so": b"\1" * 2_000_000}
    wheel = build_wheel(root, "torch", "2.5.1+cpu", files, tag="cp311-cp311-manylinux_2_17_x86_64")
    write_index(root / "simple" / "cpu", [wheel])
    with zipfile.ZipFile(wheel) as zf:
        installed = sum(i.file_size for i in zf.infolist())
    server = load_static_server().start(str(root / "simple"))
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cpu/", installed
    finally:
        server.shutdown()
