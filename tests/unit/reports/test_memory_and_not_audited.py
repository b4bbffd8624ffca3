"""--run's observed memory in every format, finding or not, and "not audited" / "nothing audited" rows (issue 9)."""

from __future__ import annotations

import json

import jsonschema

from deadweight.model.audit import AuditReport, AuditTotals, MemoryObservation, ServiceResult
from deadweight.reports import audit_json, audit_markdown, audit_text
from deadweight.reports.formatting import memory_summary

MIB = 1 << 20


def report(*services: ServiceResult) -> AuditReport:
    return AuditReport(root="/p", services=services, totals=AuditTotals(0, 0, 0))


def test_memory_summary_wording() -> None:
    assert memory_summary(MemoryObservation(372 * MIB, 512 * MIB, "docker stats")) == "peak 372 MiB of 512 MiB, 72.7%"
    assert memory_summary(MemoryObservation(372 * MIB, None)) == "peak 372 MiB, no memory limit"
    assert memory_summary(MemoryObservation(None, 512 * MIB, "exited at once")) == "no peak observed (exited at once)"
    assert memory_summary(MemoryObservation(3 * (1 << 30), 4 * (1 << 30))) == "peak 3.00 GiB of 4.00 GiB, 75.0%"


def test_every_service_shows_its_peak_in_every_format() -> None:
    doc = report(
        ServiceResult("api", "docker:api", "image", 100, 0, memory=MemoryObservation(372 * MIB, 512 * MIB, "stats")),
        ServiceResult("worker", "docker:w", "image", 100, 0, memory=MemoryObservation(40 * MIB, None, "stats")),
    )
    text = audit_text.render(doc)
    assert "memory api: peak 372 MiB of 512 MiB, 72.7%" in text
    assert "memory worker: peak 40 MiB, no memory limit" in text
    markdown = audit_markdown.render(doc)
    assert "## Observed memory" in markdown and "| api | peak 372 MiB of 512 MiB, 72.7% | stats |" in markdown
    data = json.loads(audit_json.render(doc))
    jsonschema.validate(data, audit_json.load_schema(), cls=jsonschema.Draft202012Validator)
    rows = {s["name"]: s for s in data["services"]}
    assert rows["api"]["memory"] == {
        "peak_bytes": 372 * MIB,
        "limit_bytes": 512 * MIB,
        "fraction": 0.7266,
        "evidence": "stats",
    }
    assert rows["worker"]["memory"]["fraction"] is None
    # without --run: no memory lines, JSON null
    plain = report(ServiceResult("api", "docker:api", "image", 100, 0))
    assert "memory" not in audit_text.render(plain) and "Observed memory" not in audit_markdown.render(plain)
    assert json.loads(audit_json.render(plain))["services"][0]["memory"] is None


def test_not_audited_rows_and_nothing_audited() -> None:
    cache = ServiceResult("cache", None, "none", None, 0, not_audited="image redis:7 is not in the local engine")
    api = ServiceResult("api", None, "static", 1000, 0)
    some = report(cache, api)
    assert some.nothing_audited is None and not cache.checked
    assert "not audited: image redis:7" in audit_text.render(some)
    assert "nothing audited" not in audit_text.render(some)
    none = report(cache)
    assert none.nothing_audited == "cache: image redis:7 is not in the local engine"
    text = audit_text.render(none)
    assert "nothing audited" in text and "no findings" not in text
    markdown = audit_markdown.render(none)
    assert "**Nothing audited**" in markdown and "No dead weight found" not in markdown
    data = json.loads(audit_json.render(none))
    jsonschema.validate(data, audit_json.load_schema(), cls=jsonschema.Draft202012Validator)
    assert data["totals"]["nothing_audited"] == none.nothing_audited and data["services"][0]["mode"] == "none"
