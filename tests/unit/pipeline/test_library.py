"""The library API: ``from deadweight import audit, inspect`` return the model and raise, never exit or print."""

from __future__ import annotations

from pathlib import Path

import pytest

import deadweight
from deadweight import audit, inspect
from deadweight.errors import ConfigError, SourceError, UsageError
from deadweight.model.audit import AuditReport
from deadweight.model.inspect import InspectResult

TINY = Path(__file__).resolve().parents[3] / "examples" / "tiny-image"


@pytest.fixture()
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))


def test_inspect_returns_the_analysis_and_only_computes_what_is_asked(capsys: pytest.CaptureFixture[str]) -> None:
    plain = inspect(f"oci:{TINY}")
    assert isinstance(plain, InspectResult) and plain.inventory is None and plain.verdicts is None
    assert plain.analysis.size_bytes == sum(layer.size_bytes for layer in plain.analysis.layers) > 0
    with_packages = inspect(str(TINY), packages=True)
    assert with_packages.inventory is not None and with_packages.analysis.size_bytes == plain.analysis.size_bytes
    assert capsys.readouterr() == ("", "")  # nothing printed


def test_inspect_raises_the_errors_the_cli_maps_to_exit_codes(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        inspect("docker-archive:")
    with pytest.raises(UsageError):
        inspect(f"oci:{TINY}", platform="not a platform")
    with pytest.raises(SourceError) as err:
        inspect(f"docker-archive:{tmp_path / 'missing.tar'}")
    assert err.value.exit_code == 3


def test_audit_returns_a_report_with_typed_error_rows(no_engine: None, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCMD [\"python\"]\n")
    report = audit(tmp_path, images="docker-archive:", offline=True)
    assert isinstance(report, AuditReport)
    (row,) = report.services
    assert row.error is not None and row.error_kind == "usage" and row.image == "docker-archive:"
    report = audit(tmp_path, images={row.name: f"docker-archive:{tmp_path / 'nope.tar'}"}, offline=True)
    assert report.services[0].error_kind == "input"
    static = audit(tmp_path, offline=True, select="DW3,DW5")
    assert static.services[0].mode == "static" and static.services[0].error is None


def test_audit_raises_for_bad_arguments(no_engine: None, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        audit(tmp_path / "missing")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    with pytest.raises(ConfigError):
        audit(tmp_path, select="DW999X", offline=True)
    with pytest.raises(UsageError):
        audit(tmp_path, images="nosuch=docker:x", offline=True)


def test_the_api_is_exported_lazily() -> None:
    assert deadweight.audit is audit and deadweight.inspect is inspect
    assert {"audit", "inspect"} <= set(deadweight.__all__)
    with pytest.raises(AttributeError):
        _ = deadweight.nothing_here  # type: ignore[attr-defined]
