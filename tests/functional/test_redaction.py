"""No output format prints a credential (issue 15): a service whose RUN line and requirements file carry index
URLs with tokens is audited statically (the indexes are a closed local port, so the warnings quote the URLs),
and every format, and an error line, is checked for the secrets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deadweight.cli.main import main
from deadweight.redact import redact

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "secret_index"
SECRETS = ("s3cr3t", "tok3n", "qtok", "deploy:")


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "svc"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif"])
def test_audit_never_prints_the_index_credentials(
    project: Path, fmt: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / f"report.{fmt}"
    # the index (127.0.0.1:9) cannot be reached: nothing resolves, so the audit exits 3 (could not check)
    assert main(["audit", str(project), "--format", fmt, "--fail-on", "none", "-o", str(out_file)]) == 3
    assert main(["audit", str(project), "--format", fmt, "--fail-on", "none"]) == 3
    printed = capsys.readouterr()
    for text in (out_file.read_text(), printed.out, printed.err):
        for secret in SECRETS:
            assert secret not in text, (fmt, secret)
    # the warning that quoted the URL is still there, masked: the redaction hid the secret, not the message
    if fmt in ("text", "json"):
        assert "https://***@127.0.0.1:9/simple" in printed.out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif", "junit"])
def test_guard_never_prints_the_index_credentials(project: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["guard", str(project), "--format", fmt, "--allow-unchecked"])
    printed = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in printed.out + printed.err, (fmt, secret)


def test_an_error_line_never_prints_a_credential(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path), "--config", "https://ci:hunter2@config.example/cfg.toml"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert err.count("\n") == 1
    assert "***@config.example/cfg.toml" in err  # the path, as the config loader normalised it, masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--index-url https://user:pw@nexus.corp/simple", "--index-url https://***@nexus.corp/simple"),
        ("https://ghp_abc123@github.com/org/repo.git", "https://***@github.com/org/repo.git"),
        ("https://mirror/simple?token=abc&x=1", "https://mirror/simple?token=***&x=1"),
        ("https://s3/b?X-Amz-Signature=deadbeef", "https://s3/b?X-Amz-Signature=***"),
        ('{"url": "https://a:b@h/simple"}', '{"url": "https://***@h/simple"}'),
        ("no url here, user@example.com", "no url here, user@example.com"),
        ("https://pypi.org/simple/", "https://pypi.org/simple/"),
        ("https:/u:p@host/x (a path that lost a slash)", "https:/***@host/x (a path that lost a slash)"),
        ("image:/app/main.py:3", "image:/app/main.py:3"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
