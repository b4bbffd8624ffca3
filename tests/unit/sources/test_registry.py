"""RegistrySource against a real HTTP registry on loopback (an in-process fake of the v2 API).

The fake serves an OCI layout written by ``tests/imagebuilder.py`` and can be told to misbehave:
answer 429/500/404, stall, cut a blob short, serve wrong bytes, demand Basic or Bearer auth, or
redirect blobs to another origin as S3-backed registries do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deadweight.errors import DigestMismatchError, RegistryError, SourceError
from deadweight.sources.auth import Credentials
from deadweight.sources.base import SourceOptions
from deadweight.sources.registry import RegistrySource
from deadweight.sources.registry_http import RetryPolicy
from deadweight.sources.tarstream import iter_tar
from tests.imagebuilder import F, ImageSpec, write_oci_layout

PASSWORD = "Hunter2-very-secret"


@dataclass
class Fault:
    """Misbehave on the next ``times`` requests whose path contains ``match``."""

    match: str
    action: str  # status | sleep | truncate | corrupt
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    keep: int = 0  # bytes sent before a truncate


class FakeRegistry:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.auth: str | None = None  # None | "basic" | "bearer"
        self.user = "alice"
        self.password = PASSWORD
        self.issued: list[str] = []
        self.token_requests = 0
        self.redirect_to: str | None = None  # base URL of another origin serving /storage/<digest>
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def push_layout(self, layout: Path, repo: str, tag: str) -> None:
        for blob in (layout / "blobs" / "sha256").iterdir():
            self.blobs[f"sha256:{blob.name}"] = blob.read_bytes()
        index = json.loads((layout / "index.json").read_text())
        self.tags[(repo, tag)] = index["manifests"][0]["digest"]

    def fault(self, **kwargs: Any) -> Fault:
        f = Fault(**kwargs)
        self.faults.append(f)
        return f

    def count(self, pattern: str) -> int:
        return sum(1 for path, _ in self.requests if pattern in path)

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.match in path and f.times > 0:
                    f.times -= 1
                    return f
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def error(
                self, status: int, code: str, message: str, headers: dict[str, str] | None = None
            ) -> None:
                body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
                self.send(status, body, {"Content-Type": "application/json", **(headers or {})})

            def do_POST(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path
                with registry.lock:
                    registry.requests.append((path, dict(self.headers.items())))
                fault = registry._take_fault(path)
                corrupt = False
                if fault is not None:
                    if fault.action == "status":
                        self.send(fault.status, fault.body, fault.headers)
                        return
                    if fault.action == "sleep":
                        time.sleep(fault.seconds)
                    if fault.action == "corrupt":
                        corrupt = True
                if path.startswith("/token"):
                    self.token(path)
                    return
                if path.startswith("/storage/"):
                    self.blob(path.rsplit("/", 1)[1], fault, corrupt)
                    return
                if not self.authorized(path):
                    return
                m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
                if not m:
                    self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
                    return
                repo, kind, ref = m.groups()
                if kind == "manifests":
                    digest = ref if ref.startswith("sha256:") else registry.tags.get((repo, ref))
                    body = registry.blobs.get(digest or "")
                    if body is None:
                        self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                        return
                    if corrupt:
                        body = body.replace(b"{", b"{ ", 1)
                    media = json.loads(body).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
                    self.send(200, body, {"Content-Type": media, "Docker-Content-Digest": digest or ""})
                    return
                if registry.redirect_to:
                    self.send(307, b"", {"Location": f"{registry.redirect_to}/storage/{ref}"})
                    return
                self.blob(ref, fault, corrupt)

            def blob(self, digest: str, fault: Fault | None, corrupt: bool) -> None:
                body = registry.blobs.get(digest)
                if body is None:
                    self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
                    return
                if corrupt:
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                start = 0
                rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                status, headers = 200, {"Content-Type": "application/octet-stream"}
                if rng:
                    start = int(rng.group(1))
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                body = body[start:]
                if fault is not None and fault.action == "truncate":
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: fault.keep])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send(status, body, headers)

            def authorized(self, path: str) -> bool:
                sent = self.headers.get("Authorization", "")
                basic = "Basic " + base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
                if registry.auth == "basic":
                    if sent == basic:
                        return True
                    self.error(401, "UNAUTHORIZED", "authentication required",
                               {"WWW-Authenticate": 'Basic realm="fake"'})
                    return False
                if registry.auth == "bearer":
                    if sent.startswith("Bearer ") and sent[7:] in registry.issued:
                        return True
                    repo = path.split("/")[2] if path.count("/") > 2 else ""
                    challenge = (
                        f'Bearer realm="http://{registry.host}/token",service="fake",'
                        f'scope="repository:{repo}:pull"'
                    )
                    self.error(
                        401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge}
                    )
                    return False
                return True

            def token(self, path: str) -> None:
                registry.token_requests += 1
                sent = self.headers.get("Authorization", "")
                basic = "Basic " + base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
                if sent != basic:
                    self.send(401, b'{"details":"incorrect username or password"}')
                    return
                token = f"tok-{len(registry.issued)}"
                registry.issued.append(token)
                self.send(200, json.dumps({"access_token": token, "expires_in": 300}).encode())

        return Handler


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    reg = FakeRegistry()
    yield reg
    reg.close()


class Sleeps:
    """Records backoff delays instead of waiting them."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def spec(marker: str = "amd64", arch: str = "amd64", variant: str | None = None) -> ImageSpec:
    return ImageSpec(
        architecture=arch,
        variant=variant,
        layers=[
            [
                F("etc/", kind="dir"),
                F("etc/os-release", b"ID=fake\n"),
                F("bin/tool", b"x" * 5000, mode=0o755),
            ],
            [F("app/main.py", f"print('{marker}')\n".encode()), F("app/data.bin", bytes(range(256)) * 64)],
        ],
        cmd=["python", "/app/main.py"],
    )


def push(registry: FakeRegistry, tmp_path: Path, repo: str = "app", tag: str = "1", **kwargs: Any) -> Any:
    layout = tmp_path / f"layout-{repo}-{tag}"
    built = write_oci_layout(kwargs.pop("image", spec()), layout, **kwargs)
    registry.push_layout(layout, repo, tag)
    return built


def source(registry: FakeRegistry, ref: str, **kwargs: Any) -> RegistrySource:
    options = kwargs.pop("options", SourceOptions(timeout=5.0))
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("credentials", lambda: None)
    return RegistrySource(f"registry:{registry.host}/{ref}", options, **kwargs)


def read_all(src: RegistrySource) -> dict[int, tuple[str | None, dict[str, bytes]]]:
    out: dict[int, tuple[str | None, dict[str, bytes]]] = {}
    for layer in src.iter_layers():
        files = {
            m.entry.path: m.content or b""
            for m in iter_tar(layer.stream, source="t", want=lambda p: True)
            if m.content is not None
        }
        out[layer.descriptor.index] = (layer.finish(), files)
    return out


# --------------------------------------------------------------------------- happy paths


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_reads_image_and_verifies_every_layer(
    registry: FakeRegistry, tmp_path: Path, compression: str
) -> None:
    built = push(registry, tmp_path, compression=compression)
    with source(registry, "app:1") as src:
        config = src.config()
        assert config.diff_ids == tuple(built.diff_ids)
        assert config.digest == built.config_digest
        assert config.cmd == ("python", "/app/main.py")
        layers = src.layers()
        assert [d.digest for d in layers] == built.layer_digests
        assert [d.diff_id for d in layers] == built.diff_ids
        assert [d.compressed_size for d in layers] == [len(b) for b in built.layer_blobs]
        got = read_all(src)
    assert [got[i][0] for i in range(2)] == built.diff_ids
    assert got[0][1]["etc/os-release"] == b"ID=fake\n"
    assert got[1][1]["app/data.bin"] == bytes(range(256)) * 64
    assert src.manifest_digest == built.manifest_digest


def test_pinned_digest_and_partial_reads(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path)
    with source(registry, f"app@{built.manifest_digest}") as src:
        diff_ids = []
        for layer in src.iter_layers():
            layer.stream.read(100)  # read a header's worth, then let finish() drain and verify
            diff_ids.append(layer.finish())
    assert diff_ids == built.diff_ids


def test_index_selects_requested_platform(registry: FakeRegistry, tmp_path: Path) -> None:
    images = {"linux/amd64": spec("amd"), "linux/arm64/v8": spec("arm", "arm64", "v8")}
    built = push(registry, tmp_path, image=images)
    arm = built.by_platform["linux/arm64/v8"]
    with source(registry, "app:1", options=SourceOptions(platform="linux/arm64")) as src:
        assert src.config().platform.architecture == "arm64"
        assert src.manifest_digest == arm.manifest_digest
        got = read_all(src)
    assert got[1][1]["app/main.py"] == b"print('arm')\n"
    with (
        source(registry, "app:1", options=SourceOptions(platform="linux/s390x")) as src,
        pytest.raises(SourceError, match="no image for platform linux/s390x"),
    ):
        src.config()


def test_single_manifest_wrong_platform_is_an_error(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    with (
        source(registry, "app:1", options=SourceOptions(platform="linux/arm64")) as src,
        pytest.raises(SourceError, match="is linux/amd64, not linux/arm64"),
    ):
        src.config()


# --------------------------------------------------------------------------- digests


def test_manifest_not_matching_pinned_digest(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path)
    registry.fault(match="/manifests/", action="corrupt")
    with source(registry, f"app@{built.manifest_digest}") as src, pytest.raises(DigestMismatchError):
        src.config()


def test_tampered_config_blob(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path)
    registry.fault(match=built.config_digest, action="corrupt")
    with source(registry, "app:1") as src, pytest.raises(DigestMismatchError, match="config"):
        src.config()


def test_tampered_layer_blob(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path, compression="none")
    registry.fault(match=built.layer_digests[1], action="corrupt")
    with source(registry, "app:1") as src:
        layers = src.iter_layers()
        first = next(layers)
        assert first.finish() == built.diff_ids[0]
        second = next(layers)
        with pytest.raises(DigestMismatchError, match="layer 1"):
            second.finish()


def test_config_diff_id_that_lies(registry: FakeRegistry, tmp_path: Path) -> None:
    """Right blob, wrong diff id in the config: caught on the uncompressed stream."""
    built = push(registry, tmp_path, compression="gzip")
    config = json.loads(registry.blobs[built.config_digest])
    config["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64
    bad_config = json.dumps(config).encode()
    bad_digest = "sha256:" + hashlib.sha256(bad_config).hexdigest()
    registry.blobs[bad_digest] = bad_config
    manifest = json.loads(registry.blobs[built.manifest_digest])
    manifest["config"].update(digest=bad_digest, size=len(bad_config))
    body = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    registry.blobs[digest] = body
    registry.tags[("app", "liar")] = digest
    with source(registry, "app:liar") as src:
        layers = src.iter_layers()  # keep the generator alive: closing it closes the open layer
        layer = next(layers)
        with pytest.raises(DigestMismatchError, match="diff id"):
            layer.finish()


# --------------------------------------------------------------------------- HTTP failures


def test_429_then_success_honours_retry_after(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.fault(match="/manifests/1", action="status", status=429, headers={"Retry-After": "7"}, times=2)
    sleeps = Sleeps()
    with source(registry, "app:1", sleep=sleeps) as src:
        assert len(src.config().diff_ids) == 2
    assert sleeps.calls == [7.0, 7.0]
    assert registry.count("/manifests/1") == 3


def test_retry_after_is_capped(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.fault(match="/manifests/1", action="status", status=503, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with source(registry, "app:1", sleep=sleeps, retry=RetryPolicy(max_retry_after=12)) as src:
        src.config()
    assert sleeps.calls == [12.0]


def test_persistent_500_gives_up_after_n_attempts(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.fault(match="/manifests/1", action="status", status=500, times=99,
                   body=b'{"errors":[{"code":"UNKNOWN","message":"storage backend down"}]}')
    sleeps = Sleeps()
    with (
        source(registry, "app:1", sleep=sleeps, retry=RetryPolicy(attempts=3)) as src,
        pytest.raises(RegistryError) as err,
    ):
        src.config()
    assert str(err.value) == f"registry {registry.host}/app:1: HTTP 500 storage backend down (manifest 1)"
    assert registry.count("/manifests/1") == 3
    assert len(sleeps.calls) == 2
    assert all(0 < s <= 8.0 for s in sleeps.calls)


def test_404_is_one_line(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    with source(registry, "app:nope") as src, pytest.raises(RegistryError) as err:
        src.config()
    assert str(err.value) == f"registry {registry.host}/app:nope: HTTP 404 manifest unknown (manifest nope)"
    assert registry.count("/manifests/nope") == 1  # 404 is not retried


def test_slow_registry_times_out(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.fault(match="/manifests/1", action="sleep", seconds=3.0, times=2)
    sleeps = Sleeps()
    options = SourceOptions(timeout=0.2)
    with (
        source(registry, "app:1", options=options, sleep=sleeps, retry=RetryPolicy(attempts=2)) as src,
        pytest.raises(RegistryError, match=r"timed out after 0\.2s") as err,
    ):
        src.config()
    assert "\n" not in str(err.value)
    assert len(sleeps.calls) == 1


def test_slow_then_fast_recovers(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.fault(match="/manifests/1", action="sleep", seconds=3.0, times=1)
    with source(registry, "app:1", options=SourceOptions(timeout=0.2)) as src:
        assert len(src.config().diff_ids) == 2


def test_connection_refused(tmp_path: Path) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sleeps = Sleeps()
    src = RegistrySource(f"registry:127.0.0.1:{port}/app:1", SourceOptions(), sleep=sleeps,
                         credentials=lambda: None, retry=RetryPolicy(attempts=2))
    with src, pytest.raises(RegistryError, match=f"cannot reach 127.0.0.1.*{port}|cannot reach 127.0.0.1"):
        src.config()
    assert len(sleeps.calls) == 1


def test_blob_cut_short_resumes_with_range(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path, compression="gzip")
    registry.fault(match=built.layer_digests[1], action="truncate", keep=300)
    with source(registry, "app:1") as src:
        got = read_all(src)
    assert got[1][0] == built.diff_ids[1]
    ranges = [h.get("Range") for p, h in registry.requests if built.layer_digests[1] in p]
    assert ranges == [None, "bytes=300-"]


def test_blob_cut_short_every_time_fails_cleanly(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path, compression="none")
    registry.fault(match=built.layer_digests[0], action="truncate", keep=100, times=99)
    with source(registry, "app:1", retry=RetryPolicy(attempts=2)) as src:
        layers = src.iter_layers()
        # read ahead (more than one thread), the loss shows at the first read, inline at the end of the layer
        with pytest.raises(SourceError, match="layer 0"):
            next(layers).finish()


def test_blob_redirect_to_other_origin_drops_authorization(registry: FakeRegistry, tmp_path: Path) -> None:
    storage = FakeRegistry()
    try:
        built = push(registry, tmp_path)
        storage.blobs = registry.blobs
        registry.redirect_to = f"http://{storage.host}"
        registry.auth = "basic"
        creds = Credentials(registry.user, PASSWORD)
        with source(registry, "app:1", credentials=lambda: creds) as src:
            got = read_all(src)
        assert [got[i][0] for i in range(2)] == built.diff_ids
        assert storage.count("/storage/") == 3  # config + 2 layers
        assert all("Authorization" not in h for _, h in storage.requests)
    finally:
        storage.close()


def test_schema1_manifest_refused(registry: FakeRegistry) -> None:
    body = json.dumps({"schemaVersion": 1, "name": "app", "tag": "old",
                       "mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws"}).encode()
    registry.blobs["sha256:" + "1" * 64] = body
    registry.tags[("app", "old")] = "sha256:" + "1" * 64
    with source(registry, "app:old") as src, pytest.raises(SourceError, match="schema 1"):
        src.config()


# --------------------------------------------------------------------------- auth


def test_bearer_token_flow_caches_token(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path)
    registry.auth = "bearer"
    creds = Credentials(registry.user, PASSWORD)
    with source(registry, "app:1", credentials=lambda: creds) as src:
        got = read_all(src)
    assert [got[i][0] for i in range(2)] == built.diff_ids
    assert registry.token_requests == 1
    token_query = next(p for p, _ in registry.requests if p.startswith("/token"))
    assert "scope=repository%3Aapp%3Apull" in token_query and "service=fake" in token_query


def test_bearer_with_docker_config_credentials(
    registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push(registry, tmp_path)
    registry.auth = "bearer"
    auth = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    src = RegistrySource(f"registry:{registry.host}/app:1", SourceOptions(), sleep=Sleeps())
    with src:
        assert len(src.config().diff_ids) == 2


def test_bearer_without_credentials_is_unauthorized(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.auth = "bearer"
    with source(registry, "app:1") as src, pytest.raises(RegistryError, match="unauthorized") as err:
        src.config()
    assert "docker login" in str(err.value)


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_wrong_password_never_leaks(registry: FakeRegistry, tmp_path: Path, scheme: str) -> None:
    push(registry, tmp_path)
    registry.auth = scheme
    wrong = "WrongPassw0rd-do-not-print"
    creds = Credentials(registry.user, wrong)
    with source(registry, "app:1", credentials=lambda: creds) as src, pytest.raises(RegistryError) as err:
        src.config()
    text = str(err.value)
    assert "unauthorized" in text
    assert wrong not in text
    assert base64.b64encode(f"alice:{wrong}".encode()).decode() not in text
    assert wrong not in repr(err.value) and wrong not in repr(src) and wrong not in repr(creds)
    assert "\n" not in text


def test_basic_auth(registry: FakeRegistry, tmp_path: Path) -> None:
    built = push(registry, tmp_path)
    registry.auth = "basic"
    creds = Credentials(registry.user, PASSWORD)
    with source(registry, "app:1", credentials=lambda: creds) as src:
        assert src.config().diff_ids == tuple(built.diff_ids)
    manifests = [h for p, h in registry.requests if "/manifests/" in p]
    assert "Authorization" not in manifests[0] and manifests[1]["Authorization"].startswith("Basic ")


def test_403_is_denied(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.fault(match="/manifests/1", action="status", status=403,
                   body=b'{"errors":[{"code":"DENIED","message":"access to the resource is denied"}]}')
    with source(registry, "app:1") as src, pytest.raises(RegistryError) as err:
        src.config()
    assert "denied (HTTP 403)" in str(err.value)


def test_a_redirect_loop_is_one_line(registry: FakeRegistry, tmp_path: Path) -> None:
    push(registry, tmp_path)
    registry.fault(match="/manifests/1", action="status", status=302, times=99,
                   headers={"Location": "/v2/app/manifests/1"})
    with source(registry, "app:1") as src, pytest.raises(RegistryError) as err:
        src.config()
    assert str(err.value) == f"registry {registry.host}/app:1: redirected in a loop (manifest 1)"


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_an_endless_manifest_stops_at_16_mib(registry: FakeRegistry, tmp_path: Path, encoding: str) -> None:
    import gzip

    push(registry, tmp_path)
    body = b"{" + b" " * (17 << 20)
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    if encoding:  # a gzip bomb: small on the wire, 17 MiB once decoded
        body = gzip.compress(body)
        headers["Content-Encoding"] = encoding
    registry.fault(match="/manifests/1", action="status", status=200, body=body, headers=headers)
    with source(registry, "app:1") as src, pytest.raises(RegistryError) as err:
        src.config()
    assert str(err.value).endswith("manifest 1: the answer is larger than 16 MiB")


# --------------------------------------------------------------------------- concurrent fetches


def big_spec() -> ImageSpec:
    """Three layers of a few MiB each, so a prefetch queue fills and waits on its consumer."""
    blob = random.Random(14).randbytes(3 << 20)
    layers = [[F(f"l{i}/data.bin", blob + bytes([i]) * 1000), F(f"l{i}/x.py", b"x\n")] for i in range(3)]
    return ImageSpec(layers=layers)


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_concurrent_fetch_equals_serial(
    registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compression: str
) -> None:
    built = push(registry, tmp_path, image=big_spec(), compression=compression)
    reads = {}
    for threads in ("1", "4"):
        monkeypatch.setenv("DEADWEIGHT_THREADS", threads)
        registry.requests.clear()
        with source(registry, "app:1") as src:
            order: list[str] = []
            got = {}
            for layer in src.iter_layers():
                order.append(f"start {layer.descriptor.index}")
                files = {m.entry.path: m.content for m in iter_tar(layer.stream, source="t", want=lambda p: True)}
                got[layer.descriptor.index] = (layer.finish(), files)
                # which blobs had been requested when this layer was done
                order.append(",".join(str(i) for i, d in enumerate(built.layer_digests) if registry.count(d)))
            reads[threads] = (got, order)
    assert reads["1"][0] == reads["4"][0]
    assert [reads["1"][0][i][0] for i in range(3)] == built.diff_ids
    # serial: a blob is requested when its layer starts; concurrent: the next one while this one is read
    assert reads["1"][1] == ["start 0", "0", "start 1", "0,1", "start 2", "0,1,2"]
    assert reads["4"][1] == ["start 0", "0,1", "start 1", "0,1,2", "start 2", "0,1,2"]


def test_concurrent_fetch_resumes_with_range(
    registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link dropped on the prefetched blob resumes with Range in its worker thread, as the inline read does."""
    monkeypatch.setenv("DEADWEIGHT_THREADS", "4")
    built = push(registry, tmp_path, image=big_spec(), compression="gzip")
    registry.fault(match=built.layer_digests[1], action="truncate", keep=50_000)
    with source(registry, "app:1") as src:
        got = read_all(src)
    assert [got[i][0] for i in range(3)] == built.diff_ids
    ranges = [h.get("Range") for p, h in registry.requests if built.layer_digests[1] in p]
    assert ranges == [None, "bytes=50000-"]


def test_concurrent_fetch_stops_cleanly_when_abandoned(
    registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEADWEIGHT_THREADS", "4")
    push(registry, tmp_path, image=big_spec(), compression="gzip")
    with source(registry, "app:1") as src:
        layers = src.iter_layers()
        first = next(layers)
        first.stream.read(100)
        layers.close()  # the consumer gives up mid-image: every stage and the prefetch stop
    assert not [t for t in threading.enumerate() if t.name.startswith("deadweight-")]
