from __future__ import annotations

import os
from pathlib import Path

from deadweight.model.usage import EvidenceKind
from deadweight.usage.scan import iter_project_files, scan_contents, scan_directory, scan_files


def _write(root: Path, name: str, data: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


def test_bad_files_become_warnings_and_the_rest_goes_on(tmp_path: Path) -> None:
    _write(tmp_path, "ok.py", "import requests\n")
    _write(tmp_path, "py2.py", "import ldap3\nprint 'hi'\n")
    _write(tmp_path, "junk.py", b"\x00\x01binary")
    _write(tmp_path, "latin.py", b"# -*- coding: utf-8 -*-\nx = '\xff'\n")
    _write(tmp_path, "big.py", "x = 1\n" * 20)
    (tmp_path / "loop").mkdir()
    os.symlink(tmp_path, tmp_path / "loop" / "back")
    result = scan_directory(tmp_path, max_bytes=100)
    messages = {w.path: w.message for w in result.warnings}
    assert "does not parse" in messages["py2.py"]
    assert "binary" in messages["junk.py"]
    assert "undecodable" in messages["latin.py"]
    assert "larger than" in messages["big.py"]
    assert any("symlink loop" in m for m in messages.values())
    targets = {e.target for e in result.evidence if e.kind is EvidenceKind.IMPORT}
    assert {"requests", "ldap3"} <= targets  # ldap3 from the regex fallback
    assert not result.complete


def test_data_files_do_not_make_scan_incomplete(tmp_path: Path) -> None:
    _write(tmp_path, "app.py", "import flask\n")
    _write(tmp_path, "data.bin", b"\x00" * 10)
    _write(tmp_path, "README.md", "import pandas\n")
    _write(tmp_path, "requirements.txt", "pandas\n")
    result = scan_directory(tmp_path)
    assert result.complete
    assert {e.target for e in result.evidence} == {"flask"}


def test_venv_and_git_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path, "env/pyvenv.cfg", "home = /usr\n")
    _write(tmp_path, "env/lib/x.py", "import numpy\n")
    _write(tmp_path, ".git/hooks/h.py", "import numpy\n")
    _write(tmp_path, "main.py", "import os\n")
    files, _ = iter_project_files(tmp_path)
    assert [f.name for f in files] == ["main.py"]


def test_dockerfile_compose_env_ini_toml(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "Dockerfile",
        "FROM python:3.11-slim\nENV DB=postgresql+asyncpg://x \\\n    A=1\n"
        'ENTRYPOINT ["gunicorn"]\nCMD ["-k", "gevent", "app:app"]\n',
    )
    _write(
        tmp_path,
        "compose.yaml",
        "services:\n  a:\n    command: celery -A proj worker -P eventlet\n"
        "    environment:\n      BROKER: amqp://r//\n  k:\n    deploy:\n      resources:\n        reservations:\n"
        "          devices:\n            - capabilities: [gpu]\n",
    )
    _write(tmp_path, ".env", "export CACHE=redis://c:6379\n")
    _write(tmp_path, "supervisord.conf", "[program:w]\ncommand=python -m dramatiq tasks\n")
    _write(
        tmp_path,
        "pyproject.toml",
        '[project]\ndependencies = ["scipy.stats"]\n[tool.pytest.ini_options]\naddopts = "-p xdist"\n',
    )
    _write(tmp_path, "logging.json", '{"handlers": {"h": {"class": "watchtower.CloudWatchLogHandler"}}}')
    result = scan_files(sorted(tmp_path.iterdir()), root=tmp_path)
    got = {(e.kind, e.target) for e in result.evidence}
    expected = {
        (EvidenceKind.DB_URL, "asyncpg"),
        (EvidenceKind.COMMAND, "gunicorn"),
        (EvidenceKind.COMMAND_ARG, "gevent"),
        (EvidenceKind.COMMAND, "celery"),
        (EvidenceKind.COMMAND_ARG, "eventlet"),
        (EvidenceKind.DB_URL, "kombu"),
        (EvidenceKind.DB_URL, "redis"),
        (EvidenceKind.PYTHON_M, "dramatiq"),
        (EvidenceKind.PYTEST_PLUGIN, "xdist"),
        (EvidenceKind.SETTING, "watchtower.CloudWatchLogHandler"),
        (EvidenceKind.DEVICE_GPU_OPTIONAL, ""),
    }
    assert expected <= got
    assert not [e for e in result.evidence if "scipy" in e.target]  # declarations are not evidence
    locs = {e.target: e.location for e in result.evidence}
    assert locs["asyncpg"] == "Dockerfile:2" and locs["dramatiq"] == "supervisord.conf:2"


def test_scan_contents_finds_what_scan_files_finds_without_a_disk(tmp_path: Path) -> None:
    contents = {
        "app/main.py": b"import alpha\nfrom beta import x\n",
        "bin/run": b"#!/usr/bin/env python3\nimport gamma\n",
        "start.sh": b"exec gunicorn app.main:app\n",
        "settings.toml": b'[tool.x]\nbackend = "delta.store"\n',
        "data.bin": b"\0\1\2",
        "broken.py": b"def (:\nimport epsilon\n",
    }
    for name, data in contents.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    on_disk = scan_files([tmp_path / name for name in contents], root=tmp_path,
                         known_modules={"delta"})
    in_memory = scan_contents(sorted(contents.items()), known_modules={"delta"})
    assert in_memory.evidence == on_disk.evidence
    assert in_memory.files_scanned == on_disk.files_scanned == 5
    assert not in_memory.complete  # broken.py does not parse
    targets = {e.target.split(".")[0] for e in in_memory.evidence if e.kind is EvidenceKind.IMPORT}
    assert {"alpha", "beta", "gamma", "epsilon"} <= targets


def test_scan_contents_skips_what_is_too_big_or_binary() -> None:
    result = scan_contents([("big.py", b"import alpha\n" * 100), ("blob.py", b"import a\0")], max_bytes=100)
    assert result.evidence and all(e.kind is EvidenceKind.SCAN_WARNING for e in result.evidence)
    assert {w.path for w in result.warnings} == {"big.py", "blob.py"} and not result.complete


def test_makefile_recipes_are_commands_targets_and_variables_are_not(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(
        "PY ?= python3\nserve: deps\n\t@gunicorn app:app\n\t-rq worker high\n# black: only a comment\n"
        "lint:\n\t# ruff is a comment in a recipe\n"
    )
    got = {(e.kind, e.target, e.location) for e in scan_directory(tmp_path).evidence}
    assert got == {
        (EvidenceKind.COMMAND, "gunicorn", "Makefile:3"),
        (EvidenceKind.APP_PATH, "app.app", "Makefile:3"),
        (EvidenceKind.COMMAND, "rq", "Makefile:4"),
    }


def test_dockerignore_and_ci_definitions_are_not_evidence(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("scripts/\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "once.py").write_text("import pandas\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    ci = "steps:\n  - run: pip install boto3 && python -m boto3\n"
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(ci)
    (tmp_path / ".gitlab-ci.yml").write_text("test:\n  script: python -m pytest\n")
    (tmp_path / "app.py").write_text("import flask\n")
    result = scan_directory(tmp_path)
    assert {(e.kind, e.target) for e in result.evidence} == {(EvidenceKind.IMPORT, "flask")}
    # without the .dockerignore the script counts: the exclusion, not the directory name, decides
    (tmp_path / ".dockerignore").unlink()
    assert (EvidenceKind.IMPORT, "pandas") in {(e.kind, e.target) for e in scan_directory(tmp_path).evidence}
