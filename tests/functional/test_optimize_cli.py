"""deadweight optimize through the CLI without a Docker engine: bad usage is exit 2 and no engine exit 3, each one
line and before any work; the exit codes of a finished run; and the wiring of a run (progress lines on a
non-terminal stderr, --report, --format, -o) with the pipeline's verification replaced by a hand-built report,
since the real one needs an engine (tests/e2e covers that)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.unit.reports.results_sample import sample_verify_report

import deadweight.pipeline.optimize as pipeline_optimize
from deadweight.cli.main import main
from deadweight.cli.optimize import exit_code
from deadweight.model.verification import CheckResult, VerifyReport
from deadweight.reports import results_json

DOCKERFILE = 'FROM python:3.11-slim\nCOPY app.py .\nCMD ["python", "app.py"]\n'


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def service(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (root / "app.py").write_text("print('hi')\n", encoding="utf-8")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["optimize", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_engine_is_one_line_exit_3(capsys: pytest.CaptureFixture[str], service: Path) -> None:
    before = sorted(p.name for p in service.iterdir())
    code, out, err = run(capsys, str(service), "--write")
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("deadweight: error: ") and "Docker engine" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in service.iterdir()) == before  # nothing written, nothing created


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "yaml"], "Invalid value for '--format'"),
        (["--platform", "linux/arm64"], "--platform: optimize builds its images in the local engine"),
        (["--report", "/nonexistent/dir/report.md"], "--report /nonexistent/dir/report.md: no such directory"),
        (["--output", "."], "--output .: is a directory"),
        (["--image", "nosuch=img:1", "--image", "other=img:2"], "--image"),
    ],
)
def test_bad_usage_is_exit_2_before_the_engine(
    capsys: pytest.CaptureFixture[str], service: Path, args: list[str], message: str
) -> None:
    code, out, err = run(capsys, str(service), *args)
    assert code == 2, err
    assert out == "" and message in err
    assert "Docker engine" not in err  # refused before any work


def test_missing_path_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope"))
    assert code == 2 and "no such file or directory" in err


def test_exit_codes_of_a_finished_run() -> None:
    report = sample_verify_report()
    assert exit_code(report) == 1  # worker's DW301 edit was dropped; the rest passed (as verify says it)
    worker, api = report.services
    clean = replace(report, services=(replace(worker, edits=worker.edits[:1]), api))
    assert exit_code(clean) == 0
    failing = CheckResult("imports", "import x", "fail", "ModuleNotFoundError: x")
    assert exit_code(replace(clean, services=(replace(worker, edits=worker.edits[:1], checks=(failing,)), api))) == 4
    could_not = CheckResult("start", "starts", "error", "timed out")
    assert exit_code(replace(clean, services=(api, replace(worker, edits=(), checks=(could_not,))))) == 4
    assert exit_code(replace(clean, services=(api, replace(worker, error="build failed")))) == 3
    bad_ref = replace(clean.audit.services[0], error="--image a b: bad reference", error_kind="usage")
    usage = replace(clean, audit=replace(clean.audit, services=(bad_ref, clean.audit.services[1])))
    assert exit_code(usage) == 2


def _fake_optimize(report: VerifyReport, calls: list[dict[str, Any]]) -> Callable[..., VerifyReport]:
    def fake(path: str, **kwargs: Any) -> VerifyReport:
        calls.append({"path": path, **kwargs})
        progress = kwargs["progress"]
        if progress is not None:
            progress("api", "building the after image")
            progress("api", "checking: imports")
        return report

    return fake


def test_a_run_writes_report_json_and_progress_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, service: Path, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(pipeline_optimize, "optimize", _fake_optimize(sample_verify_report(), calls))
    md, out_json = tmp_path / "results.md", tmp_path / "results.json"
    code, out, err = run(
        capsys,
        str(service),
        "--write",
        "--network",
        "host",
        "--check",
        "imports",
        "--report",
        str(md),
        "--format",
        "json",
        "-o",
        str(out_json),
        "--image",
        "app:1",
    )
    assert code == 1 and out == ""
    assert calls[0]["write"] is True and calls[0]["network"] == "host" and tuple(calls[0]["checks"]) == ("imports",)
    assert calls[0]["images"] == {"svc": "app:1"}
    # stderr is not a terminal here: plain progress lines, one per step
    assert [line.split("] ", 1)[1] for line in err.splitlines()] == [
        "api: building the after image",
        "api: checking: imports",
    ]
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(results_json.load_schema()).validate(doc)
    assert doc["summary"]["saved_bytes"] == 4_535_000_000
    assert md.read_text(encoding="utf-8").startswith("# deadweight optimize: `/srv/fleet`\n")


def test_quiet_and_text_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, service: Path
) -> None:
    report = sample_verify_report()
    worker, api = report.services
    clean = replace(report, services=(replace(worker, edits=worker.edits[:1]), api))
    monkeypatch.setattr(pipeline_optimize, "optimize", _fake_optimize(clean, []))
    code, out, err = run(capsys, str(service), "-q")
    assert code == 0 and err == ""
    assert out.startswith("deadweight optimize: /srv/fleet\n") and "6.86 GB → 2.33 GB (66.1% smaller)" in out
    code, out, _ = run(capsys, str(service), "-q", "--format", "markdown")
    assert code == 0 and "## Cost savings" in out


def test_every_option_exit_code_and_json_field_is_documented() -> None:
    from deadweight.cli.optimize import optimize_command

    docs = Path(__file__).resolve().parents[2] / "docs"
    guide, cli, json_doc = ((docs / name).read_text(encoding="utf-8") for name in ("optimize.md", "cli.md", "json.md"))
    start = cli.index("## `deadweight optimize [PATH]`")
    cli_section = cli[start : cli.index("\n## ", start + 1)]
    options = [opt for param in optimize_command.params for opt in getattr(param, "opts", []) if opt.startswith("--")]
    assert "--report" in options and "--write" in options
    for opt in options:
        assert f"`{opt}" in guide, opt
        assert f"`{opt}" in cli_section, opt
    for code in (0, 1, 2, 3, 4):
        assert f"| {code} |" in guide, code
    section = json_doc[json_doc.index("## `deadweight optimize --format json`") :]
    schema = results_json.load_schema()
    defs = schema["$defs"]
    fields = {
        *schema["properties"],
        *schema["properties"]["summary"]["properties"],
        *defs["edit"]["properties"],
        *defs["check"]["properties"],
        *defs["service"]["properties"],
        *defs["image"]["properties"],
    }
    for field in sorted(fields):
        assert re.search(rf"[`.\"]{re.escape(field)}[`\[\"]", section), field


def test_no_check_ran_is_exit_4_and_not_verified() -> None:
    report = sample_verify_report()
    worker, api = report.services
    skipped_only = replace(api, checks=tuple(c for c in api.checks if c.status == "skip"))
    report = replace(report, services=(replace(worker, edits=worker.edits[:1]), skipped_only))
    assert report.passed and exit_code(report) == 4
    doc = json.loads(results_json.render(report))
    assert doc["passed"] is True and doc["verified"] is False
