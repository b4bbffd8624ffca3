"""The results report a reviewer reads in the pull request: summary line, size table, what changed (with the
measured saving and the evidence), checks with the command to rerun them, files, cost, and fleet totals with
shared layers counted once. Rendered from a hand-built verification (``results_sample``)."""

from __future__ import annotations

import re
from dataclasses import replace

from deadweight.model.verification import CheckResult
from deadweight.reports import results_markdown
from tests.unit.reports.results_sample import api_verification, sample_verify_report


def _section(text: str, heading: str) -> str:
    """From ``heading`` to the next heading of the same or a higher level."""
    start = text.index(heading + "\n")
    level = len(heading.split(" ", maxsplit=1)[0])
    nxt = re.search(rf"^#{{1,{level}}} ", text[start + len(heading) :], re.MULTILINE)
    return text[start : start + len(heading) + (nxt.start() if nxt else len(text))]


def test_summary_line_is_before_after_and_share() -> None:
    text = results_markdown.render(sample_verify_report())
    lines = text.splitlines()
    assert lines[0] == "# deadweight optimize: `/srv/fleet`"
    assert "The fleet (2 services): **6.86 GB → 2.33 GB**, **66.1% smaller**" in text
    assert "counted once: 6.62 GB → 2.08 GB (68.5% smaller)" in text
    assert "**Verified**: all 5 checks passed in the rebuilt images." in text  # the skipped openapi is not counted
    assert "1 edit broke a check and was dropped" in text
    assert "Dry run: nothing was written" in text


def test_single_service_names_it_and_has_the_size_table() -> None:
    report = sample_verify_report()
    report = replace(report, services=(api_verification(),), unique_before_bytes=0, unique_after_bytes=0)
    text = results_markdown.render(report)
    assert "api: **5.61 GB → 1.12 GB**, **80.0% smaller**" in text
    assert "## Services" not in text and "counted once" not in text.split("##")[0]
    sizes = _section(text, "## Size comparison")
    assert "| Total size | 5.61 GB | 1.12 GB | -4.49 GB (-80.0%) |" in sizes
    assert "| Largest layer | 5.37 GB | 879 MB |" in sizes
    assert "| Compressed (registry, pull) | 3.36 GB | 420 MB |" in sizes
    assert "| Build time, cold | 2 min 40 s | 1 min 35 s |" in sizes
    assert "| Build time, warm | 2.0 s | 1.5 s |" in sizes
    assert "`nvidia-cublas-cu12` (2.79 GB)" in sizes  # what left
    assert "`torch`" not in sizes.split("Distributions that left")[1]  # changed, not removed


def test_edits_give_measured_saving_and_evidence() -> None:
    text = results_markdown.render(sample_verify_report())
    api = _section(text, "## api")
    edits = _section(api, "### What was changed")
    torch_line = next(line for line in edits.splitlines() if line.startswith("- **DW101**"))
    assert "Saved **4.30 GB** measured on the rebuilt image (the audit estimated 4.49 GB)" in torch_line
    assert "(`Dockerfile`, `requirements.txt`)" in torch_line
    assert "  - Evidence (record): torch 2.5.1 with 12 nvidia-\\*-cu12 wheels (`/usr/local/" in edits
    assert "  - Why: CUDA torch in a CPU-only service." in edits
    assert edits.index("DW101") < edits.index("DW302")  # biggest measured saving first
    worker = _section(text, "## worker")
    dropped = next(line for line in worker.splitlines() if line.startswith("- **DW301**"))
    assert "**dropped** (broke: imports)" in dropped and "libpq.so.5" in dropped
    assert worker.index("DW304") < worker.index("DW301")  # kept before dropped


def test_checks_table_has_rerun_commands_and_timing() -> None:
    text = results_markdown.render(sample_verify_report())
    checks = _section(_section(text, "## api"), "### Verification")
    assert "`docker run --rm deadweight-verify/api:after python -m pip check`" in checks
    assert "✅ pass" in checks and "➖ skipped" in checks
    assert "Checks took 8.5 s (8.9% of the after build)." in checks
    assert "3 extra builds" in _section(text, "## worker")


def test_failed_check_is_shown_with_its_output_and_not_verified() -> None:
    report = sample_verify_report()
    worker = report.services[0]
    failing = CheckResult(
        "imports",
        "import psycopg2",
        "fail",
        "ImportError: libpq.so.5",
        "docker run x",
        output="Traceback\n```\nImportError: libpq.so.5: cannot open shared object file\n",
    )
    report = replace(report, services=(replace(worker, checks=(*worker.checks, failing)), report.services[1]))
    text = results_markdown.render(report)
    assert "**Not verified**: 1 of 6 checks failed or could not run." in text
    assert "❌ fail" in text and "<summary>import psycopg2: output</summary>" in text
    out = text.split("```text\n", 1)[1].split("\n```\n", 1)[0]
    assert "ImportError: libpq.so.5" in out and "\n```\n" not in out  # a fence in the output cannot close ours


def test_fleet_table_and_totals() -> None:
    text = results_markdown.render(sample_verify_report())
    table = _section(text, "## Services")
    assert "| api | 5.61 GB | 1.12 GB | 4.49 GB | 80.0% | 3.36 GB → 420 MB | 2 kept | passed |" in table
    assert "| worker | 1.25 GB | 1.21 GB | 45.0 MB | 3.6% | 500 MB → 480 MB | 1 kept, 1 dropped | passed |" in table
    assert "| **Total** | **6.86 GB** | **2.33 GB** | **4.54 GB** | **66.1%** | 3.86 GB → 900 MB |" in table
    assert "| Shared layers once | 6.62 GB | 2.08 GB | 4.54 GB | 68.5% |" in table


def test_files_and_cost() -> None:
    text = results_markdown.render(sample_verify_report())
    files = _section(text, "## Files modified")
    assert "3 files, not written" in files and "- `worker/Dockerfile`" in files
    cost = _section(text, "## Cost savings")
    assert "About **\\$26.94 a month** (\\$323.23 a year)" in cost
    assert "| Registry storage (\\$0.10 per GB-month) | \\$0.39 | \\$0.09 | \\$0.30 |" in cost
    assert "| Transfer (\\$0.09 per GB × 100 pulls a month) | \\$34.74 | \\$8.10 | \\$26.64 |" in cost
    assert "| api |" in cost and "upper bound" in cost
    written = results_markdown.render(replace(sample_verify_report(), written=True))
    assert "The kept edits were written." in written and "3 files, written:" in written


def test_user_text_is_escaped() -> None:
    report = sample_verify_report()
    api = replace(api_verification(), service="api|admin", error=None)
    report = replace(report, services=(api, replace(report.services[0], error="build [failed](http://x)")))
    text = results_markdown.render(report)
    assert "| api\\|admin |" in text
    assert "build \\[failed\\](http://x)" in text


def test_a_multi_line_rerun_command_keeps_its_lines_in_a_fenced_block() -> None:
    report = sample_verify_report()
    api = api_verification()
    script = "import sys\nfor name in sys.argv[1:]:\n    __import__(name)\n"
    command = f"docker run --rm --entrypoint python img -c '{script}' torch fastapi"
    check = CheckResult("imports", "import 2 modules", "pass", "all 2 modules import", command)
    report = replace(report, services=(report.services[0], replace(api, checks=(*api.checks, check))))
    text = results_markdown.render(report)
    section = text[text.index("## api\n") : text.index("## worker\n")]
    assert "| imports | import 2 modules | ✅ pass | after | all 2 modules import | below |" in section
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert block == f"# import 2 modules\n{command}"  # the exact command, newlines and indentation kept
    assert "`docker run --rm deadweight-verify/api:after python -m pip check`" in section  # short: inline


def test_hint_full_stop_is_not_doubled() -> None:
    report = sample_verify_report()
    api = api_verification()
    edit = replace(api.edits[0], fix=replace(api.edits[0].fix, hint="Remove torch from requirements.txt:2."))
    report = replace(report, services=(report.services[0], replace(api, edits=(edit, *api.edits[1:]))))
    text = results_markdown.render(report)
    assert "requirements.txt:2. Saved **4.30 GB**" in text and ":2.." not in text
