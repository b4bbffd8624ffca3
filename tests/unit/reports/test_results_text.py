"""optimize's final terminal table: one row per service, the fleet totals with shared layers once, then only what
needs attention (failed checks with the rerun command, dropped edits) and the closing line."""

from __future__ import annotations

from dataclasses import replace

from deadweight.model.verification import CheckResult
from deadweight.reports import results_text
from tests.unit.reports.results_sample import api_verification, sample_verify_report


def _row(text: str, first: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(first + " "))
    return line.split("  ")


def test_table_rows_and_totals() -> None:
    text = results_text.render(sample_verify_report())
    assert max(len(line) for line in text.splitlines()) <= 120
    api = " ".join(_row(text, "api"))
    for cell in (
        "5.61 GB",
        "1.12 GB",
        "80.0%",
        "3.36 GB → 420 MB",
        "1 min 35 s / 1.5 s",
        "3/3 passed",
        "8.5 s",
        "2 kept",
    ):
        assert cell in api
    worker = " ".join(_row(text, "worker"))
    assert "1 kept, 1 dropped" in worker and "40.0 s / 1.0 s" in worker
    total = " ".join(_row(text, "total"))
    assert "6.86 GB" in total and "2.33 GB" in total and "66.1%" in total and "10.5 s" in total
    unique = " ".join(_row(text, "unique layers"))
    assert "6.62 GB" in unique and "2.08 GB" in unique and "68.5%" in unique


def test_attention_lines_and_closing() -> None:
    report = sample_verify_report()
    worker = report.services[0]
    failing = CheckResult(
        "imports", "import psycopg2", "fail", "ImportError: libpq.so.5", "docker run --rm w python -c 'import psycopg2'"
    )
    cannot = CheckResult("start", "starts and becomes healthy", "error", "engine went away")
    report = replace(report, services=(replace(worker, checks=(*worker.checks, failing, cannot)), report.services[1]))
    text = results_text.render(report)
    assert "worker: import psycopg2 failed: ImportError: libpq.so.5" in text
    assert "  rerun: docker run --rm w python -c 'import psycopg2'" in text
    assert "worker: starts and becomes healthy could not run: engine went away" in text  # never a pass
    assert "2/4 failed" in text
    assert "worker: dropped DW301 gcc-12 (broke imports): DW301's builder stage left out libpq.so.5" in text
    assert "NOT verified." in text and "about $26.94 a month on compressed sizes" in text
    assert "Dry run: 3 files would change" in text


def test_one_service_has_no_total_rows_and_written_says_so() -> None:
    report = replace(sample_verify_report(), services=(api_verification(),), written=True, files=("Dockerfile",))
    text = results_text.render(report)
    assert "total" not in text and "unique layers" not in text
    assert "Verified. Wrote 1 file: Dockerfile." in text


def test_service_that_could_not_be_built() -> None:
    report = sample_verify_report()
    broken = replace(
        report.services[0], comparison=None, after_build=None, checks=(), error="docker build failed: exit 1"
    )
    text = results_text.render(replace(report, services=(broken, report.services[1])))
    assert "worker: could not be verified: docker build failed: exit 1" in text
    assert "error" in " ".join(_row(text, "worker"))
    assert "NOT verified." in text
    # the totals are over what was compared: api alone
    assert "5.61 GB → 1.12 GB (80.0% smaller)" in text
