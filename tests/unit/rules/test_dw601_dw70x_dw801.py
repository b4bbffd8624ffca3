"""DW601 (base image) from real Dockerfiles, DW701/DW702 thresholds, DW801 on a real site-packages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from deadweight.config import deadweight_table
from deadweight.errors import ConfigError
from deadweight.guard.config import guarded_config
from deadweight.model.project import Service
from deadweight.model.remedy import ReplaceBase, SetMemoryLimit
from deadweight.model.usage import Confidence
from deadweight.project.loader import load_project
from deadweight.rules.base import RuleContext
from deadweight.rules.dw70x_memory import LooseMemoryLimit, TightMemoryLimit, suggested_limit
from deadweight.rules.dw601_base_image import BASE_SIZES, HeavierBase
from deadweight.rules.dw801_tests_docs import MIN_BYTES as DW801_MIN
from deadweight.rules.dw801_tests_docs import TestsAndDocs
from tests.unit.rules.ruleimages import SITE, analyze, context, dist, service

MIB = 1 << 20


def dockerfile_service(tmp_path: Path, text: str) -> Service:
    root = tmp_path / "svc"
    root.mkdir(exist_ok=True)
    (root / "Dockerfile").write_text(text)
    (root / "requirements.txt").write_text("requests==2.32.3\n")
    svc = load_project(str(root), environ={}).services[0]
    assert svc.load_error is None
    return svc


@pytest.mark.parametrize(
    ("base", "slim"),
    [
        ("python:3.11", "python:3.11-slim"),
        ("python:3.12-bookworm", "python:3.12-slim"),
        ("docker.io/library/python:3.11", "python:3.11-slim"),
        ("python", "python:slim"),
        ("python:latest", "python:slim"),
    ],
)
def test_dw601_full_python_base(tmp_path: Path, base: str, slim: str) -> None:
    svc = dockerfile_service(tmp_path, f"FROM {base}\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n")
    [finding] = HeavierBase().evaluate(context(svc))
    assert finding.title == f"{base} where {slim} would do"
    assert finding.fix == f"Use FROM {slim}."
    assert finding.savings_bytes == BASE_SIZES["full"] - BASE_SIZES["slim"]
    assert finding.estimated and finding.confidence is Confidence.MEDIUM
    assert finding.path == f"{svc.dockerfile_path}:1"


@pytest.mark.parametrize("base", ["python:3.11-slim", "python:3.11-slim-bookworm", "python:3.11-alpine3.20",
                                  "debian:bookworm-slim", "ubuntu:22.04", "nvidia/cuda:12.4.1-runtime-ubuntu22.04"])
def test_dw601_silent_for_light_or_non_python_bases(tmp_path: Path, base: str) -> None:
    svc = dockerfile_service(tmp_path, f"FROM {base}\nRUN echo hi\n")
    assert list(HeavierBase().evaluate(context(svc))) == []


def test_dw601_follows_the_final_stage_chain(tmp_path: Path) -> None:
    text = ("FROM python:3.11-slim AS build\nRUN pip install --no-binary :all: lxml\n"
            "FROM python:3.11 AS base\nRUN echo base\n"
            "FROM base AS final\nCOPY --from=build /usr/local /usr/local\n")
    svc = dockerfile_service(tmp_path, text)
    [finding] = HeavierBase().evaluate(context(svc))
    assert finding.path == f"{svc.dockerfile_path}:3"
    # the --no-binary build happens in the builder stage: the final stage itself compiles nothing
    assert finding.confidence is Confidence.MEDIUM and finding.fix == "Use FROM python:3.11-slim."
    # multi-stage with a slim final stage: silent
    svc = dockerfile_service(tmp_path, "FROM python:3.11 AS build\nRUN pip wheel .\nFROM python:3.11-slim\n")
    assert list(HeavierBase().evaluate(context(svc))) == []


def test_dw601_compiling_in_the_final_stage_lowers_confidence(tmp_path: Path) -> None:
    svc = dockerfile_service(tmp_path, "FROM python:3.11\nRUN pip install --no-binary :all: lxml\n")
    [finding] = HeavierBase().evaluate(context(svc))
    assert finding.confidence is Confidence.LOW
    assert finding.fix == "Use FROM python:3.11-slim for the final stage and compile in a builder stage."


def test_dw601_without_a_dockerfile_is_silent() -> None:
    assert list(HeavierBase().evaluate(context())) == []


# ------------------------------------------------------------------ DW701 / DW702


def memory_ctx(limit: int | None, peak: int | None) -> RuleContext:
    svc = service(memory_limit_bytes=limit, mem_limit_evidence="compose.yaml:7")
    return context(svc, memory_peak_bytes=peak, memory_evidence="docker stats (run 1)")


def test_dw701_fires_from_80_percent_of_the_limit() -> None:
    """The default leaves fix's headroom: a limit below 1.25x the peak (a peak of 80% or more) is tight."""
    limit = 1000 * MIB
    assert list(TightMemoryLimit().evaluate(memory_ctx(limit, 799 * MIB))) == []
    [finding] = TightMemoryLimit().evaluate(memory_ctx(limit, 800 * MIB))
    assert finding.fix == "Raise mem_limit to 1216m."  # 800 MiB x 1.5 = 1200 MiB, rounded up to 64 MiB
    assert [e.location for e in finding.evidence] == ["docker stats (run 1)", "compose.yaml:7"]
    assert finding.savings_bytes == 0


def test_dw701_threshold_is_the_run_tight_fraction_setting(tmp_path: Path) -> None:
    (tmp_path / ".deadweight.toml").write_text("[run]\ntight-fraction = 0.95\n")
    found = deadweight_table(tmp_path, None)
    assert found is not None
    config = guarded_config(*found)[0]
    assert config.run.tight_fraction == 0.95
    ctx = memory_ctx(1000 * MIB, 900 * MIB)
    assert list(TightMemoryLimit().evaluate(dataclasses.replace(ctx, config=config))) == []
    assert list(TightMemoryLimit().evaluate(dataclasses.replace(ctx, config=config, memory_peak_bytes=950 * MIB)))
    for bad in ("0", "1.5", "\"high\""):
        (tmp_path / ".deadweight.toml").write_text(f"[run]\ntight-fraction = {bad}\n")
        found = deadweight_table(tmp_path, None)
        assert found is not None
        with pytest.raises(ConfigError, match="tight-fraction"):
            guarded_config(*found)


def test_dw702_fires_at_four_times_the_peak_and_256_mib_more() -> None:
    peak = 100 * MIB
    assert list(LooseMemoryLimit().evaluate(memory_ctx(4 * peak - 1, peak))) == []
    [finding] = LooseMemoryLimit().evaluate(memory_ctx(4 * peak, peak))
    assert finding.fix == "Lower mem_limit to 192m."  # 150 MiB rounded up to 64 MiB steps
    # a big ratio but a small gap is not worth a finding
    assert list(LooseMemoryLimit().evaluate(memory_ctx(200 * MIB, 20 * MIB))) == []
    assert list(LooseMemoryLimit().evaluate(memory_ctx(20 * MIB + (256 * MIB), 20 * MIB)))


def test_memory_rules_need_both_a_limit_and_a_peak() -> None:
    for rule in (TightMemoryLimit(), LooseMemoryLimit()):
        assert list(rule.evaluate(memory_ctx(None, 900 * MIB))) == []
        assert list(rule.evaluate(memory_ctx(1000 * MIB, None))) == []
    assert suggested_limit(64 * MIB) == 128 * MIB and suggested_limit(1) == 64 * MIB


# ------------------------------------------------------------------ DW801

NUMPY_FILES: dict[str, bytes | int] = {
    "numpy/__init__.py": 20_000,
    "numpy/core/_multiarray_umath.so": 3 * MIB,
    "numpy/core/tests/test_multiarray.py": 600_000,
    "numpy/doc/ufuncs.py": 100_000,
    "numpy/core/include/numpy/ndarraytypes.h": 250_000,
    "numpy/core/lib/libnpymath.a": 200_000,
    "numpy/__init__.pyi": 20_000,
    "numpy/random/_bounded_integers.pxd": 2_000,
}
STRIP = [p for p in NUMPY_FILES if p not in ("numpy/__init__.py", "numpy/core/_multiarray_umath.so")]


def test_dw801_counts_tests_docs_headers_and_static_libs(tmp_path: Path) -> None:
    analysis, inventory = analyze(tmp_path, [dist("numpy", "2.1.0", NUMPY_FILES)
                                             + dist("six", "1.16.0", {"six.py": 30_000})])
    [finding] = TestsAndDocs().evaluate(context(analysis=analysis, inventory=inventory))
    expected = {f"file:{SITE}/{p}": NUMPY_FILES[p] for p in STRIP}
    assert dict(finding.claims) == expected
    assert finding.savings_bytes == sum(expected.values()) == 1_172_000
    assert finding.evidence[0].detail.startswith("numpy: ")


def test_dw801_silent_below_one_mib_and_without_an_image(tmp_path: Path) -> None:
    assert DW801_MIN == MIB
    small = {p: s for p, s in NUMPY_FILES.items() if p != "numpy/core/tests/test_multiarray.py"}
    analysis, inventory = analyze(tmp_path, [dist("numpy", "2.1.0", small)])
    assert list(TestsAndDocs().evaluate(context(analysis=analysis, inventory=inventory))) == []
    assert list(TestsAndDocs().evaluate(context())) == []


# ------------------------------------------------------------------ remedies


def test_dw601_remedy_replaces_the_base_of_the_root_stage(tmp_path: Path) -> None:
    text = ("FROM python:3.11-slim AS build\nRUN pip wheel .\n"
            "FROM python:3.11 AS base\nRUN echo base\n"
            "FROM base AS final\nCOPY --from=build /wheels /wheels\n")
    svc = dockerfile_service(tmp_path, text)
    [finding] = HeavierBase().evaluate(context(svc, musl_gaps=()))
    [edit] = finding.remedy
    assert isinstance(edit, ReplaceBase) and edit.kind == "replace-base"
    assert (edit.old, edit.new, edit.builder, edit.alternative) == ("python:3.11", "python:3.11-slim", False,
                                                                    "python:3.11-alpine")
    assert (edit.file, edit.line, edit.original) == (svc.dockerfile_path, 3, "FROM python:3.11 AS base\n")
    assert "python:3.11-alpine would also work" in finding.fix
    svc = dockerfile_service(tmp_path, "FROM python:3.11\nRUN pip install --no-binary :all: lxml\n")
    [finding] = HeavierBase().evaluate(context(svc, musl_gaps=()))
    [edit] = finding.remedy
    assert isinstance(edit, ReplaceBase) and edit.builder and edit.alternative is None  # compiles: no alpine


def test_memory_remedies_set_the_limit_on_its_compose_line() -> None:
    [tight] = TightMemoryLimit().evaluate(memory_ctx(1000 * MIB, 900 * MIB))
    [edit] = tight.remedy
    assert isinstance(edit, SetMemoryLimit) and edit.kind == "set-memory-limit"
    assert (edit.service, edit.limit_bytes, edit.current_bytes) == ("api", 1408 * MIB, 1000 * MIB)
    assert (edit.file, edit.line) == ("compose.yaml", 7)
    [loose] = LooseMemoryLimit().evaluate(memory_ctx(400 * MIB, 100 * MIB))
    [edit] = loose.remedy
    assert isinstance(edit, SetMemoryLimit) and (edit.limit_bytes, edit.current_bytes) == (192 * MIB, 400 * MIB)


def test_dw801_strip_step_has_no_edit_kind(tmp_path: Path) -> None:
    analysis, inventory = analyze(tmp_path, [dist("numpy", "2.1.0", NUMPY_FILES)])
    [finding] = TestsAndDocs().evaluate(context(analysis=analysis, inventory=inventory))
    assert finding.remedy == ()
    assert finding.fix.startswith("Add a strip step after pip install")
