"""deadweight fix --write over a copy of the example fleet, proved on the real engine: every finding whose fix
was planned is gone from a fresh audit of the rebuilt images, every edited service still builds and starts as
well as it did before, and each rebuilt image is smaller by what the planned fixes claimed (measured savings,
less 10%, and never more than the service's de-duplicated dead weight).

The test loops over whatever was planned, so it grows with every editor that lands. It does not pass on an
empty plan: at least one fix must be planned and written; and no fix may be refused (every editor the
examples need exists, DW101's included: the CPU index is served at a path ending in /cpu).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import jsonschema
import lab as labtools
import pytest

from deadweight.cli.main import main
from deadweight.reports import fix_json

ROOT = Path(__file__).resolve().parents[2]
RUN_SECONDS = 5


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, Any]:
    code = main(args)
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def _key(service: str, rule: str, package: str | None, path: str | None) -> tuple[str, str, str]:
    """A finding's identity across two audits: the line number of a path may move with the edit."""
    where = package or (path.rsplit(":", 1)[0] if path and path.rsplit(":", 1)[-1].isdigit() else path) or ""
    return (service, rule, where)


def _started_well(client: Any, image: str) -> bool:
    """The container is still running after a few seconds, or has exited 0 (a batch job that finished)."""
    container = client.containers.run(image, detach=True, network_mode="none")
    try:
        time.sleep(RUN_SECONDS)
        container.reload()
        if container.status == "running":
            return True
        return int(container.attrs["State"]["ExitCode"]) == 0
    finally:
        container.remove(force=True)


def test_fix_write_removes_what_it_planned_and_the_fleet_still_builds_and_runs(  # noqa: PLR0917 - pytest fixtures
    example_images: dict[str, Any], docker_client: Any, lab: dict[str, str], cpu_index: tuple[str, int],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    url, _ = cpu_index
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", copy, symlinks=True)
    before_images = [f"{name}=docker:{image.tag}" for name, image in sorted(example_images.items())]
    image_args = [arg for pair in before_images for arg in ("--image", pair)]

    _, audited = _json(capsys, ["audit", str(copy), "--format", "json", "--torch-cpu-index", url, *image_args])
    services_before = {s["name"]: s for s in audited["services"]}

    code, plan = _json(capsys, ["fix", str(copy), "--write", "--format", "json", "--torch-cpu-index", url,
                                "--fail-on", "none", *image_args])
    jsonschema.validate(plan, fix_json.load_schema(), cls=jsonschema.Draft202012Validator)
    planned = [f for f in plan["fixes"] if f["status"] == "planned"]
    # both editors (Dockerfile, pyproject) exist: every fix the examples call for is made, none refused
    refused = [(f["rule"], f["service"], f["package"], f["reason"]) for f in plan["fixes"] if f["status"] == "refused"]
    assert not refused, refused
    assert code == 0, plan
    # not vacuous: something was fixed and written
    assert any(f["changes"] for f in planned), [(f["rule"], f["service"], f["reason"]) for f in plan["fixes"]]
    assert plan["written"] is True and plan["files"]
    for change in plan["files"]:
        assert (copy / change["path"]).is_file()

    # the services whose build context holds an edited file are rebuilt under tags of this test
    edited_paths = [(copy / change["path"]).resolve() for change in plan["files"]]
    services = {s.name: s for s in labtools.example_services(copy / "docker-compose.yml")}
    edited = sorted(name for name, svc in services.items()
                    if any(svc.context in p.parents for p in edited_paths))
    assert edited
    after_tags: dict[str, str] = {}
    try:
        for name in edited:
            svc = services[name]
            tag = f"deadweight-fix-e2e/{name}:after"
            docker_client.images.build(path=str(svc.context), dockerfile=svc.dockerfile, tag=tag,
                                       buildargs=labtools.lab_buildargs(svc, lab), network_mode="host", rm=True,
                                       forcerm=True, pull=False)
            after_tags[name] = tag

        # a fresh audit of the rebuilt images reports none of the findings whose fix was planned
        images_after = [f"{name}=docker:{after_tags.get(name, image.tag)}"
                        for name, image in sorted(example_images.items())]
        _, again = _json(capsys, ["audit", str(copy), "--format", "json", "--torch-cpu-index", url,
                                  *[a for pair in images_after for a in ("--image", pair)]])
        remaining = {_key(s["name"], f["rule"], f["package"], f["path"]) for s in again["services"]
                     for f in s["findings"]}
        fixed = {_key(f["service"], f["rule"], f["package"], f["path"]) for f in planned}
        assert not fixed & remaining
        assert all(s["error"] is None for s in again["services"])

        compared = []
        for name in edited:
            # still starts, at least as well as the original did
            if _started_well(docker_client, example_images[name].tag):
                assert _started_well(docker_client, after_tags[name]), name
                compared.append(name)
            # smaller by what the planned fixes with measured savings claimed
            claimed = sum(f["savings_bytes"] for f in planned if f["service"] == name and not f["estimated"])
            claimed = min(claimed, services_before[name]["dead_weight_bytes"])
            size_before = docker_client.images.get(example_images[name].tag).attrs["Size"]
            size_after = docker_client.images.get(after_tags[name]).attrs["Size"]
            # (64 KiB of slack: the edited project files ship in the image too; a pin adds bytes, saves none)
            assert size_after <= size_before - 0.9 * claimed + 65536, (name, size_before, size_after, claimed)
        assert compared, f"none of the edited services {edited} started before the fix either"

        # and a second fix over the written files changes nothing
        images_now = [a for pair in images_after for a in ("--image", pair)]
        _, second = _json(capsys, ["fix", str(copy), "--format", "json", "--torch-cpu-index", url,
                                   "--fail-on", "none", *images_now])
        assert second["files"] == []
    finally:
        for tag in after_tags.values():
            docker_client.images.remove(tag, force=True)
