"""The engine storage fast path against the real engine: the same report as the ``docker save`` stream.

Images built here by the real engine cover what a layer store holds: pip-installed packages on
``python:3.11-slim``; ``RUN rm`` of lower-layer files (whiteouts) and ``rm -rf dir && mkdir dir``
(an opaque directory); hard links within a layer and to a lower layer's file. Each is inspected both
ways through the CLI and the JSON must be byte-identical; the example fleet the suite builds is read
both ways too. Reading with ``verify`` rehashes the rebuilt layer tars, which must hash to the engine's
diff ids: dockerd's own tar-split records, not ours, rebuilt byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deadweight.pipeline.analyze import analyze_image
from deadweight.sources.daemon import DaemonSource

pytestmark = pytest.mark.e2e

DOCKERFILES = {
    "pip": """
        FROM python:3.11-slim
        RUN pip install --no-cache-dir six==1.16.0 idna==3.7
        RUN pip install six==1.16.0 --force-reinstall
        WORKDIR /app
        COPY app.py requirements.txt ./
        CMD ["python", "app.py"]
    """,
    "whiteout": """
        FROM python:3.11-slim
        RUN mkdir -p /opt/d/sub && echo a > /opt/d/a && echo b > /opt/d/sub/b && echo keep > /opt/keep
        RUN rm /etc/debian_version /usr/bin/dpkg-split && rm -r /usr/share/doc/apt /opt/d/sub
        RUN rm -rf /opt/d && mkdir /opt/d && echo c > /opt/d/c
        RUN rm -rf /usr/share/zoneinfo && mkdir /usr/share/zoneinfo && echo UTC > /usr/share/zoneinfo/UTC
    """,
    "hardlink": """
        FROM python:3.11-slim
        RUN mkdir /opt/h && head -c 300000 /dev/urandom > /opt/h/m && ln /opt/h/m /opt/h/a && ln /opt/h/m /opt/h/z
        RUN ln /usr/bin/python3.11 /opt/h/py && ln /opt/h/m /opt/h/b
        RUN rm /opt/h/m
    """,
}


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=900, check=check)


@pytest.fixture(scope="module")
def images(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tags: dict[str, str] = {}
    suffix = uuid.uuid4().hex[:10]
    try:
        for name, dockerfile in DOCKERFILES.items():
            ctx = tmp_path_factory.mktemp(name)
            (ctx / "Dockerfile").write_text(textwrap.dedent(dockerfile))
            (ctx / "app.py").write_text("import six, idna\nprint(six.__version__)\n")
            (ctx / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")
            tag = f"dw-h5-{name}:{suffix}"
            run("docker", "build", "-q", "-t", tag, str(ctx))
            tags[name] = tag
        yield tags
    finally:
        if tags:
            run("docker", "rmi", "-f", *tags.values(), check=False)


def inspect_both(ref: str, *flags: str) -> tuple[str, str]:
    """``inspect --format json`` through the fast path and through ``--no-fast-path``: (fast, stream)."""
    cmd = [sys.executable, "-m", "deadweight", "inspect", f"docker:{ref}", "--format", "json", *flags]
    fast = run(*cmd)
    assert fast.stderr == "", fast.stderr  # no fallback note: the engine's storage was read
    stream = run(*cmd, "--no-fast-path")
    assert stream.stderr == ""
    return fast.stdout, stream.stdout


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_fast_path_report_is_byte_identical(images: dict[str, str], name: str) -> None:
    tag = images[name]
    with DaemonSource(tag) as src:
        assert src.stored is not None, src.fast_path_note
        assert [layer.diff_id for layer in src.stored] == list(src.config().diff_ids)
    reports = {}
    for flags in ((), ("--packages", "--breakdown"), ("--top", "1000")):
        fast, stream = inspect_both(tag, *flags)
        assert fast == stream, f"{name} {flags}: the fast path and docker save disagree"
        reports[flags] = json.loads(fast)
    packaged = reports[("--packages", "--breakdown")]
    names = {d["name"] for env in packaged["python"]["environments"] for d in env["distributions"]}
    assert {"six", "idna"} <= names if name == "pip" else "six" not in names
    if name == "whiteout":
        assert reports[()]["shadowed_bytes"] > 0


def test_fast_path_rebuilds_the_engines_tars(images: dict[str, str]) -> None:
    """With verify, every rebuilt layer is hashed: it must be the very tar the engine's diff id names."""
    for tag in images.values():
        with DaemonSource(tag) as src:
            assert src.stored is not None
            analysis = analyze_image(src, verify=True)
        assert [layer.diff_id for layer in analysis.layers] == list(analysis.image_config.diff_ids)


def test_example_fleet_reads_the_same_both_ways(example_images: dict[str, Any]) -> None:
    for image in example_images.values():
        fast, stream = inspect_both(image.tag, "--packages", "--breakdown")
        assert fast == stream, f"{image.tag}: the fast path and docker save disagree"


class _ElsewhereAPI:
    """The real engine, except that ``info`` names a storage directory that is not there."""

    def __init__(self, api: Any, root: str) -> None:
        self._api = api
        self._root = root

    def info(self) -> dict[str, Any]:
        info = dict(self._api.info())
        info["DockerRootDir"] = self._root
        return info

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


class _Client:
    def __init__(self, client: Any, root: str) -> None:
        self.api = _ElsewhereAPI(client.api, root)

    def close(self) -> None:
        pass


def test_unreadable_storage_falls_back_with_a_note(images: dict[str, str], docker_client: Any,
                                                  tmp_path: Path) -> None:
    tag = images["whiteout"]
    missing = str(tmp_path / "renamed-docker-root")
    with DaemonSource(tag, client=_Client(docker_client, missing)) as src:
        assert src.stored is None
        note = src.fast_path_note
        assert note is not None and note.startswith(missing) and note.endswith(": missing")
        fallback = analyze_image(src)
    with DaemonSource(tag) as src:
        fast = analyze_image(src)
    sizes = [(la.diff_id, la.size_bytes) for la in fast.layers]
    assert [(la.diff_id, la.size_bytes) for la in fallback.layers] == sizes
    assert (fallback.visible_bytes, fallback.shadowed_bytes) == (fast.visible_bytes, fast.shadowed_bytes)
    # the note is one line on stderr when nothing else handles the library's logging (the CLI does not)
    script = textwrap.dedent(f"""
        import docker, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_engine_storage_e2e import _Client
        from deadweight.sources.daemon import DaemonSource
        with DaemonSource({tag!r}, client=_Client(docker.from_env(), {missing!r})) as src:
            pass
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ}, check=True)
    assert done.stderr.splitlines() == [
        f"deadweight: note: docker:{tag}: not reading the engine's storage "
        f"({note}); streaming docker save instead"
    ]

