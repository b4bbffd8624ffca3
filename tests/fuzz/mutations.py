"""Hostile image inputs: real small images (``tests/imagebuilder.py``) with one thing broken.

Shared by the CI fuzz tests (``tests/fuzz/``, driven by hypothesis) and the long run (``bench/fuzz.py``, driven
by ``random.Random``): both hand a :class:`Draw` to :func:`make_case`, which writes one image somewhere and
returns the ``deadweight`` command line to run on it.

An image is first written by the image builder, then read back as ``{member name: bytes}`` and broken in one
of these ways (the families of issue 15):

- ``json``: one JSON document (``index.json``, a nested index, a manifest, a config, legacy ``manifest.json``)
  gets a wrong type at some key, a deleted key, an absurd number, deep nesting, or is cut or garbled. The
  documents that name it by digest are updated (digest and size), so the change reaches the parser instead
  of stopping at the digest check.
- ``layer``: one layer blob is cut, garbled, recompressed wrongly, given reserved gzip flags, or rebuilt
  with hostile members (a tree thousands deep, names with newlines, ANSI escapes or bytes that are not
  UTF-8, a ``direct_url.json`` nested 100,000 deep, absurd header sizes, garbage pax records).
- ``outer``: the archive file itself is cut or garbled, or given a garbage pax header.
- ``special``: the archive, ``index.json`` or a blob is replaced by a FIFO, a directory, a symlink to
  ``/dev/zero``, a symlink loop, or a sparse file past the JSON size cap.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from tests.imagebuilder import F, ImageSpec, compress, layer_tar, write_docker_archive, write_oci_layout

T = TypeVar("T")

FORMS = ("docker-legacy", "docker-oci", "oci-dir", "oci-tar")
COMPRESSIONS = ("none", "gzip", "zstd")
KINDS = ("json", "layer", "outer", "special")
SITE = "usr/local/lib/python3.11/site-packages"
_HEX_NAME = re.compile(r"(?:^|/)([0-9a-f]{64})(?:\.json)?$")


class Draw(Protocol):
    """Where the choices come from: hypothesis (shrinkable) or a seeded ``random.Random``."""

    def integer(self, lo: int, hi: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...


class RandomDraw:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self._rng.randrange(len(options))]


@dataclass
class Case:
    """One hostile input: the command line to run and what was done, for the failure message."""

    argv: list[str]
    steps: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return "; ".join(self.steps) + " :: deadweight " + " ".join(self.argv)


def base_spec(draw: Draw) -> ImageSpec:
    """A small Python image: a base layer, a site-packages distribution (with direct_url.json), an app layer."""
    dist = f"{SITE}/demo-1.0.dist-info"
    layers: list[list[F]] = [
        [
            F("usr", kind="dir"),
            F("usr/bin", kind="dir"),
            F("usr/bin/python3.11", b"\x7fELF" + b"p" * 3000, mode=0o755),
            F("usr/lib", kind="dir"),
            F("usr/lib/libz.so.1", b"z" * 2000),
            F("usr/lib/libz.so", kind="symlink", target="libz.so.1"),
        ],
        [
            F(f"{SITE}/demo/__init__.py", b"VALUE = 1\n"),
            F(f"{dist}/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
            F(f"{dist}/RECORD", b"demo/__init__.py,,10\ndemo-1.0.dist-info/METADATA,,\n"),
            F(f"{dist}/direct_url.json", b'{"url": "file:///src/demo", "dir_info": {}}'),
            F("usr/lib/libz.so.1", kind="whiteout"),
        ],
    ]
    if draw.integer(0, 1):
        layers.append([F("app", kind="dir"), F("app/main.py", b"import demo\n")])
    return ImageSpec(layers=layers, cmd=["python3", "/app/main.py"])


# ------------------------------------------------------------------------------------------ the images


@dataclass
class Image:
    """An image read back as members, with what the mutations need to know about it."""

    form: str
    compression: str
    files: dict[str, bytes]
    layer_names: list[str]
    special: dict[str, str] = field(default_factory=dict)  # member -> fifo|dir|devzero|loop|sparse
    outer: Callable[[bytes], bytes] | None = None  # raw rewrite of the written archive
    config_name: str = ""  # the member holding the image config
    manifest_name: str | None = None  # the member holding the (first) image manifest; None for legacy


def _read_tar(path: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(path, "r:") as tar:
        for info in tar:
            if info.isreg():
                fh = tar.extractfile(info)
                assert fh is not None
                out[info.name] = fh.read()
    return out


def _read_dir(root: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = fh.read()
    return out


def build_image(draw: Draw, workdir: str, form: str) -> Image:
    compression = draw.choice(COMPRESSIONS)
    spec = base_spec(draw)
    second = base_spec(draw) if form.startswith("oci-") and draw.integer(0, 3) == 0 else None
    return image_from(spec, workdir, form, compression, second_platform=second)


def image_from(
    spec: ImageSpec, workdir: str, form: str, compression: str = "none", second_platform: ImageSpec | None = None
) -> Image:
    """``spec`` written by the image builder in ``form`` and read back as members (``second_platform``: an
    OCI layout with a nested index for linux/amd64 and linux/arm64)."""
    scratch = os.path.join(workdir, "scratch")
    os.makedirs(scratch, exist_ok=True)
    if form.startswith("docker-"):
        path = os.path.join(scratch, "image.tar")
        layout = "legacy" if form == "docker-legacy" else "oci"
        built = write_docker_archive(spec, path, layout=layout, compression=compression)
        files = _read_tar(path)
    else:
        specs: ImageSpec | dict[str, ImageSpec] = (
            {"linux/amd64": spec, "linux/arm64": second_platform} if second_platform is not None else spec
        )
        path = os.path.join(scratch, "layout")
        built = write_oci_layout(specs, path, compression=compression)
        files = _read_dir(path)
    if form == "docker-legacy":
        doc = json.loads(files["manifest.json"])
        layer_names = list(doc[0]["Layers"])
    else:
        layer_names = [f"blobs/sha256/{d.split(':', 1)[1]}" for d in built.layer_digests]
    image = Image(form, compression, files, layer_names)
    image.config_name = (
        f"{built.config_digest.split(':', 1)[1]}.json" if form == "docker-legacy"
        else f"blobs/sha256/{built.config_digest.split(':', 1)[1]}"
    )
    image.manifest_name = None if form == "docker-legacy" else f"blobs/sha256/{built.manifest_digest.split(':', 1)[1]}"
    return image


def write_image(image: Image, workdir: str) -> str:
    """Write the (broken) image; returns the deadweight reference for it."""
    if image.form in ("docker-legacy", "docker-oci", "oci-tar"):
        path = os.path.join(workdir, "image.tar")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(image.files, key=lambda n: (n != "oci-layout", n)):
                info = tarfile.TarInfo(name)
                info.mtime = 0
                kind = image.special.get(name)
                if kind == "fifo":
                    info.type = tarfile.FIFOTYPE
                elif kind == "dir":
                    info.type = tarfile.DIRTYPE
                elif kind == "devzero":
                    info.type, info.linkname = tarfile.SYMTYPE, "/dev/zero"
                elif kind == "loop":
                    info.type, info.linkname = tarfile.SYMTYPE, posixpath_base(name)
                else:
                    data = image.files[name]
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                    continue
                tar.addfile(info)
        data = buf.getvalue()
        if image.outer is not None:
            data = image.outer(data)
        archive_kind = image.special.get("")
        _write_special_or_file(path, data, archive_kind)
        scheme = "oci" if image.form == "oci-tar" else "docker-archive"
        return f"{scheme}:{path}"
    root = os.path.join(workdir, "layout")
    for name, data in image.files.items():
        target = os.path.join(root, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        _write_special_or_file(target, data, image.special.get(name))
    return f"oci:{root}"


def posixpath_base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _write_special_or_file(path: str, data: bytes, kind: str | None) -> None:
    if kind is None:
        with open(path, "wb") as fh:
            fh.write(data)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        os.makedirs(path)
    elif kind == "devzero":
        os.symlink("/dev/zero", path)
    elif kind == "loop":
        os.symlink(os.path.basename(path), path)
    elif kind == "sparse":  # bigger than any JSON cap, costs no disk
        with open(path, "wb") as fh:
            fh.write(data[:64])
            fh.truncate(5 << 30)
    else:
        raise ValueError(kind)


# ------------------------------------------------------------------------------------------ relinking


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _blob_hex(name: str) -> str | None:
    match = _HEX_NAME.search(name)
    return match.group(1) if match else None


def replace_member(image: Image, name: str, new: bytes) -> None:
    """Put ``new`` at ``name`` and make every document that names it by digest (or path) point at it."""
    old_hex = _blob_hex(name)
    if old_hex is None or old_hex != _sha(image.files[name]):  # not content-addressed: just replace
        image.files[name] = new
        return
    new_hex = _sha(new)
    new_name = name.replace(old_hex, new_hex)
    del image.files[name]
    image.files[new_name] = new
    image.layer_names = [new_name if n == name else n for n in image.layer_names]
    pending = True
    while pending:  # a nested relink renames documents: look again until none names the old digest
        pending = False
        for other in list(image.files):
            if other not in image.files or other == new_name or old_hex.encode() not in image.files[other]:
                continue
            try:
                doc = json.loads(image.files[other])
            except ValueError:
                continue
            if _relink(doc, old_hex, new_hex, len(new)):
                replace_member(image, other, json.dumps(doc).encode())
                pending = True
                break


def _relink(value: Any, old_hex: str, new_hex: str, size: int) -> bool:
    changed = False
    stack = [value]
    while stack:
        node = stack.pop()
        items: list[tuple[Any, Any]] = list(node.items()) if isinstance(node, dict) else (
            list(enumerate(node)) if isinstance(node, list) else []
        )
        for key, child in items:
            if isinstance(child, str) and old_hex in child:
                node[key] = child.replace(old_hex, new_hex)
                changed = True
                if key == "digest" and isinstance(node, dict) and "size" in node:
                    node["size"] = size
            elif isinstance(child, dict | list):
                stack.append(child)
    return changed


# ------------------------------------------------------------------------------------------ JSON


def _json_docs(image: Image) -> list[str]:
    names = []
    for name, data in image.files.items():
        if name in image.layer_names or name in ("oci-layout", "repositories") or name.endswith(("/json", "VERSION")):
            continue
        if data[:1] in (b"{", b"["):
            names.append(name)
    return sorted(names)


def _paths(doc: Any) -> list[list[Any]]:
    """Every location in ``doc`` (a key path), the document itself first."""
    out: list[list[Any]] = [[]]
    stack: list[tuple[Any, list[Any]]] = [(doc, [])]
    while stack:
        node, path = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            out.append([*path, key])
            stack.append((child, [*path, key]))
    return sorted(out, key=lambda p: [str(k) for k in p])


def _deep(depth: int, kind: str) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


HOSTILE_VALUES: list[Callable[[], Any]] = [
    lambda: None,
    lambda: True,
    lambda: -1,
    lambda: 0,
    lambda: 2**70,
    lambda: -(2**63),
    lambda: 1e308,
    lambda: "",
    lambda: "x" * 5000,
    lambda: "\n\x1b[31m\udcff",
    list,
    dict,
    lambda: ["a", 1, None],
    lambda: {"mediaType": ["x"]},
    lambda: [{}] * 3,
    lambda: "sha256:" + "0" * 64,
    lambda: "application/vnd.oci.image.index.v1+json",
    lambda: "application/vnd.oci.image.manifest.v1+json",
]


def mutate_json(draw: Draw, doc: Any, steps: list[str]) -> bytes:
    """One hostile change to a decoded document, serialised (or raw bytes that are not JSON at all)."""
    how = draw.choice(("replace", "replace", "replace", "delete", "deep", "raw"))
    if how == "raw":
        text = json.dumps(doc).encode()
        raw = draw.choice(("cut", "garble", "deep-text", "huge", "nul", "not-utf8"))
        steps.append(f"json raw {raw}")
        if raw == "cut":
            return text[: draw.integer(0, max(0, len(text) - 1))]
        if raw == "garble":
            pos = draw.integer(0, len(text) - 1)
            return text[:pos] + bytes([draw.integer(0, 255)]) + text[pos + 1 :]
        if raw == "deep-text":
            depth = draw.choice((100, 1000, 100_000))
            return b"[" * depth + b"]" * depth
        if raw == "huge":
            return b'{"pad": "' + b"x" * (5 << 20) + b'"}'
        if raw == "nul":
            return b"\x00" * 64
        return b'{"mediaType": "\xff\xfe"}'
    paths = _paths(doc)
    path = draw.choice(paths)
    if how == "deep":
        value: Any = _deep(draw.choice((70, 1000, 5000)), draw.choice(("list", "dict")))
    elif how == "replace":
        value = draw.choice(HOSTILE_VALUES)()
    else:
        value = None
    steps.append(f"json {how} at {path}")
    if not path:
        if how == "delete":
            return b""
        doc = value
        path = [None]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if path != [None]:
        if how == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    try:
        return json.dumps(doc).encode("utf-8", "surrogateescape")
    except RecursionError:  # json.dumps recurses too: nest in text instead
        return b"[" * 100_000 + b"]" * 100_000


# ------------------------------------------------------------------------------------------ layers


def hostile_members(draw: Draw, steps: list[str]) -> bytes:
    """A layer tar with members a hostile author would write."""
    what = draw.choice(("deep", "names", "direct-url", "size-field", "pax", "links", "dup", "escape", "long"))
    steps.append(f"layer members {what}")
    if what == "deep":
        depth = draw.choice((500, 2000, 5000))
        parts = "/".join("d" for _ in range(depth))
        files = [F(f"{parts}/leaf", b"x" * 10)]
        if draw.integer(0, 1):  # with every directory listed too
            files = [F("/".join("d" for _ in range(i + 1)), kind="dir") for i in range(depth)] + files
        return layer_tar(files)
    if what == "names":
        name = draw.choice(("a\nb", "\x1b[2J\x1b]0;pwned\x07", "\udcff\udcfe", "\u202eevil", "a\rb", "[/]", "%s%n"))
        return _raw_tar([(f"usr/{name}", b"n" * 300, tarfile.REGTYPE, "")])
    if what == "direct-url":
        depth = draw.choice((100, 100_000))
        doc = b"[" * depth + b"]" * depth
        return layer_tar([F(f"{SITE}/demo-1.0.dist-info/direct_url.json", doc)])
    if what == "size-field":
        data = bytearray(layer_tar([F("usr/big", b"b" * 100)]))
        field_value = draw.choice((b"77777777777\x00", b"\x80" + b"\xff" * 11, b"-1         \x00", b"zzzzzzzzzzz\x00"))
        offset = _first_header_offset(bytes(data), "usr/big")
        data[offset + 124 : offset + 136] = field_value
        _fix_checksum(data, offset)
        return bytes(data)
    if what == "pax":
        payload = draw.choice((b"garbage", b"99999 path=x\n", b"5 a=b\n", b"12 path=\xff\xfe\n", b"0 =\n"))
        return _raw_tar([("././@PaxHeader", payload, tarfile.XHDTYPE, ""), ("usr/x", b"x", tarfile.REGTYPE, "")])
    if what == "links":
        return _raw_tar([
            ("usr/loop", b"", tarfile.SYMTYPE, "loop"),
            ("usr/a", b"", tarfile.SYMTYPE, "b"),
            ("usr/b", b"", tarfile.SYMTYPE, "a"),
            ("usr/self", b"", tarfile.LNKTYPE, "usr/self"),
            ("usr/dev", b"", tarfile.CHRTYPE, ""),
            ("usr/fifo", b"", tarfile.FIFOTYPE, ""),
        ])
    if what == "dup":
        return _raw_tar([("usr/a\nb", b"1", tarfile.REGTYPE, ""), ("usr/a\nb", b"2", tarfile.REGTYPE, "")])
    if what == "escape":
        name = draw.choice(("../../etc/passwd", "/etc/shadow", "usr/../../x", "a\x00b"))
        return _raw_tar([(name, b"x", tarfile.REGTYPE, "")])
    return _raw_tar([("usr/" + "n" * draw.choice((255, 5000, 40_000)), b"x", tarfile.REGTYPE, "")])


def _raw_tar(members: Sequence[tuple[str, bytes, bytes, str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tar:
        for name, data, kind, link in members:
            if kind == tarfile.XHDTYPE:  # a raw pax header with exactly this payload
                header = tarfile.TarInfo(name)
                header.type, header.size = kind, len(data)
                buf.write(header.tobuf(tarfile.USTAR_FORMAT))
                buf.write(data + b"\x00" * (-len(data) % 512))
                tar.offset = buf.tell()
                continue
            info = tarfile.TarInfo(name.replace("\x00", "")) if "\x00" in name else tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = kind, link, 0
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    out = buf.getvalue()
    for name, *_ in members:
        if "\x00" in name:  # tarfile will not write a NUL: patch it into the header
            clean = name.replace("\x00", "").encode()
            out = out.replace(clean.ljust(100, b"\x00")[:100], name.encode().ljust(100, b"\x00")[:100], 1)
            offset = out.find(name.encode())
            data = bytearray(out)
            _fix_checksum(data, offset - offset % 512)
            out = bytes(data)
    return out


def _first_header_offset(data: bytes, name: str) -> int:
    for offset in range(0, len(data), 512):
        if data[offset : offset + 100].rstrip(b"\x00") == name.encode():
            return offset
    raise ValueError(name)


def _fix_checksum(data: bytearray, offset: int) -> None:
    data[offset + 148 : offset + 156] = b" " * 8
    checksum = sum(data[offset : offset + 512])
    data[offset + 148 : offset + 156] = b"%06o\x00 " % checksum


def mutate_layer(draw: Draw, image: Image, steps: list[str]) -> None:
    name = draw.choice(image.layer_names)
    blob = image.files[name]
    how = draw.choice(("cut", "garble", "append", "gzip-flags", "recompress", "members", "members", "empty"))
    steps.append(f"layer {how} {name[-12:]}")
    if how == "cut":
        new = blob[: draw.integer(0, max(0, len(blob) - 1))]
    elif how == "garble":
        new = bytearray(blob)
        for _ in range(draw.integer(1, 8)):
            new[draw.integer(0, len(new) - 1)] = draw.integer(0, 255)
        new = bytes(new)
    elif how == "append":
        new = blob + bytes(draw.integer(0, 255) for _ in range(draw.integer(1, 600)))
    elif how == "gzip-flags":
        raw = compress(layer_tar([F("usr/x", b"x")]), "gzip")
        new = raw[:3] + bytes([raw[3] | (0x20 << draw.integer(0, 2))]) + raw[4:]
    elif how == "recompress":
        inner = layer_tar([F("usr/x", b"x")])
        new = compress(inner, draw.choice(COMPRESSIONS))
    elif how == "empty":
        new = b""
    else:
        new = compress(hostile_members(draw, steps), image.compression)
    replace_member(image, name, new)


# ------------------------------------------------------------------------------------------ outer, special


def mutate_outer(draw: Draw, image: Image, steps: list[str]) -> None:
    how = draw.choice(("cut", "garble-header", "garbage-pax", "no-end", "zeros", "gzip"))
    steps.append(f"outer {how}")

    def cut(data: bytes) -> bytes:
        return data[: draw.integer(0, len(data) - 1)]

    def garble(data: bytes) -> bytes:
        out = bytearray(data)
        block = draw.integer(0, len(data) // 512 - 1)
        for _ in range(draw.integer(1, 4)):
            out[block * 512 + draw.integer(0, 511)] = draw.integer(0, 255)
        return bytes(out)

    def garbage_pax(data: bytes) -> bytes:
        payload = draw.choice((b"garbage\n", b"30 path=" + b"\xff" * 5 + b"\n", b"10 xx\n", b"3 a\n"))
        header = tarfile.TarInfo("././@PaxHeader")
        header.type, header.size = tarfile.XHDTYPE, len(payload)
        return header.tobuf(tarfile.USTAR_FORMAT) + payload + b"\x00" * (-len(payload) % 512) + data

    def no_end(data: bytes) -> bytes:
        return data.rstrip(b"\x00")[: len(data.rstrip(b"\x00")) + (-len(data.rstrip(b"\x00")) % 512)]

    def zeros(data: bytes) -> bytes:
        return b"\x00" * len(data)

    def gzip_it(data: bytes) -> bytes:
        return compress(data, "gzip")

    image.outer = {"cut": cut, "garble-header": garble, "garbage-pax": garbage_pax, "no-end": no_end,
                   "zeros": zeros, "gzip": gzip_it}[how]


def mutate_special(draw: Draw, image: Image, steps: list[str]) -> None:
    tar_form = image.form != "oci-dir"
    kind = draw.choice(("fifo", "dir", "devzero", "loop") + (() if tar_form else ("sparse",)))
    candidates = ["", *sorted(n for n in image.files if n.endswith(".json") or n.startswith("blobs/"))]
    if not tar_form:
        candidates = candidates[1:]
    name = draw.choice(candidates)
    if name == "" and kind == "loop":
        kind = "devzero"
    steps.append(f"special {kind} at {name or 'the archive'}")
    image.special[name] = kind


def make_case(draw: Draw, workdir: str, form: str | None = None, kind: str | None = None) -> Case:
    """Write one hostile image under ``workdir`` and return the command line that inspects it."""
    form = form or draw.choice(FORMS)
    image = build_image(draw, workdir, form)
    steps = [f"{form}/{image.compression}"]
    kind = kind or draw.choice(KINDS)
    if kind == "outer" and form == "oci-dir":
        kind = "special"
    if kind == "json":
        name = draw.choice(_json_docs(image))
        doc = json.loads(image.files[name])
        steps.append(f"in {name[-20:]}")
        replace_member(image, name, mutate_json(draw, doc, steps))
    elif kind == "layer":
        mutate_layer(draw, image, steps)
    elif kind == "outer":
        mutate_outer(draw, image, steps)
    else:
        mutate_special(draw, image, steps)
    ref = write_image(image, workdir)
    flags = draw.choice(([], ["--format", "json"], ["--packages"], ["--verify"], ["--breakdown", "--format", "json"]))
    return Case(["inspect", ref, *flags], steps)
