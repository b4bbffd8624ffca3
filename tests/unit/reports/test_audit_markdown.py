"""The Markdown audit report: summary, tables, escaping, savings, action list and cost arithmetic."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from deadweight.model.audit import AuditReport, AuditTotals
from deadweight.model.cost import CostModel
from deadweight.reports import audit_markdown
from tests.unit.reports.audit_sample import sample_report, web


@pytest.fixture(scope="module")
def md() -> str:
    return audit_markdown.render(sample_report())


def _section(md: str, title: str) -> str:
    return md.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table_cells(row: str) -> list[str]:
    """Split a GFM table row the way GitHub does: on pipes that are not backslash-escaped."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_title_and_summary_sentence(md: str) -> None:
    assert md.startswith("# deadweight audit: `/srv/fleet`\n")
    assert (
        "The fleet (3 of 5 services measured) is **7.10 GB**; after the fixes below it would be "
        "**2.11 GB**, **70.3% smaller**." in md
    )
    assert "Services of unknown size add an estimated 60.0 MB" in md
    assert "> **1 service could not be audited:** batch." in md
    assert "decimal units (1 GB = 10^9 bytes)" in md


def test_services_table_escapes_pipes_and_keeps_six_columns(md: str) -> None:
    rows = [line for line in _section(md, "Services").splitlines() if line.startswith("| ")]
    header, *body = rows
    assert _table_cells(header) == ["Service", "Image", "Size", "Dead weight", "% dead", "Top cause"]
    assert all(len(_table_cells(row)) == 6 for row in body)
    names = [_table_cells(row)[0] for row in body]
    assert names == ["api", "worker", "ml", r"web\|admin", "batch"]
    batch = _table_cells(body[-1])
    assert batch[5] == "**error:** registry:127.0.0.1:5000/batch:2: manifest unknown"
    api = _table_cells(body[0])
    assert api[2:5] == ["5.61 GB", "4.74 GB", "84.5%"]
    assert api[5].startswith("[DW101](") and api[5].endswith("CUDA torch in a CPU-only service")
    assert "- Skipped DW701, DW702 for api, worker: needs --run (observed memory)" in md


def test_root_causes_with_evidence_per_service(md: str) -> None:
    causes = _section(md, "Root causes")
    assert re.findall(r"^### (.+)$", causes, flags=re.M) == ["api", "worker", "ml"]
    api = causes.split("### api\n", 1)[1].split("### worker", 1)[0]
    assert re.findall(r"^- \*\*\[(DW\d+)\]", api, flags=re.M) == ["DW101", "DW302", "DW303", "DW201", "DW501"]
    assert "  - dockerfile: `Dockerfile:9`: RUN pip install -r requirements.txt" in api
    assert "  - **Fix:** install torch from https://download.pytorch.org/whl/cpu" in api
    assert "requirement: `requirements.txt:2`: fastapi\\>=0.110" in api


def test_user_strings_cannot_inject_markdown(md: str) -> None:
    worker = _section(md, "Root causes").split("### worker\n", 1)[1]
    assert r"**Fix:** use a \[builder\] stage \| copy the wheels" in worker
    assert r"libc6-dev \*installed\* by \`build-essential\`" in worker
    assert r"RUN apt-get install -y libpq5 \| tee /tmp/log" in worker


def test_savings_by_rule_and_fleet_totals(md: str) -> None:
    savings = _section(md, "Savings by optimization")
    rows = [_table_cells(line) for line in savings.splitlines() if line.startswith("| [DW")]
    assert [(r[0][1:6], r[4]) for r in rows] == [
        ("DW101", "4.49 GB"), ("DW301", "210 MB"), ("DW302", "180 MB"), ("DW303", "95.0 MB"),
        ("DW201", "70.0 MB"), ("DW102", "~60.0 MB"), ("DW304", "~45.0 MB"), ("DW501", "0 B"),
    ]
    assert "Rows overlap" in savings  # DW302 and DW303 claim the same 95 MB
    fleet = {cells[0]: cells[1] for cells in map(_table_cells, savings.splitlines()) if len(cells) == 2}
    assert fleet["Current size"] == "7.10 GB"
    assert fleet["Dead weight (all fixes)"] == "5.05 GB"
    assert fleet["After fixes"] == "2.11 GB"
    assert fleet["Smaller by"] == "70.3%"


def test_action_list_biggest_first_one_line_each(md: str) -> None:
    actions = re.findall(r"^\d+\. (.+)$", _section(md, "Action list"), flags=re.M)
    assert len(actions) == 8
    assert actions[0] == (
        "**api** (`torch`): install torch from https://download.pytorch.org/whl/cpu (DW101, saves 4.49 GB)"
    )
    assert actions[1].startswith(r"**worker** (`gcc-12`): use a \[builder\] stage")
    assert actions[-1] == "**api** (`fastapi`): pin fastapi==0.115.0 (DW501, saves 0 B)"


def test_action_list_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_markdown, "MAX_ACTIONS", 3)
    actions = _section(audit_markdown.render(sample_report()), "Action list")
    assert len(re.findall(r"^\d+\. ", actions, flags=re.M)) == 3
    assert "…and 5 smaller actions (270 MB together)" in actions  # 95 + 70 + 60 + 45 + 0 MB


def test_cost_section_with_defaults(md: str) -> None:
    cost = _section(md, "Cost")
    rows = {cells[0]: cells[1:] for cells in map(_table_cells, cost.splitlines()) if len(cells) == 4}
    # current 7.101 GB, after 2.106 GB: storage x $0.10, transfer x 100 pulls x $0.09
    assert rows[r"Registry storage (\$0.10 per GB-month)"] == [r"\$0.71", r"\$0.21", r"\$0.50"]
    assert rows[r"Transfer (\$0.09 per GB × 100 pulls a month)"] == [r"\$63.91", r"\$18.95", r"\$44.95"]
    assert rows["**Total per month**"] == [r"**\$64.62**", r"**\$19.16**", r"**\$45.45**"]
    assert r"save about **\$45.45 a month** (\$545.45 a year)" in cost
    assert "Prices are the defaults" in cost and "(defaults:" not in cost


def test_cost_section_follows_the_configured_model() -> None:
    model = CostModel(storage_per_gb_month=0.20, transfer_per_gb=0.05, pulls_per_month=1000)
    cost = _section(audit_markdown.render(sample_report(model)), "Cost")
    assert r"Transfer (\$0.05 per GB × 1000 pulls a month) | \$355.05 | \$105.30 | \$249.75 |" in cost
    assert r"(defaults: \$0.10, \$0.09, 100 pulls)" in cost
    assert "Prices are configured" in cost


def test_clean_fleet_says_so_and_skips_empty_sections() -> None:
    service = web()
    report = AuditReport(
        root="/srv/clean", services=(service,), totals=AuditTotals(241_000_000, 0, 241_000_000)
    )
    md = audit_markdown.render(report)
    assert "No dead weight found: the fleet (1 service) is **241 MB**." in md
    for absent in ("## Root causes", "## Savings by optimization", "## Action list"):
        assert absent not in md
    assert r"\$0.00 a month" in md


def test_output_is_deterministic_whatever_the_input_order() -> None:
    report = sample_report()
    shuffled = replace(report, services=tuple(reversed(report.services)))
    assert audit_markdown.render(shuffled) == audit_markdown.render(report)
