"""DW301-DW304 on real images and Dockerfiles: toolchains, caches, shadowed bytes, apt recommends."""

from __future__ import annotations

from pathlib import Path

from deadweight.model.analysis import ImageAnalysis
from deadweight.model.finding import deduplicated_savings
from deadweight.model.inventory import Distribution, Inventory, PythonEnvironment, Requirement
from deadweight.model.project import Service
from deadweight.model.remedy import AddCleanup, AddInstallFlag, SplitBuilderStage
from deadweight.project.loader import load_project
from deadweight.rules.dw301_toolchain import (
    MIN_TOOLCHAIN_BYTES,
    TOOLCHAIN_BYTES,
    BuildToolchain,
    estimated_toolchain_bytes,
)
from deadweight.rules.dw302_caches import APT_LISTS_BYTES, MIN_CACHE_BYTES, PackageManagerCache
from deadweight.rules.dw303_shadowed import MIN_SHADOWED_BYTES, ShadowedBytes
from deadweight.rules.dw304_recommends import AptRecommends
from imagebuilder import F
from tests.unit.rules.ruleimages import Deb, analyze, context, dpkg

KB = 1024

DOCKERFILE = """\
FROM python:3.11-slim
RUN apt-get update && apt-get install -y gcc-12 libc6-dev make
RUN apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
RUN apt-get -o APT::Install-Recommends=false install -y git
RUN apt-get update
"""


def load(tmp_path: Path, dockerfile: str = DOCKERFILE) -> Service:
    root = tmp_path / "svc"
    root.mkdir(exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "requirements.txt").write_text("requests==2.32.3\n")
    return load_project(str(root), environ={}).services[0]


TOOLCHAIN = [
    Deb("gcc-12", "12.2.0-14", {"usr/bin/x86_64-linux-gnu-gcc-12": 300 * KB,
                                 "usr/libexec/gcc/x86_64-linux-gnu/12/cc1": 700 * KB}),
    Deb("libc6-dev", "2.36-9", {"usr/include/stdio.h": 30 * KB, "usr/lib/x86_64-linux-gnu/libc.a": 200 * KB}),
    Deb("make", "4.3-4.1", {"usr/bin/make": 250 * KB}),
]
RUNTIME = [Deb("libc6", "2.36-9", {"usr/lib/x86_64-linux-gnu/libc.so.6": 900 * KB}),
           Deb("libpq5", "15.8-0", {"usr/lib/x86_64-linux-gnu/libpq.so.5": 300 * KB})]


# ------------------------------------------------------------------ DW301


def test_dw301_counts_exactly_the_toolchain_files_in_the_tree(tmp_path: Path) -> None:
    analysis, inventory = analyze(tmp_path, [dpkg(TOOLCHAIN + RUNTIME)])
    svc = load(tmp_path)
    [finding] = BuildToolchain().evaluate(context(svc, analysis, inventory))
    paths = [p for deb in TOOLCHAIN for p in deb.files]
    sizes = {p: analysis.tree.get(p).size for p in paths}  # type: ignore[union-attr]
    assert finding.savings_bytes == sum(sizes.values()) == 1480 * KB
    assert dict(finding.claims) == {f"file:{p}": s for p, s in sizes.items()}
    assert not finding.estimated
    assert "gcc-12" in finding.title and "libc6-dev" in finding.title and "make" in finding.title
    assert "libc6," not in finding.title and "libpq5" not in finding.title
    dockerfile = svc.dockerfile_path
    [line] = [e for e in finding.evidence if e.kind == "dockerfile"]
    assert line.location == f"{dockerfile}:2" and "gcc-12, libc6-dev, make" in line.detail


def test_dw301_silent_below_one_mib_and_without_toolchain(tmp_path: Path) -> None:
    assert MIN_TOOLCHAIN_BYTES == 1 << 20
    small = [Deb("make", "4.3-4.1", {"usr/bin/make": 250 * KB})]
    analysis, inventory = analyze(tmp_path, [dpkg(small + RUNTIME)])
    assert list(BuildToolchain().evaluate(context(analysis=analysis, inventory=inventory))) == []
    analysis, inventory = analyze(tmp_path, [dpkg(RUNTIME)], name="runtime.tar")
    assert list(BuildToolchain().evaluate(context(analysis=analysis, inventory=inventory))) == []


def test_dw301_toolchain_removed_in_a_later_layer_is_not_dw301(tmp_path: Path) -> None:
    """apt-get purge in a later RUN: the files are gone from the final tree (DW303 counts the layer bytes)."""
    layers = [dpkg(TOOLCHAIN + RUNTIME), [F(p, kind="whiteout") for deb in TOOLCHAIN for p in deb.files]
              + dpkg(RUNTIME)]
    analysis, inventory = analyze(tmp_path, layers)
    assert list(BuildToolchain().evaluate(context(analysis=analysis, inventory=inventory))) == []


def test_dw301_static_mode_sizes_the_toolchain_from_the_table(tmp_path: Path) -> None:
    svc = load(tmp_path)
    [finding] = BuildToolchain().evaluate(context(svc))
    assert finding.estimated
    assert finding.savings_bytes == TOOLCHAIN_BYTES["gcc-12"] + TOOLCHAIN_BYTES["libc6-dev"] + TOOLCHAIN_BYTES["make"]
    assert finding.evidence[0].location == f"{svc.dockerfile_path}:2"
    assert finding.evidence[-1].kind == "estimate" and "not in the table" not in finding.evidence[-1].detail
    # a compiler driver pulls the others in: only the biggest counts; unlisted names are said, not guessed
    assert estimated_toolchain_bytes(["build-essential", "gcc", "g++=4:12.2.0-3"]) == (
        TOOLCHAIN_BYTES["build-essential"], [])
    assert estimated_toolchain_bytes(["gcc", "libpq-dev", "libfoo-dev"]) == (
        TOOLCHAIN_BYTES["gcc"] + TOOLCHAIN_BYTES["libpq-dev"], ["libfoo-dev"])
    clean = load(tmp_path, "FROM python:3.11-slim\nRUN apt-get install -y --no-install-recommends curl\n")
    assert list(BuildToolchain().evaluate(context(clean))) == []


# ------------------------------------------------------------------ DW302 / DW303

PIP_CACHE = {
    "root/.cache/pip/http-v2/a/b/c/0123456789abcdef": 200 * KB,
    "root/.cache/pip/wheels/ab/cd/requests-2.32.3-py3-none-any.whl": 100 * KB,
}
APT_LISTS = {
    "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4": 1500 * KB,
    "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease": 150 * KB,
}


def cache_image(tmp_path: Path) -> ImageAnalysis:
    layers = [
        [F(p, b"\0" * s) for p, s in APT_LISTS.items()] + [F("usr/bin/curl", b"\0" * 4 * KB)],
        [F(p, kind="whiteout") for p in APT_LISTS] + [F("etc/motd", b"hi\n")],
        [F(p, b"\0" * s) for p, s in PIP_CACHE.items()] + [F("usr/local/bin/app", b"#!/bin/sh\n")],
    ]
    analysis, _ = analyze(tmp_path, layers, created_by=[
        "/bin/sh -c apt-get update && apt-get install -y curl",
        "/bin/sh -c rm -rf /var/lib/apt/lists/*",
        "/bin/sh -c pip install -r requirements.txt",
    ])
    return analysis


def test_dw302_counts_visible_and_shadowed_caches(tmp_path: Path) -> None:
    analysis = cache_image(tmp_path)
    svc = load(tmp_path)
    findings = {f.path: f for f in PackageManagerCache().evaluate(context(svc, analysis))}
    assert set(findings) == {".cache/pip", "var/lib/apt/lists"}
    pip, apt = findings[".cache/pip"], findings["var/lib/apt/lists"]
    assert pip.savings_bytes == sum(PIP_CACHE.values())
    assert dict(pip.claims) == {f"file:{p}": s for p, s in PIP_CACHE.items()}
    assert apt.savings_bytes == sum(APT_LISTS.values())
    assert dict(apt.claims) == {f"shadow:0:{p}": s for p, s in APT_LISTS.items()}
    assert apt.evidence[0].location == analysis.layers[0].diff_id
    assert apt.evidence[0].detail.startswith("layer 0 (RUN apt-get update && apt-get install -y curl)")
    # the Dockerfile steps that wrote them, cited by line
    assert [e.location for e in pip.evidence if e.kind == "dockerfile"] == [f"{svc.dockerfile_path}:5"]
    apt_lines = [e.location for e in apt.evidence if e.kind == "dockerfile"]
    assert f"{svc.dockerfile_path}:2" in apt_lines and f"{svc.dockerfile_path}:3" not in apt_lines


def test_dw302_and_dw303_together_count_the_shadowed_cache_once(tmp_path: Path) -> None:
    analysis = cache_image(tmp_path)
    ctx = context(analysis=analysis)
    caches = list(PackageManagerCache().evaluate(ctx))
    [shadowed] = ShadowedBytes().evaluate(ctx)
    assert shadowed.savings_bytes == analysis.shadowed_bytes == sum(APT_LISTS.values())
    assert shadowed.path == next(iter(APT_LISTS))  # the largest shadowed path
    total = deduplicated_savings([*caches, shadowed])
    assert total == sum(APT_LISTS.values()) + sum(PIP_CACHE.values())
    assert sum(f.savings_bytes for f in [*caches, shadowed]) == total + sum(APT_LISTS.values())


def test_dw302_silent_below_threshold_and_without_an_image(tmp_path: Path) -> None:
    assert MIN_CACHE_BYTES == 256 * KB
    analysis, _ = analyze(tmp_path, [[F("root/.cache/pip/http-v2/x", b"\0" * (255 * KB))]])
    assert list(PackageManagerCache().evaluate(context(analysis=analysis))) == []
    clean = load(tmp_path, "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y curl "
                 "&& rm -rf /var/lib/apt/lists/*\nRUN pip install --no-cache-dir -r requirements.txt\n")
    assert list(PackageManagerCache().evaluate(context(clean, inventory=estimated(("requests", 900 * KB))))) == []


def estimated(*wheels: tuple[str, int], requires: dict[str, tuple[str, ...]] | None = None) -> Inventory:
    """A static estimate's inventory: wheels with their file sizes (what pip downloads)."""
    needs = requires or {}
    dists = tuple(Distribution(name, name, "1.0", f"(estimated)/{name}.whl", "(estimated)", size_bytes=3 * size,
                               archive_bytes=size,
                               requires=tuple(Requirement(r, "", (), None, True) for r in needs.get(name, ())))
                  for name, size in wheels)
    return Inventory(environments=(PythonEnvironment("(estimated)", "estimated", "3.11", distributions=dists),))


def test_dw302_static_pip_cache_is_about_the_downloaded_wheels(tmp_path: Path) -> None:
    svc = load(tmp_path)
    inventory = estimated(("requests", 300 * KB), ("urllib3", 200 * KB), requires={"requests": ("urllib3",)})
    findings = {f.path: f for f in PackageManagerCache().evaluate(context(svc, inventory=inventory))}
    pip = findings[".cache/pip"]
    assert pip.estimated and pip.savings_bytes == 500 * KB  # archive bytes, not the 1.5 MB installed
    assert pip.evidence[0].location == f"{svc.dockerfile_path}:5"
    [edit] = pip.remedy
    assert isinstance(edit, AddInstallFlag) and edit.flag == "--no-cache-dir" and edit.line == 5
    # apt lists: RUN 2 and RUN 7 update without removing the lists (RUN 3 removes them): two layers of lists
    lists = findings["var/lib/apt/lists"]
    assert lists.estimated and lists.savings_bytes == 2 * APT_LISTS_BYTES
    assert [e.location for e in lists.evidence if e.kind == "dockerfile"] == [
        f"{svc.dockerfile_path}:2", f"{svc.dockerfile_path}:7"]
    assert all(isinstance(e, AddCleanup) for e in lists.remedy) and [e.line for e in lists.remedy] == [2, 7]
    # PIP_NO_CACHE_DIR, a cache mount or a cleanup in the same RUN keep the cache out
    for run in ("ENV PIP_NO_CACHE_DIR=1\nRUN pip install -r requirements.txt",
                "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt",
                "RUN pip install -r requirements.txt && rm -rf /root/.cache/pip"):
        quiet = load(tmp_path, f"FROM python:3.11-slim\nCOPY requirements.txt .\n{run}\n")
        assert list(PackageManagerCache().evaluate(context(quiet, inventory=inventory))) == [], run


def test_dw302_static_counts_only_what_the_uncached_install_downloads(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "extra.txt").write_text("urllib3==2.2.3\n")
    svc = load(tmp_path, "FROM python:3.11-slim\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n"
                         "RUN pip install -r extra.txt\n")
    inventory = estimated(("requests", 300 * KB), ("urllib3", 400 * KB))
    [finding] = PackageManagerCache().evaluate(context(svc, inventory=inventory))
    assert finding.savings_bytes == 400 * KB and finding.evidence[0].location == f"{svc.dockerfile_path}:4"


def test_dw303_counts_overwritten_files_and_stays_quiet_below_one_mib(tmp_path: Path) -> None:
    assert MIN_SHADOWED_BYTES == 1 << 20
    layers = [[F("opt/model.bin", b"\0" * (2 << 20)), F("etc/app.conf", b"a" * 100)],
              [F("opt/model.bin", b"\1" * (1 << 20)), F("etc/app.conf", b"b" * 50)]]
    analysis, _ = analyze(tmp_path, layers)
    [finding] = ShadowedBytes().evaluate(context(analysis=analysis))
    assert finding.savings_bytes == (2 << 20) + 100
    assert dict(finding.claims) == {"shadow:0:opt/model.bin": 2 << 20, "shadow:0:etc/app.conf": 100}
    assert finding.path == "opt/model.bin"
    small, _ = analyze(tmp_path, [[F("etc/a", b"\0" * 1000)], [F("etc/a", kind="whiteout")]], name="s.tar")
    assert list(ShadowedBytes().evaluate(context(analysis=small))) == []
    assert list(ShadowedBytes().evaluate(context())) == []


# ------------------------------------------------------------------ DW304


def test_dw304_one_finding_per_apt_install_without_the_flag(tmp_path: Path) -> None:
    svc = load(tmp_path)
    findings = list(AptRecommends().evaluate(context(svc)))
    assert [f.path for f in findings] == [f"{svc.dockerfile_path}:2"]
    [finding] = findings
    assert finding.savings_bytes == 0 and finding.estimated
    assert "gcc-12 libc6-dev make" in finding.evidence[0].detail
    assert finding.fix == "Add --no-install-recommends to the apt-get install in line 2."


def test_dw304_silent_when_every_install_has_the_flag(tmp_path: Path) -> None:
    svc = load(tmp_path, "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y "
                         "--no-install-recommends gcc && rm -rf /var/lib/apt/lists/*\n")
    assert list(AptRecommends().evaluate(context(svc))) == []


MULTI_STAGE = """\
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y gcc libpq-dev
RUN pip wheel --wheel-dir /wheels psycopg2
FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl
"""


def test_a_toolchain_in_a_builder_stage_is_the_fix_not_a_finding(tmp_path: Path) -> None:
    svc = load(tmp_path, MULTI_STAGE)
    assert any(cmd.stage_index == 0 and cmd.tool == "apt-get" for cmd in svc.installs)
    ctx = context(svc)
    assert list(BuildToolchain().evaluate(ctx)) == []
    assert list(AptRecommends().evaluate(ctx)) == []
    # the same lines in the final stage are reported
    final = load(tmp_path, MULTI_STAGE.replace("FROM python:3.11-slim\nCOPY", "FROM build\nCOPY"))
    assert [f.path for f in AptRecommends().evaluate(context(final))] == [f"{final.dockerfile_path}:2"]
    [finding] = BuildToolchain().evaluate(context(final))
    assert finding.evidence[0].location == f"{final.dockerfile_path}:2"


def test_dw302_cites_only_steps_of_the_shipped_stages(tmp_path: Path) -> None:
    svc = load(tmp_path, MULTI_STAGE)
    analysis, _ = analyze(tmp_path, [[F("root/.cache/pip/http-v2/x", b"\0" * (300 * KB))]])
    [finding] = PackageManagerCache().evaluate(context(svc, analysis))
    assert not [e for e in finding.evidence if e.kind == "dockerfile"]  # line 3 is in the builder


# ------------------------------------------------------------------ remedies


def test_dw301_remedy_splits_at_the_final_from_with_the_toolchain_installs(tmp_path: Path) -> None:
    analysis, inventory = analyze(tmp_path, [dpkg(TOOLCHAIN + RUNTIME)])
    svc = load(tmp_path)
    [finding] = BuildToolchain().evaluate(context(svc, analysis, inventory))
    [edit] = finding.remedy
    assert isinstance(edit, SplitBuilderStage) and edit.kind == "split-builder-stage"
    assert (edit.file, edit.line, edit.end_line) == (svc.dockerfile_path, 1, 1)
    assert edit.original == "FROM python:3.11-slim\n"  # the exact lines
    assert edit.packages == ("gcc-12", "make", "libc6-dev")  # measured, largest first
    assert edit.install_lines == (2,)
    assert finding.fix == "Compile in a builder stage (FROM ... AS build) and COPY only the built wheels or venv."
    [static] = BuildToolchain().evaluate(context(svc))
    [edit] = static.remedy
    assert isinstance(edit, SplitBuilderStage) and edit.packages == ("gcc-12", "libc6-dev", "make")
    # the final stage built FROM a builder: the split happens at the final stage's own FROM
    final = load(tmp_path, MULTI_STAGE.replace("FROM python:3.11-slim\nCOPY", "FROM build\nCOPY"))
    [finding] = BuildToolchain().evaluate(context(final))
    [edit] = finding.remedy
    assert isinstance(edit, SplitBuilderStage) and (edit.line, edit.original) == (4, "FROM build\n")


def test_dw302_remedy_per_uncleaned_install_line(tmp_path: Path) -> None:
    analysis = cache_image(tmp_path)
    svc = load(tmp_path)
    findings = {f.path: f for f in PackageManagerCache().evaluate(context(svc, analysis))}
    [pip] = findings[".cache/pip"].remedy
    assert isinstance(pip, AddInstallFlag) and pip.kind == "add-install-flag"
    assert (pip.tool, pip.action, pip.flag, pip.env) == ("pip", "install", "--no-cache-dir", "PIP_NO_CACHE_DIR=1")
    assert (pip.file, pip.line, pip.original) == (svc.dockerfile_path, 5, "RUN pip install -r requirements.txt\n")
    assert findings[".cache/pip"].fix == "Add --no-cache-dir to the pip install in line 5 (or set PIP_NO_CACHE_DIR=1)."
    apt = findings["var/lib/apt/lists"].remedy
    assert all(isinstance(e, AddCleanup) and e.command == "rm -rf /var/lib/apt/lists/*" for e in apt)
    assert [e.line for e in apt] == [2]  # line 3 already cleans its lists
    # written by no step of the project: what to do, without a position
    # (the final stage's pip install uses --no-cache-dir; the apt installs are in the builder stage)
    findings = {f.path: f for f in PackageManagerCache().evaluate(context(load(tmp_path, MULTI_STAGE), analysis))}
    assert [e.file for e in findings[".cache/pip"].remedy] == [None]
    assert findings[".cache/pip"].fix == "Add --no-cache-dir to pip install (or set PIP_NO_CACHE_DIR=1)."
    assert findings["var/lib/apt/lists"].fix == "End the apt-get RUN with: rm -rf /var/lib/apt/lists/*"


def test_dw304_remedy_adds_the_flag_on_the_run_instruction(tmp_path: Path) -> None:
    svc = load(tmp_path)
    [finding] = AptRecommends().evaluate(context(svc))
    [edit] = finding.remedy
    assert isinstance(edit, AddInstallFlag) and edit.flag == "--no-install-recommends"
    assert (edit.tool, edit.action, edit.file, edit.line, edit.end_line) == ("apt-get", "install",
                                                                            svc.dockerfile_path, 2, 2)
    assert edit.original == "RUN apt-get update && apt-get install -y gcc-12 libc6-dev make\n"


def test_dw303_has_no_mechanical_edit(tmp_path: Path) -> None:
    analysis = cache_image(tmp_path)
    [finding] = ShadowedBytes().evaluate(context(analysis=analysis))
    assert finding.remedy == ()  # which RUNs to merge is a judgement no edit kind records
    assert finding.fix == ("Create and remove files in the same RUN, or do the work in a build stage and COPY the "
                           "result.")
