"""Issue 15, image inputs: one deterministic case per class of hostile input, through the CLI.

Each case is a real small image (``tests/imagebuilder.py``) with one thing broken the way the fuzzer found
or the issue describes, and asserts what the user sees: the exit code, one line on stderr that names the
file and the problem, no traceback, no hang.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deadweight.errors import SourceError
from deadweight.sources.manifest import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_LAYERS, load_json, parse_manifest
from tests.fuzz.mutations import Image, base_spec, image_from, replace_member, write_image
from tests.fuzz.runner import Outcome, run_in_process, run_subprocess
from tests.imagebuilder import F, ImageSpec, compress, layer_tar


class _First:
    """A ``Draw`` that always takes the first option: the plain base image."""

    def integer(self, lo: int, hi: int) -> int:
        return lo

    def choice(self, options: Any) -> Any:
        return options[0]


def _image(tmp_path: Path, form: str = "oci-dir", compression: str = "none", spec: ImageSpec | None = None) -> Image:
    return image_from(spec or base_spec(_First()), str(tmp_path), form, compression)


def _inspect(ref: str, *flags: str) -> Outcome:
    outcome = run_in_process(["inspect", ref, *flags], timeout=30)
    assert outcome.crash is None, outcome.crash
    assert not outcome.timed_out
    return outcome


def _fails(outcome: Outcome, code: int, *fragments: str) -> str:
    assert outcome.code == code, outcome.stderr
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in outcome.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _edit_json(image: Image, name: str, edit: Callable[[Any], Any]) -> None:
    doc = json.loads(image.files[name])
    new = edit(doc)
    replace_member(image, name, new if isinstance(new, bytes) else json.dumps(doc if new is None else new).encode())


DEEP = b"[" * 100_000 + b"]" * 100_000


# ----------------------------------------------------------------------------------------------- nesting


def test_index_nested_100000_deep_is_one_line_naming_index_json(tmp_path: Path) -> None:
    image = _image(tmp_path)
    image.files["index.json"] = DEEP
    line = _fails(_inspect(write_image(image, str(tmp_path))), 3, "index.json", "nested too deeply")
    assert f"more than {MAX_JSON_DEPTH} levels" in line


@pytest.mark.parametrize("form", ["oci-dir", "docker-oci", "oci-tar"])
def test_manifest_nested_deep_names_the_manifest(tmp_path: Path, form: str) -> None:
    image = _image(tmp_path, form)
    assert image.manifest_name is not None
    _edit_json(image, image.manifest_name, lambda doc: {**doc, "annotations": {"a": _deep(200)}})
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "manifest", "nested too deeply")


def _deep(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_legacy_config_nested_100000_deep(tmp_path: Path) -> None:
    image = _image(tmp_path, "docker-legacy")
    replace_member(image, image.config_name, b'{"rootfs": ' + DEEP + b"}")
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "image config", "nested too deeply")


def test_depth_limit_is_exact() -> None:
    assert load_json(json.dumps(_deep(MAX_JSON_DEPTH)).encode(), "f", "doc") is not None
    with pytest.raises(SourceError, match="f: doc is nested too deeply"):
        load_json(json.dumps(_deep(MAX_JSON_DEPTH + 1)).encode(), "f", "doc")


def test_direct_url_nested_100000_deep_in_a_layer_is_ignored(tmp_path: Path) -> None:
    spec = base_spec(_First())
    spec.layers[1] = [
        f if not f.path.endswith("direct_url.json") else F(f.path, DEEP) for f in spec.layers[1]
    ]
    image = _image(tmp_path, "oci-dir", spec=spec)
    outcome = _inspect(write_image(image, str(tmp_path)), "--packages", "--format", "json")
    assert outcome.code == 0, outcome.stderr


def test_a_tree_2000_deep_is_walked_without_recursion(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 2000)
    spec = ImageSpec(layers=[[F(f"{deep}/leaf", b"x" * 10)], [F(f"{deep}/leaf2", b"y" * 5)]])
    image = _image(tmp_path, "docker-legacy", spec=spec)
    start = time.monotonic()
    outcome = _inspect(write_image(image, str(tmp_path)), "--top", "3")
    assert outcome.code == 0, outcome.stderr
    assert time.monotonic() - start < 15


def test_a_name_past_path_max_is_refused(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 5000)
    image = _image(tmp_path, "docker-legacy", spec=ImageSpec(layers=[[F(f"{deep}/leaf", b"x")]]))
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "layer 0", "longer than 4096 characters")


def test_a_tree_500_deep_with_every_directory_listed_stays_small(tmp_path: Path) -> None:
    dirs = ["/".join(["dir"] * (i + 1)) for i in range(500)]
    files = [F(d, kind="dir") for d in dirs] + [F(f"{d}/f", b"z" * 3) for d in dirs]
    image = _image(tmp_path, "oci-dir", spec=ImageSpec(layers=[files]))
    outcome = run_subprocess(["inspect", write_image(image, str(tmp_path)), "--packages"], timeout=60)
    assert outcome.code == 0, outcome.stderr
    assert outcome.max_rss_kb is not None and outcome.max_rss_kb < 250 * 1024, outcome.max_rss_kb


def test_dir_sizes_of_a_deep_tree_add_up() -> None:
    from deadweight.inventory.filetree import LayerScan, build_tree
    from deadweight.model.image import EntryKind, LayerEntry

    deep = "/".join(["d"] * 3000)
    entries = [LayerEntry(f"{deep}/leaf", EntryKind.FILE, 10), LayerEntry("d/top", EntryKind.FILE, 4)]
    tree = build_tree([LayerScan(0, entries, {}, 14)])
    sizes = tree.dir_sizes()
    assert sizes[""] == 14
    assert sizes["d"] == 14
    assert sizes[deep] == 10
    assert sizes["d/d"] == 10
    assert tree.get(deep) is not None and tree.listdir(deep) == ["leaf"]


# ----------------------------------------------------------------------------------------- wrong types


def _layers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = doc["layers"]
    return layers


WRONG_TYPES: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("mediaType list", lambda d: {**d, "mediaType": ["x"]}, "manifest mediaType must be a string, not a list"),
    ("mediaType object", lambda d: {**d, "mediaType": {"a": 1}}, "manifest mediaType must be a string, not an object"),
    ("layers dict", lambda d: {**d, "layers": {"0": _layers(d)[0]}}, "manifest layers must be a list, not an object"),
    ("layer not object", lambda d: {**d, "layers": ["x"]}, "manifest layer 0 is not a JSON object"),
    ("size string", lambda d: {**d, "layers": [{**_layers(d)[0], "size": "12"}, *_layers(d)[1:]]},
     "manifest layer 0 size must be a number, not a string"),
    ("size negative", lambda d: {**d, "layers": [{**_layers(d)[0], "size": -5}, *_layers(d)[1:]]},
     "manifest layer 0 has an invalid size: -5"),
    ("size huge", lambda d: {**d, "layers": [{**_layers(d)[0], "size": 2**80}, *_layers(d)[1:]]},
     "manifest layer 0 declares an absurd size"),
    ("digest number", lambda d: {**d, "config": {**d["config"], "digest": 7}},
     "manifest config digest must be a string, not a number"),
]


@pytest.mark.parametrize(("name", "edit", "message"), WRONG_TYPES, ids=[w[0] for w in WRONG_TYPES])
def test_wrong_types_in_a_manifest_are_one_line_exit_3(
    tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], Any], message: str
) -> None:
    del name
    image = _image(tmp_path)
    assert image.manifest_name is not None
    _edit_json(image, image.manifest_name, edit)
    _fails(_inspect(write_image(image, str(tmp_path))), 3, message)


def test_index_entry_that_is_not_an_object(tmp_path: Path) -> None:
    image = _image(tmp_path)
    _edit_json(image, "index.json", lambda d: {**d, "manifests": [3]})
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "index.json", "index entry 0 is not a JSON object")


def test_index_entry_media_type_object(tmp_path: Path) -> None:
    image = _image(tmp_path)
    _edit_json(image, "index.json", lambda d: {**d, "manifests": [{**d["manifests"][0], "mediaType": {}}]})
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "index entry 0 mediaType must be a string, not an object")


def test_config_history_with_wrong_types(tmp_path: Path) -> None:
    image = _image(tmp_path, "docker-legacy")
    _edit_json(image, image.config_name, lambda d: {**d, "history": [{"created_by": ["RUN", "x"]}]})
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "history entry 0 created_by must be a string, not a list")


# ---------------------------------------------------------------------------------------------- numbers


def test_layer_count_is_capped() -> None:
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + "a" * 64, "size": 1}
    config = {"digest": "sha256:" + "b" * 64, "size": 2}
    doc = {"schemaVersion": 2, "config": config, "layers": [layer] * (MAX_LAYERS + 1)}
    with pytest.raises(SourceError, match=f"more than the limit of {MAX_LAYERS}"):
        parse_manifest(json.dumps(doc).encode(), "m")
    doc["layers"] = [layer] * MAX_LAYERS
    assert len(parse_manifest(json.dumps(doc).encode(), "m").layers) == MAX_LAYERS


def test_tar_header_size_field_that_is_not_a_number(tmp_path: Path) -> None:
    data = bytearray(layer_tar([F("usr/big", b"b" * 100)]))
    offset = next(i for i in range(0, len(data), 512) if data[i : i + 7] == b"usr/big")
    data[offset + 124 : offset + 136] = b"zzzzzzzzzzz\x00"
    data[offset + 148 : offset + 156] = b" " * 8
    data[offset + 148 : offset + 156] = b"%06o\x00 " % sum(data[offset : offset + 512])
    image = _image(tmp_path)
    replace_member(image, image.layer_names[0], bytes(data))
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "layer 0", "corrupt tar header")


# ----------------------------------------------------------------------------------------- special files


def test_fifo_archive_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)
    start = time.monotonic()
    _fails(_inspect(f"docker-archive:{fifo}"), 3, "is a FIFO", "save the stream to a file first")
    _fails(_inspect(f"oci:{fifo}"), 3, "is a FIFO")
    assert time.monotonic() - start < 5


def test_fifo_blob_in_a_layout_is_refused_without_blocking(tmp_path: Path) -> None:
    image = _image(tmp_path)
    image.special[image.layer_names[0]] = "fifo"
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "layer 0", "is a FIFO, not a regular file")


def test_directory_where_a_blob_is_expected(tmp_path: Path) -> None:
    image = _image(tmp_path)
    image.special[image.config_name] = "dir"
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "image config", "is a directory, not a regular file")


def test_directory_where_index_json_is_expected(tmp_path: Path) -> None:
    image = _image(tmp_path)
    image.special["index.json"] = "dir"
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "index.json", "is a directory")


def test_symlink_to_dev_zero(tmp_path: Path) -> None:
    link = tmp_path / "zero.tar"
    link.symlink_to("/dev/zero")
    _fails(_inspect(f"docker-archive:{link}"), 3, "is a device, not a regular file")
    image = _image(tmp_path / "layout-case")
    image.special["index.json"] = "devzero"
    _fails(_inspect(write_image(image, str(tmp_path / "layout-case"))), 3, "index.json", "is a device")


def test_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.tar"
    loop.symlink_to(loop.name)
    _fails(_inspect(f"docker-archive:{loop}"), 3, "symlink loop")
    _fails(_inspect(f"oci:{loop}"), 3, "symlink loop")
    image = _image(tmp_path / "layout-case")
    image.special[image.config_name] = "loop"
    _fails(_inspect(write_image(image, str(tmp_path / "layout-case"))), 3, "image config", "symlink loop")


def test_json_file_past_the_size_cap(tmp_path: Path) -> None:
    image = _image(tmp_path)
    image.special["index.json"] = "sparse"  # 5 GiB, sparse: read never starts
    line = _fails(_inspect(write_image(image, str(tmp_path))), 3, "index.json", "is too large")
    assert f"the limit is {MAX_JSON_BYTES}" in line


def test_json_member_past_the_size_cap_in_an_archive(tmp_path: Path) -> None:
    image = _image(tmp_path, "docker-legacy")
    image.files["manifest.json"] = b"[" + b" " * MAX_JSON_BYTES + b"]"
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "manifest.json", "is too large")


# ------------------------------------------------------------------------------------ silent acceptance


def test_garbage_pax_header_in_the_outer_archive_is_an_error(tmp_path: Path) -> None:
    image = _image(tmp_path, "docker-legacy")

    def garbage_pax(data: bytes) -> bytes:
        header = tarfile.TarInfo("././@PaxHeader")
        header.type, header.size = tarfile.XHDTYPE, 8
        return header.tobuf(tarfile.USTAR_FORMAT) + b"garbage\n".ljust(512, b"\x00") + data

    image.outer = garbage_pax
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "malformed pax header")


def test_outer_archive_without_its_end_marker_is_an_error(tmp_path: Path) -> None:
    image = _image(tmp_path, "docker-legacy")
    image.outer = lambda data: data[: len(data.rstrip(b"\x00")) + (-len(data.rstrip(b"\x00")) % 512)]
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "no end-of-archive marker")


@pytest.mark.parametrize("bit", [0x20, 0x40, 0x80])
def test_gzip_layer_with_reserved_flag_bits_is_an_error(tmp_path: Path, bit: int) -> None:
    image = _image(tmp_path, "oci-dir", "gzip")
    blob = image.files[image.layer_names[0]]
    assert blob[:2] == b"\x1f\x8b"
    replace_member(image, image.layer_names[0], blob[:3] + bytes([blob[3] | bit]) + blob[4:])
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "layer 0", "reserved header flag bits set")


def test_gzip_without_reserved_bits_still_reads(tmp_path: Path) -> None:
    image = _image(tmp_path, "oci-dir", "gzip")
    tar = layer_tar([F("usr/x", b"x")])
    replace_member(image, image.layer_names[0], gzip.compress(tar, mtime=0))
    outcome = _inspect(write_image(image, str(tmp_path)))
    assert outcome.code == 0, outcome.stderr


# -------------------------------------------------------------------------------------------- bad names

BAD_NAMES = {
    "usr/nl\nsecond": "/usr/nl\\x0asecond",
    "usr/esc\x1b[2Jclear": "/usr/esc\\x1b[2Jclear",
    "usr/bytes\udcff\udcfe": "/usr/bytes\\xff\\xfe",
    "usr/\u202eevil": "/usr/\\u202eevil",
}


def _bad_name_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, errors="surrogateescape") as tar:
        for i, name in enumerate(BAD_NAMES):
            info = tarfile.TarInfo(name)
            info.size = 1000 * (i + 1)
            tar.addfile(info, io.BytesIO(b"x" * info.size))
    return buf.getvalue()


@pytest.mark.parametrize("form", ["docker-legacy", "oci-dir"])
def test_bad_names_print_as_one_escaped_line_each(tmp_path: Path, form: str) -> None:
    image = _image(tmp_path, form)
    replace_member(image, image.layer_names[0], _bad_name_layer())
    ref = write_image(image, str(tmp_path))
    out = tmp_path / "report.txt"
    outcome = _inspect(ref, "-o", str(out))
    assert outcome.code == 0, outcome.stderr
    text = out.read_text(encoding="utf-8")  # strict: it would fail on a lone surrogate
    assert "\x1b" not in text and "\u202e" not in text
    for shown in BAD_NAMES.values():
        assert any(line.rstrip().endswith(shown) for line in text.splitlines()), (shown, text)
    # and through the strict stdout of the in-process runner, with the package view too
    assert _inspect(ref, "--packages").code == 0


def test_bad_names_stay_exact_in_json(tmp_path: Path) -> None:
    image = _image(tmp_path, "oci-dir")
    replace_member(image, image.layer_names[0], _bad_name_layer())
    out = tmp_path / "report.json"
    outcome = _inspect(write_image(image, str(tmp_path)), "--format", "json", "-o", str(out))
    assert outcome.code == 0, outcome.stderr
    paths = {item["path"] for item in json.loads(out.read_text(encoding="utf-8"))["largest_paths"]}
    assert {"/" + name for name in BAD_NAMES} <= paths


def test_an_error_naming_a_bad_name_is_one_line(tmp_path: Path) -> None:
    image = _image(tmp_path, "docker-legacy")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for _ in range(2):
            info = tarfile.TarInfo("usr/a\nb\x1b[31m")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"1"))
    replace_member(image, image.layer_names[0], buf.getvalue())
    line = _fails(_inspect(write_image(image, str(tmp_path))), 3, "duplicate tar member")
    assert "\x1b" not in line


def test_archive_path_with_a_newline_is_one_line(tmp_path: Path) -> None:
    _fails(_inspect(f"docker-archive:{tmp_path}/no\nsuch.tar"), 3, "no such file or directory", "\\x0a")


def test_printable_escapes_only_what_cannot_be_shown() -> None:
    from deadweight.safetext import json_surrogates, printable

    assert printable("usr/lib/python3.11/site-packages/naïve ünïcode 名前 x y") == (
        "usr/lib/python3.11/site-packages/naïve ünïcode 名前 x y"
    )
    assert printable("a\nb\tc\x1b[0m\x7f\x85\u2028\u200d\udcff") == "a\\x0ab\\x09c\\x1b[0m\\x7f\\x85\\u2028\\u200d\\xff"
    assert printable("\U000e0001") == "\\U000e0001"
    document = json.dumps({"p": "a\udcffb"}, ensure_ascii=False)
    fixed = json_surrogates(document)
    fixed.encode("utf-8")
    assert json.loads(fixed) == {"p": "a\udcffb"}
    assert json_surrogates('{"p": "plain"}') == '{"p": "plain"}'


def test_compressed_outer_archive_says_so(tmp_path: Path) -> None:
    image = _image(tmp_path, "docker-legacy")
    image.outer = lambda data: compress(data, "gzip")
    _fails(_inspect(write_image(image, str(tmp_path))), 3, "gzip-compressed; decompress it first")
