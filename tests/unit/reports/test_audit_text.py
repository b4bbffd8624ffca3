"""The terminal report: fleet table first, then findings per service, then one totals line."""

from __future__ import annotations

import re

import pytest

from deadweight.model.audit import AuditReport, AuditTotals
from deadweight.reports import audit_text
from tests.unit.reports.audit_sample import sample_report

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def text() -> str:
    return audit_text.render(sample_report(), width=120)


def _table_rows(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("service"))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def test_fleet_table_orders_by_dead_weight_with_failures_last(text: str) -> None:
    header = next(line for line in text.splitlines() if line.startswith("service"))
    assert header.split() == ["service", "image", "size", "dead", "weight", "%", "dead", "top", "cause"]
    rows = _table_rows(text)
    assert [row.split()[0] for row in rows] == ["api", "worker", "ml", "web|admin", "batch"]
    api, worker, ml, web, batch = rows
    assert re.search(r"5\.61 GB\s+4\.74 GB\s+84\.5%\s+DW101 CUDA torch in a CPU-only service", api)
    assert re.search(r"1\.25 GB\s+255 MB\s+20\.4%\s+DW301 Build toolchain", worker)
    assert re.search(r"unknown\s+~60\.0 MB\s+n/a\s+DW102", ml)  # static mode: size unknown, saving estimated
    assert re.search(r"241 MB\s+0 B\s+0\.0%\s+no findings", web)
    assert "error: registry:127.0.0.1:5000/batch:2: manifest unknown" in batch


def test_skipped_rules_grouped_by_reason(text: str) -> None:
    assert "skipped DW701, DW702 for api, worker: needs --run (observed memory)" in text
    assert "skipped DW303 for ml: needs an image" in text
    assert "warning: compose.yaml: service 'cron' has no build or image; skipped" in text


def test_findings_sorted_by_savings_with_evidence_and_fix(text: str) -> None:
    api = text.split("\napi  registry:127.0.0.1:5000/api:1.4  (image)", 1)[1].split("\nworker  ", 1)[0]
    rules = re.findall(r"^  (DW\d{3}) ", api, flags=re.M)
    assert rules == ["DW101", "DW302", "DW303", "DW201", "DW501"]
    assert re.search(r"DW101 high\s+4\.49 GB\s+CUDA torch in a CPU-only service \[torch\]", api)
    assert "      dockerfile: Dockerfile:9: RUN pip install -r requirements.txt" in api
    assert "      fix: install torch from https://download.pytorch.org/whl/cpu" in api
    # layer digests are shortened like docker's image ids
    assert "layer: sha256:a1a1a1a1a1a1: pip cache 180 MB" in api
    assert "a1" * 32 not in api


def test_clean_and_failed_services_have_no_section(text: str) -> None:
    assert "\nworker  docker:worker:latest  (image)  1.25 GB, 255 MB dead (20.4%)" in text
    assert "\nml  (static)  unknown, 60.0 MB dead (n/a)" in text
    assert "oci:build/web" not in text
    assert "registry:127.0.0.1:5000/batch:2  (image)" not in text


def test_estimates_and_confidence_are_marked(text: str) -> None:
    line = next(line for line in text.splitlines() if line.startswith("  DW304"))
    assert "~45.0 MB" in line and "(estimated)" in line and "(confidence: low)" in line


def test_user_strings_are_not_rich_markup(text: str) -> None:
    # "[builder]" would vanish if rich parsed it as a style tag
    assert "fix: use a [builder] stage | copy the wheels" in text
    assert "*installed* by `build-essential`" in text


def test_totals_line(text: str) -> None:
    total = next(line for line in text.splitlines() if line.startswith("total:"))
    assert "7.10 GB in 3 images" in total
    assert "5.05 GB dead weight" in total
    assert "2.11 GB after fixes (70.3% smaller)" in total
    assert "6.62 GB unique layer bytes" in text
    assert "1 service failed" in text
    assert "1 GB = 10^9 bytes" in text


def test_plain_by_default_and_coloured_on_request(text: str) -> None:
    assert not ANSI.search(text)
    coloured = audit_text.render(sample_report(), color=True, width=120)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured).split() == text.split()


def test_width_is_respected() -> None:
    narrow = audit_text.render(sample_report(), width=80)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert not any(line != line.rstrip() for line in narrow.splitlines())


def test_empty_fleet() -> None:
    out = audit_text.render(AuditReport(root="/srv/none", services=(), totals=AuditTotals(0, 0, 0)))
    assert "total: 0 B in 0 images, 0 B dead weight" in out
