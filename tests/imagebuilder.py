"""Write tiny container images in every form the sources read, the way real tools write them.

- ``write_docker_archive(layout="legacy")``: what ``docker save`` wrote up to Docker 24: ``<id>/VERSION``,
  ``<id>/json``, ``<id>/layer.tar``, ``<config-hex>.json``, ``manifest.json``, ``repositories``.
- ``write_docker_archive(layout="oci")``: what Docker 25+ writes: an OCI layout (``oci-layout``,
  ``index.json``, ``blobs/sha256/...``) plus ``manifest.json`` and ``repositories``.
- ``write_oci_layout``: an OCI image layout directory (or tar of one), as skopeo/buildx write it;
  several platforms go behind a nested image index.

Everything is deterministic (mtime 0, uid 0) so digests are stable between runs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import zstandard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
CREATED = "2024-01-01T00:00:00Z"


@dataclass
class F:
    """One layer entry. ``kind``: file|dir|symlink|hardlink|whiteout|opaque.

    For ``whiteout`` the path is the deleted path (``.wh.NAME`` is written); for ``opaque`` it is the
    directory (``DIR/.wh..wh..opq`` is written). ``target`` is the link target (an archive path for
    hard links).
    """

    path: str
    content: bytes = b""
    kind: str = "file"
    target: str | None = None
    mode: int = 0o644


def _info(name: str, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = mode
    return info


def layer_tar(files: Sequence[F]) -> bytes:
    """Uncompressed layer tar bytes holding ``files`` in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            path = f.path.strip("/")
            if f.kind == "file":
                info = _info(path, f.mode)
                info.size = len(f.content)
                tar.addfile(info, io.BytesIO(f.content))
            elif f.kind == "dir":
                info = _info(path, 0o755 if f.mode == 0o644 else f.mode)
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif f.kind in ("symlink", "hardlink"):
                if f.target is None:
                    raise ValueError(f"{f.kind} {path} needs a target")
                info = _info(path, 0o777 if f.kind == "symlink" else f.mode)
                info.type = tarfile.SYMTYPE if f.kind == "symlink" else tarfile.LNKTYPE
                info.linkname = f.target
                tar.addfile(info)
            elif f.kind == "whiteout":
                parent, base = posixpath.split(path)
                tar.addfile(_info(posixpath.join(parent, ".wh." + base), 0o600), io.BytesIO(b""))
            elif f.kind == "opaque":
                tar.addfile(_info(posixpath.join(path, ".wh..wh..opq"), 0o600), io.BytesIO(b""))
            else:
                raise ValueError(f"unknown entry kind {f.kind!r}")
    return buf.getvalue()


@dataclass
class ImageSpec:
    """An image: its layers (each a list of entries) and the config fields tests care about."""

    layers: list[list[F]]
    history: list[dict[str, Any]] | None = None
    env: list[str] = field(default_factory=lambda: list(DEFAULT_ENV))
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    workdir: str = ""
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class BuiltImage:
    """What was written, so tests can compare what a source reports with the truth."""

    path: str
    diff_ids: list[str]
    layer_digests: list[str]
    config_digest: str
    manifest_digest: str
    layer_sizes: list[int]
    layer_blobs: list[bytes] = field(default_factory=list, repr=False)  # stored (maybe compressed) bytes
    config: bytes = field(default=b"", repr=False)
    by_platform: dict[str, BuiltImage] = field(default_factory=dict)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "none":
        return data
    if compression == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    raise ValueError(f"unknown compression {compression!r}")


@dataclass
class _Blobs:
    tars: list[bytes]
    stored: list[bytes]
    diff_ids: list[str]
    digests: list[str]
    config: bytes
    config_digest: str


def _history(spec: ImageSpec) -> list[dict[str, Any]]:
    if spec.history is None:
        return [{"created": CREATED, "created_by": f"RUN step {i + 1}"} for i in range(len(spec.layers))]
    non_empty = sum(1 for h in spec.history if not h.get("empty_layer"))
    if non_empty != len(spec.layers):
        raise ValueError(f"history has {non_empty} non-empty entries for {len(spec.layers)} layers")
    return spec.history


def config_json(spec: ImageSpec, diff_ids: list[str]) -> bytes:
    """The image config as Docker writes it (keys sorted, compact)."""
    cfg: dict[str, Any] = {"Env": spec.env, "WorkingDir": spec.workdir, "User": spec.user}
    cfg["Cmd"] = spec.cmd
    cfg["Entrypoint"] = spec.entrypoint
    if spec.labels:
        cfg["Labels"] = spec.labels
    doc: dict[str, Any] = {
        "architecture": spec.architecture,
        "config": cfg,
        "created": CREATED,
        "history": _history(spec),
        "os": spec.os,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if spec.variant:
        doc["variant"] = spec.variant
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _blobs(spec: ImageSpec, compression: str) -> _Blobs:
    tars = [layer_tar(files) for files in spec.layers]
    stored = [compress(t, compression) for t in tars]
    diff_ids = [sha256(t) for t in tars]
    config = config_json(spec, diff_ids)
    return _Blobs(tars, stored, diff_ids, [sha256(b) for b in stored], config, sha256(config))


def _oci_manifest(blobs: _Blobs, compression: str) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": blobs.config_digest, "size": len(blobs.config)},
        "layers": [
            {"mediaType": OCI_LAYER[compression], "digest": d, "size": len(b)}
            for d, b in zip(blobs.digests, blobs.stored, strict=True)
        ],
    }
    return json.dumps(doc, indent=2).encode()


class _TarWriter:
    """Writes members the way Go's archive/tar does in ``docker save``: directories, then files."""

    def __init__(self, path: str) -> None:
        self._tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed in close()
        self._dirs: set[str] = set()

    def add(self, name: str, data: bytes) -> None:
        parent = posixpath.dirname(name)
        parts = parent.split("/") if parent else []
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self._dirs:
                self._dirs.add(d)
                info = _info(d, 0o755)
                info.type = tarfile.DIRTYPE
                self._tar.addfile(info)
        info = _info(name, 0o644)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()


def _built(path: str, blobs: _Blobs, manifest_digest: str) -> BuiltImage:
    return BuiltImage(
        path=path,
        diff_ids=blobs.diff_ids,
        layer_digests=blobs.digests,
        config_digest=blobs.config_digest,
        manifest_digest=manifest_digest,
        layer_sizes=[len(t) for t in blobs.tars],
        layer_blobs=blobs.stored,
        config=blobs.config,
    )


def _split_tag(tag: str) -> tuple[str, str]:
    repo, sep, name = tag.rpartition(":")
    if not sep or "/" in name:
        return tag, "latest"
    return repo, name


def write_docker_archive(
    spec: ImageSpec,
    path: str | os.PathLike[str],
    *,
    layout: str = "legacy",
    compression: str = "none",
    tag: str = "test/image:latest",
) -> BuiltImage:
    """Write a ``docker save`` tarball: ``layout`` is ``legacy`` (Docker <= 24) or ``oci`` (25+)."""
    path = os.fspath(path)
    blobs = _blobs(spec, compression)
    repo, tag_name = _split_tag(tag)
    writer = _TarWriter(path)
    try:
        if layout == "legacy":
            layer_paths: list[str] = []
            parent = ""
            chain = ""
            for i, (diff_id, stored) in enumerate(zip(blobs.diff_ids, blobs.stored, strict=True)):
                chain = hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
                layer_id = chain
                v1: dict[str, Any] = {"id": layer_id, "created": CREATED, "container_config": {"Cmd": None}}
                if parent:
                    v1["parent"] = parent
                if i == len(blobs.stored) - 1:
                    v1["os"] = spec.os
                    v1["architecture"] = spec.architecture
                writer.add(f"{layer_id}/VERSION", b"1.0")
                writer.add(f"{layer_id}/json", json.dumps(v1).encode())
                writer.add(f"{layer_id}/layer.tar", stored)
                layer_paths.append(f"{layer_id}/layer.tar")
                parent = layer_id
            config_name = blobs.config_digest.split(":", 1)[1] + ".json"
            writer.add(config_name, blobs.config)
            entry = {"Config": config_name, "RepoTags": [tag], "Layers": layer_paths}
            manifest = json.dumps([entry]).encode()
            writer.add("manifest.json", manifest)
            writer.add("repositories", json.dumps({repo: {tag_name: parent}}).encode())
            return _built(path, blobs, sha256(manifest))
        if layout == "oci":
            manifest = _oci_manifest(blobs, compression)
            manifest_digest = sha256(manifest)
            for digest, stored in zip(blobs.digests, blobs.stored, strict=True):
                writer.add(f"blobs/sha256/{digest.split(':', 1)[1]}", stored)
            writer.add(f"blobs/sha256/{blobs.config_digest.split(':', 1)[1]}", blobs.config)
            writer.add(f"blobs/sha256/{manifest_digest.split(':', 1)[1]}", manifest)
            index = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": manifest_digest,
                        "size": len(manifest),
                        "annotations": {
                            "io.containerd.image.name": f"docker.io/{repo}:{tag_name}",
                            "org.opencontainers.image.ref.name": tag_name,
                        },
                    }
                ],
            }
            writer.add("index.json", json.dumps(index).encode())
            legacy_manifest = [
                {
                    "Config": f"blobs/sha256/{blobs.config_digest.split(':', 1)[1]}",
                    "RepoTags": [tag],
                    "Layers": [f"blobs/sha256/{d.split(':', 1)[1]}" for d in blobs.digests],
                }
            ]
            writer.add("manifest.json", json.dumps(legacy_manifest).encode())
            writer.add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            writer.add(
                "repositories",
                json.dumps({repo: {tag_name: blobs.config_digest.split(":", 1)[1]}}).encode(),
            )
            return _built(path, blobs, manifest_digest)
        raise ValueError(f"unknown layout {layout!r}")
    finally:
        writer.close()


def write_oci_layout(
    spec_or_specs: ImageSpec | dict[str, ImageSpec],
    path: str | os.PathLike[str],
    *,
    compression: str = "gzip",
    as_tar: bool = False,
) -> BuiltImage:
    """Write an OCI image layout. A dict maps ``os/arch[/variant]`` to a spec and adds a nested index.

    For several platforms the returned image is the first one; ``by_platform`` has them all and
    ``manifest_digest`` of the returned image is that of its own manifest.
    """
    path = os.fspath(path)
    files: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        digest = sha256(data)
        files[f"blobs/sha256/{digest.split(':', 1)[1]}"] = data
        return digest

    def image(spec: ImageSpec) -> BuiltImage:
        blobs = _blobs(spec, compression)
        for stored in blobs.stored:
            put(stored)
        put(blobs.config)
        manifest = _oci_manifest(blobs, compression)
        return _built(path, blobs, put(manifest))

    if isinstance(spec_or_specs, ImageSpec):
        built = image(spec_or_specs)
        size = len(files[f"blobs/sha256/{built.manifest_digest.split(':', 1)[1]}"])
        top = [
            {
                "mediaType": OCI_MANIFEST,
                "digest": built.manifest_digest,
                "size": size,
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ]
    else:
        entries = []
        by_platform: dict[str, BuiltImage] = {}
        for name, spec in spec_or_specs.items():
            one = image(spec)
            by_platform[name] = one
            parts = name.split("/")
            plat: dict[str, str] = {"os": parts[0], "architecture": parts[1]}
            if len(parts) > 2:
                plat["variant"] = parts[2]
            size = len(files[f"blobs/sha256/{one.manifest_digest.split(':', 1)[1]}"])
            entries.append(
                {"mediaType": OCI_MANIFEST, "digest": one.manifest_digest, "size": size, "platform": plat}
            )
        # BuildKit adds an attestation manifest per image; it must never be picked as an image.
        attestation = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": put(b"{}"), "size": 2},
                "layers": [],
            }
        ).encode()
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": put(attestation),
                "size": len(attestation),
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            }
        )
        nested = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        nested_digest = put(nested)
        top = [
            {
                "mediaType": OCI_INDEX,
                "digest": nested_digest,
                "size": len(nested),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ]
        built = next(iter(by_platform.values()))
        built.by_platform = by_platform
    files["index.json"] = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": top}).encode()
    files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'

    if as_tar:
        writer = _TarWriter(path)
        try:
            for name in ("oci-layout", "index.json", *sorted(n for n in files if n.startswith("blobs/"))):
                writer.add(name, files[name])
        finally:
            writer.close()
    else:
        for name, data in files.items():
            target = os.path.join(path, *name.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
    return built


def rewrite_tar(
    path: str | os.PathLike[str],
    replace: dict[str, bytes | None] | None = None,
    append: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Rewrite an archive in place: replace members' data (``None`` drops the member), append more.

    For tests of broken archives: truncated or corrupted layers, missing or duplicate members.
    """
    path = os.fspath(path)
    replace = replace or {}
    with tarfile.open(path, "r:") as tar:
        members = []
        for info in tar:
            fh = tar.extractfile(info) if info.isreg() else None
            members.append((info, fh.read() if fh else b""))
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as out:
        for info, original in members:
            data = original
            if info.name in replace:
                new = replace[info.name]
                if new is None:
                    continue
                data = new
                info.size = len(data)
            out.addfile(info, io.BytesIO(data) if info.isreg() else None)
        for name, data in append:
            info = _info(name, 0o644)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


@dataclass
class ReadLayer:
    """A layer as a source delivered it: entries (path, kind) and regular files' content."""

    descriptor: Any
    entries: list[tuple[str, str]]
    files: dict[str, bytes]
    diff_id: str | None


def read_layers(source: Any, *, verify: bool = False) -> list[ReadLayer]:
    """Read every layer of an ``ImageSource`` through ``tarstream.iter_tar``, finishing each."""
    from deadweight.sources.tarstream import iter_tar

    out = []
    for layer in source.iter_layers(verify=verify):
        entries: list[tuple[str, str]] = []
        files: dict[str, bytes] = {}
        for member in iter_tar(layer.stream, source="test", want=lambda _path: True):
            entries.append((member.entry.path, member.entry.kind.value))
            if member.content is not None:
                files[member.entry.path] = member.content
        out.append(ReadLayer(layer.descriptor, entries, files, layer.finish()))
    return out


def expected_entries(files: Sequence[F]) -> list[tuple[str, str]]:
    """What ``iter_tar`` should report for a layer written from ``files``."""
    return [(f.path.strip("/"), f.kind) for f in files]
