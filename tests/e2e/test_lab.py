"""The lab itself and the example fleet, on the real engine: what every other e2e test stands on."""

from __future__ import annotations

import ast
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import lab as labtools
import pytest
from lab import ExampleImage, RegistryAuth


def run_in(client: Any, image: str, command: list[str], **kw: Any) -> str:
    out = client.containers.run(image, command, remove=True, network_disabled=True, **kw)
    return bytes(out).decode()


def test_fleet_is_built_with_context_hash_labels(docker_client: Any, example_images: dict[str, ExampleImage],
                                                 lab: dict[str, str]) -> None:
    assert set(example_images) == {"torch-cpu-api", "report-worker", "pandas-etl", "legacy-api", "lean-svc"}
    for svc in labtools.example_services():
        image = docker_client.images.get(svc.image)
        assert image.id == example_images[svc.name].id
        label = image.labels[labtools.CONTEXT_LABEL]
        base_id = docker_client.images.get(labtools.BASE_IMAGE).id
        assert label == labtools.context_hash(svc, labtools.lab_buildargs(svc, lab), lab, base_id)
        # A second build request with nothing changed reuses the image.
        assert labtools.build_example(docker_client, svc, lab).id == image.id


def test_torch_service_gets_the_standin_cuda_wheels(docker_client: Any,
                                                    example_images: dict[str, ExampleImage]) -> None:
    tag = example_images["torch-cpu-api"].tag
    out = run_in(docker_client, tag, ["python", "-c", (
        "import json, torch, importlib.metadata as md;"
        "print(json.dumps([torch.__version__, torch.cuda.is_available(), md.version('torch'),"
        " md.version('nvidia-cublas-cu12'), md.version('nvidia-cudnn-cu12')]))")])
    assert json.loads(out) == ["2.5.1", False, "2.5.1+standin", "12.4.5.8+standin", "9.1.0.70+standin"]
    # The service's own code runs on the stand-in torch.
    code = "from app.main import score; print(score([1, 1, 1, 1]))"
    out = run_in(docker_client, tag, ["python", "-c", code])
    assert ast.literal_eval(out.strip()) == {"score": pytest.approx(0.6)}


@pytest.mark.parametrize(("service", "command", "expect"), [
    ("pandas-etl", None, '"region":"apac"'),
    ("report-worker", None, '"p95"'),
    ("legacy-api", ["python", "-c", "import app; print(app.engine.dialect.driver)"], "psycopg2"),
    ("lean-svc", ["python", "-c", "import orjson, sys; print(orjson.dumps({'py': sys.prefix}).decode())"],
     '{"py":"/opt/venv"}'),
])
def test_example_services_run(docker_client: Any, example_images: dict[str, ExampleImage], service: str,
                              command: list[str] | None, expect: str) -> None:
    out = run_in(docker_client, example_images[service].tag, command, environment={"REPORT_ONCE": "1"})
    assert expect in out


def test_anonymous_registry_takes_a_push(docker_client: Any, registry: str,
                                         example_images: dict[str, ExampleImage]) -> None:
    image = docker_client.images.get(example_images["lean-svc"].tag)
    target = f"{registry}/examples/lean-svc"
    image.tag(target, "e2e")
    try:
        for line in docker_client.images.push(target, "e2e", stream=True, decode=True):
            assert "error" not in line, line
    finally:
        docker_client.images.remove(f"{target}:e2e")
    resp = httpx.get(f"http://{registry}/v2/examples/lean-svc/manifests/e2e",
                     headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert resp.status_code == 200
    manifest = resp.json()
    assert len(manifest["layers"]) == len(image.attrs["RootFS"]["Layers"])


def test_auth_registry_wants_the_lab_credentials(registry_auth: RegistryAuth) -> None:
    url = f"http://{registry_auth.host}/v2/"
    anon = httpx.get(url)
    assert anon.status_code == 401
    assert anon.headers["www-authenticate"].lower().startswith("basic")
    assert httpx.get(url, auth=(registry_auth.user, "wrong")).status_code == 401
    assert httpx.get(url, auth=(registry_auth.user, registry_auth.password)).status_code == 200


def test_cpu_torch_index_lists_the_wheel(torch_cpu_index: str) -> None:
    page = httpx.get(f"{torch_cpu_index}torch/")
    assert page.status_code == 200
    assert "+cpu-cp311" in page.text and "#sha256=" in page.text
    href = page.text.split('href="', 1)[1].split("#", 1)[0]
    head = httpx.head(f"{torch_cpu_index}torch/{href}")
    assert head.status_code == 200 and int(head.headers["content-length"]) > 10_000_000


def test_tmp_docker_archive_saves_the_image(tmp_docker_archive: Callable[[str], Path],
                                            example_images: dict[str, ExampleImage]) -> None:
    tag = example_images["lean-svc"].tag
    path = tmp_docker_archive(tag)
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        names = set(tar.getnames())
    assert manifest[0]["RepoTags"] == [tag]
    assert all(layer in names for layer in manifest[0]["Layers"])
