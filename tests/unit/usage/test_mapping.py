from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx

from deadweight.model.inventory import Distribution, EntryPoint
from deadweight.pypi.store import JsonStore
from deadweight.usage.mapping import ModuleMapper, PypiModules, synthetic_distributions


def _dist(name: str, modules: tuple[str, ...], eps: tuple[EntryPoint, ...] = ()) -> Distribution:
    return Distribution(
        name=name,
        display_name=name,
        version="1",
        metadata_path="m",
        environment="e",
        import_names=tuple({m.split(".")[0] for m in modules}),
        module_paths=modules,
        entry_points=eps,
    )


def test_record_longest_prefix_and_namespace() -> None:
    mapper = ModuleMapper(
        [
            _dist("google-cloud-storage", ("google.cloud.storage", "google.cloud.storage.blob")),
            _dist("protobuf", ("google.protobuf",)),
        ]
    )
    m = mapper.resolve("google.cloud.storage.blob.Blob")
    assert m is not None and m.distributions == ("google-cloud-storage",) and m.source == "record"
    ns = mapper.resolve("google")
    assert ns is not None and ns.distributions == ("google-cloud-storage", "protobuf")


def test_alias_then_name_guess_and_commands() -> None:
    mapper = ModuleMapper([_dist("gunicorn", ("gunicorn",), (EntryPoint("console_scripts", "gunicorn", "g:r"),))])
    yaml = mapper.resolve("yaml")
    assert yaml is not None and (yaml.distributions, yaml.source) == (("pyyaml",), "alias")
    guess = mapper.resolve("flask_cors")
    assert guess is not None and guess.source == "alias"
    other = mapper.resolve("some_thing.sub")
    assert other is not None and (other.distributions, other.source) == (("some-thing",), "name")
    assert mapper.resolve_command("gunicorn") == (("gunicorn",), "entry-point")
    assert mapper.resolve_command("waitress-serve") == (("waitress",), "alias")


def _wheel() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fancy_mod/__init__.py", "")
        zf.writestr("fancy_mod/sub.py", "")
        zf.writestr("single.py", "")
        zf.writestr("_speedups.cpython-311-x86_64-linux-gnu.so", b"\0")
        zf.writestr("fancy_dist-1.0.dist-info/RECORD", "")
    return buf.getvalue()


def test_pypi_central_directory_by_range_and_cache(tmp_path: Path) -> None:
    wheel = _wheel()
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("range", request.method))
        if request.url.path == "/simple/fancy-dist/":
            files = [
                {"filename": "fancy_dist-0.9-py3-none-any.whl", "url": "https://files/old.whl", "hashes": {}},
                {"filename": "x-1.0.tar.gz", "url": "https://files/x.tar.gz", "hashes": {}},
                {"filename": "fancy_dist-1.0-py3-none-any.whl", "url": "https://files/fancy.whl", "hashes": {}},
            ]
            return httpx.Response(200, json={"meta": {"api-version": "1.1"}, "files": files},
                                  headers={"content-type": "application/vnd.pypi.simple.v1+json"})
        if request.url.path == "/fancy.whl":
            if request.method == "HEAD":
                return httpx.Response(200, headers={"content-length": str(len(wheel)), "accept-ranges": "bytes"})
            start, end = (int(x) for x in request.headers["range"].removeprefix("bytes=").split("-"))
            end = min(end, len(wheel) - 1)
            return httpx.Response(206, content=wheel[start : end + 1],
                                  headers={"content-range": f"bytes {start}-{end}/{len(wheel)}"})
        return httpx.Response(404)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    store = JsonStore(tmp_path)
    pypi = PypiModules(store, index_url="https://index.test/simple/", client=client)
    assert pypi.top_level("Fancy_Dist") == frozenset({"fancy_mod", "single", "_speedups"})  # newest wheel
    assert any(c.startswith("bytes=") for c in calls)  # ranges, not a download
    again = PypiModules(store, index_url="https://index.test/simple/", client=client)
    n = len(calls)
    assert again.top_level("fancy-dist") == frozenset({"fancy_mod", "single", "_speedups"})
    assert len(calls) == n  # served from the disk cache
    mapper = ModuleMapper([], pypi=again, candidates=["fancy-dist"])
    m = mapper.resolve("fancy_mod.sub")
    assert m is not None and (m.distributions, m.source) == (("fancy-dist",), "pypi")


def test_pypi_failure_falls_through(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("offline", request=request)

    pypi = PypiModules(JsonStore(tmp_path), client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert pypi.top_level("anything") is None
    mapper = ModuleMapper([], pypi=pypi, candidates=["pyyaml"])
    m = mapper.resolve("yaml")
    assert m is not None and m.source == "alias"


def test_synthetic_distributions_use_aliases_without_install() -> None:
    dists = {d.name: d for d in synthetic_distributions(["django-cors-headers", "Flask-Cors"], installed=False)}
    assert dists["django-cors-headers"].import_names == ("corsheaders",)
    assert dists["flask-cors"].import_names == ("flask_cors",)
