"""``deadweight audit --format gitlab`` on the example fleet (static, offline, no engine): the report against
GitLab's documented code-quality format (the subset of Code Climate's issue it reads), every location a
repository file and line, one issue per finding, and fingerprints stable across runs and across a change
that moves the savings but not the finding."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

# https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format: "a JSON array of objects" with
# description, check_name, fingerprint, severity (info, minor, major, critical, blocker), location.path,
# location.lines.begin (or location.positions.begin.line)
CODE_QUALITY = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "pattern": r"^DW\d{3}$"},
            "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1, "not": {"pattern": r"^(/|\./|\.\./)"}},
                    "lines": {
                        "type": "object",
                        "required": ["begin"],
                        "properties": {"begin": {"type": "integer", "minimum": 1}},
                    },
                },
            },
        },
    },
}


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deadweight", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(REPO / "src")},
        timeout=300,
        check=False,
    )


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    """The examples as a repository checkout (the job's working directory, CI_PROJECT_DIR)."""
    repo = tmp_path / "project"
    shutil.copytree(EXAMPLES, repo / "services", ignore=shutil.ignore_patterns("tiny-image", "standin"))
    return repo


def report(env: dict[str, str], repo: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    proc = run(env, repo, "audit", "services", "--offline", "--format", "gitlab", "--fail-on", "none")
    doc = json.loads(run(env, repo, "audit", "services", "--offline", "--format", "json").stdout)
    assert proc.returncode in ((3,) if any(s["unresolved"] or s["error"] for s in doc["services"]) else (0,)), (
        proc.stderr
    )
    return json.loads(proc.stdout), doc


def test_the_report_is_gitlabs_format_with_repository_locations(examples_env: dict[str, str], checkout: Path) -> None:
    issues, doc = report(examples_env, checkout)
    jsonschema.validate(issues, CODE_QUALITY)
    findings = [f for s in doc["services"] for f in s["findings"]]
    assert len(issues) == len(findings) > 0
    assert sorted(i["check_name"] for i in issues) == sorted(f["rule"] for f in findings)
    assert len({i["fingerprint"] for i in issues}) == len(issues)  # GitLab tells issues apart by it
    for issue in issues:
        path = checkout / issue["location"]["path"]
        assert path.is_file(), issue["location"]  # a repository file, relative to the job's directory
        assert (
            issue["location"]["lines"]["begin"] <= len(path.read_text().splitlines())
            or issue["location"]["lines"]["begin"] == 1
        )
    torch = next(i for i in issues if i["check_name"] == "DW101")
    assert torch["severity"] == "critical" and "torch-cpu-api" in torch["description"]
    assert torch["location"]["path"].startswith("services/torch-cpu-api/")
    unused = [i for i in issues if i["check_name"] == "DW201"]
    assert {i["location"]["path"] for i in unused} == {"services/report-worker/requirements.txt"}
    assert {i["severity"] for i in unused} == {"major"}


def test_fingerprints_are_stable(examples_env: dict[str, str], checkout: Path, tmp_path: Path) -> None:
    first, _ = report(examples_env, checkout)
    again, _ = report(examples_env, checkout)
    assert again == first
    # the same fleet checked out elsewhere: the same fingerprints (paths are the repository's, not the runner's)
    elsewhere = tmp_path / "elsewhere" / "project"
    shutil.copytree(checkout, elsewhere)
    moved, _ = report(examples_env, elsewhere)
    assert [i["fingerprint"] for i in moved] == [i["fingerprint"] for i in first]
    # more build-context clutter: DW401 saves more, and is still the same issue
    (checkout / "services" / "legacy-api" / "notebooks" / "more.ipynb").write_text("{}" * 40_000)
    grown, _ = report(examples_env, checkout)
    before = next(i for i in first if i["check_name"] == "DW401")
    after = next(i for i in grown if i["check_name"] == "DW401")
    assert after["description"] != before["description"] and after["fingerprint"] == before["fingerprint"]
    assert {i["fingerprint"] for i in grown} == {i["fingerprint"] for i in first}
