"""Build real wheel files and PEP 503/691 indexes in tests, and serve them over loopback with ranges."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def record_hash(data: bytes) -> str:
    """The hash column of a RECORD row (urlsafe base64 sha256, no padding)."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata(name: str, version: str, requires: Sequence[str] = (), extras: Sequence[str] = ()) -> str:
    """A minimal core METADATA file."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    lines += [f"Provides-Extra: {e}" for e in extras]
    return "\n".join(lines) + "\n"


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    requires: tuple[str, ...] = (),
    tag: str = "py3-none-any",
    entry_points: str = "",
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` with METADATA, WHEEL and a correct RECORD."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = metadata(name, version, requires).encode()
    wheel_file = f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n"
    members[f"{info}/WHEEL"] = wheel_file.encode()
    if entry_points:
        members[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [f"{path},{record_hash(data)},{len(data)}" for path, data in members.items()]
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


def write_index(root: Path, wheels: list[Path], *, with_json: bool = True) -> None:
    """Lay out ``root/<project>/index.html`` (PEP 503, with PEP 658 metadata files) and ``index.json``."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        by_project.setdefault(project, []).append(wheel)
    for project, items in by_project.items():
        folder = root / project
        folder.mkdir(parents=True, exist_ok=True)
        links, files = [], []
        for wheel in items:
            target = folder / wheel.name
            if not target.exists():
                target.write_bytes(wheel.read_bytes())
            sha = hashlib.sha256(target.read_bytes()).hexdigest()
            with zipfile.ZipFile(target) as zf:
                meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
                (folder / f"{wheel.name}.metadata").write_bytes(zf.read(meta_name))
            links.append(f'<a href="{wheel.name}#sha256={sha}" data-core-metadata="true">{wheel.name}</a>')
            files.append({"filename": wheel.name, "url": wheel.name, "hashes": {"sha256": sha},
                          "core-metadata": True, "size": target.stat().st_size})
        (folder / "index.html").write_text("<html><body>\n" + "\n".join(links) + "\n</body></html>\n")
        if with_json:
            doc = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
            (folder / "index.json").write_text(json.dumps(doc))


def load_static_server() -> ModuleType:
    """The repo's Range-capable static server (scripts/serve_static.py), imported by path."""
    spec = importlib.util.spec_from_file_location("serve_static", ROOT / "scripts" / "serve_static.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def installed_bytes(wheel: Path) -> int:
    """What pip would put on disk for ``wheel``: the sum of its members' uncompressed sizes."""
    with zipfile.ZipFile(wheel) as zf:
        return sum(i.file_size for i in zf.infolist())


@contextlib.contextmanager
def serve_indexes(*roots: Path) -> Iterator[tuple[str, ...]]:
    """Serve each PEP 503 tree in ``roots`` on 127.0.0.1 (Range-capable); yields their base URLs."""
    static = load_static_server()
    servers = [static.start(str(root)) for root in roots]
    try:
        yield tuple(f"http://127.0.0.1:{server.server_address[1]}/" for server in servers)
    finally:
        for server in servers:
            server.shutdown()
