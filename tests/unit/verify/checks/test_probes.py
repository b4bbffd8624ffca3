"""The in-image probe scripts, run for real on the host's interpreter (they are stdlib-only by design)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deadweight.verify.checks.framework import parse_rows
from deadweight.verify.checks.imports import IMPORT_SCRIPT, parse_import_lines
from deadweight.verify.checks.pipcheck import parse_problems
from deadweight.verify.checks.probes import source
from deadweight.verify.checks.probes.http import parameterless_gets
from deadweight.verify.checks.probes.reqcheck import compare, marker_holds, problems
from deadweight.verify.checks.probes.tracehook import in_service, parent_of


def _python(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_the_import_script_reports_each_module_in_one_process() -> None:
    modules = ["json", "no_such_module_dw", "email.mime.text"]
    done = _python("-c", IMPORT_SCRIPT, *modules)
    outcomes = parse_import_lines(done.stdout, modules, exit_code=done.returncode)
    assert [(o.module, o.ok) for o in outcomes] == [
        ("json", True),
        ("no_such_module_dw", False),
        ("email.mime.text", True),
    ]
    assert outcomes[1].error == "ModuleNotFoundError: No module named 'no_such_module_dw'"


def test_a_crash_names_the_module_being_imported_and_those_not_reached(tmp_path: Path) -> None:
    (tmp_path / "crasher.py").write_text("import os\nos._exit(7)\n")
    modules = ["json", "crasher", "csv"]
    done = _python("-c", IMPORT_SCRIPT, *modules, env={"PYTHONPATH": str(tmp_path)})
    outcomes = parse_import_lines(done.stdout, modules, exit_code=done.returncode)
    assert outcomes[0].ok
    assert outcomes[1].error == "the interpreter exited 7 while importing it"
    assert outcomes[2].error == "not reached: the interpreter exited 7 before it"


def test_import_lines_ignore_what_modules_print() -> None:
    stdout = 'hello\nDW-IMPORT {not json\nDW-IMPORT-BEGIN a\nDW-IMPORT {"module": "a", "ok": true}\n'
    assert [o.ok for o in parse_import_lines(stdout, ["a"], exit_code=0)] == [True]
    assert parse_import_lines("", ["a"], exit_code=None)[0].error == (
        "not reached: the interpreter was killed (timeout) before it"
    )


def test_the_requirement_check_runs_on_the_stdlib_and_counts_distributions() -> None:
    done = _python("-c", source("reqcheck"), env={"PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("DW-REQ-DONE ")
    assert int(done.stdout.splitlines()[-1].split()[1]) > 0


@pytest.mark.parametrize(
    ("have", "op", "want", "held"),
    [
        ("2.31.0", ">=", "2.0", True),
        ("1.9", ">=", "2.0", False),
        ("2.0", "==", "2.0.0", True),
        ("2.1.3", "==", "2.1.*", True),
        ("2.2", "==", "2.1.*", False),
        ("1.4.2", "~=", "1.4", True),
        ("2.0", "~=", "1.4", False),
        ("1.0", "!=", "1.0", False),
        ("abc", "<", "1.0", True),
    ],
)
def test_version_comparison(have: str, op: str, want: str, held: bool) -> None:
    assert compare(have, op, want) is held


def test_markers_are_evaluated_for_the_interpreter() -> None:
    env = {"python_version": "3.11", "sys_platform": "linux", "extra": "", "platform_machine": "x86_64"}
    assert marker_holds('python_version >= "3.8" and sys_platform == "linux"', env)
    assert not marker_holds('python_version < "3.8" or sys_platform == "win32"', env)
    assert not marker_holds('extra == "socks"', env)
    assert marker_holds('(platform_machine == "x86_64" or platform_machine == "aarch64") and extra != "x"', env)
    assert marker_holds('"linux" in sys_platform', env)
    with pytest.raises(ValueError):
        marker_holds("python_version >=", env)


def test_unmet_requirements_are_worded_as_pip_check_words_them() -> None:
    installed = {"requests": "2.31.0", "urllib3": "1.26.0", "idna": "3.4"}
    requires = [
        (
            "requests",
            "2.31.0",
            [
                "urllib3>=2,<3",
                "idna (>=2.5)",
                "charset-normalizer<4,>=2",
                'win-inet-pton; sys_platform == "win32"',
                'PySocks!=1.5.7; extra == "socks"',
            ],
        )
    ]
    assert problems(installed, requires) == [
        "requests 2.31.0 has requirement urllib3>=2,<3, but you have urllib3 1.26.0.",
        "requests 2.31.0 requires charset-normalizer, which is not installed.",
    ]
    assert parse_problems("DW-REQ a 1 requires b, which is not installed.\nDW-REQ-DONE 3\n") == [
        "a 1 requires b, which is not installed."
    ]


def test_the_framework_probe_reports_a_missing_framework() -> None:
    done = _python("-c", source("framework"), "torch", env={"PYTHONPATH": ""})
    rows = parse_rows(done.stdout)
    if rows["torch"]["ok"]:  # pragma: no cover - only where torch is installed
        assert "version" in rows["torch"]
    else:
        assert rows["torch"]["error"].startswith("ModuleNotFoundError")


def test_the_trace_hook_records_imports_and_chains_to_the_images_own_sitecustomize(tmp_path: Path) -> None:
    hook, own, out = tmp_path / "hook", tmp_path / "own", tmp_path / "out"
    hook.mkdir()
    own.mkdir()
    (hook / "sitecustomize.py").write_text(source("tracehook"))
    (own / "sitecustomize.py").write_text("import os\nos.environ['OWN_SITE'] = 'ran'\n")
    script = "import os, time, decimal; time.sleep(0.7); print(os.environ.get('OWN_SITE'))"
    done = _python(
        "-c",
        script,
        env={"PYTHONPATH": f"{hook}:{own}", "DEADWEIGHT_TRACE_DIR": str(out), "DEADWEIGHT_TRACE_ALL": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ran"
    (trace,) = out.glob("*.txt")
    names = set(trace.read_text().splitlines())
    assert {"decimal", "json"} - names == {"json"}  # decimal imported, json never was
    assert "threading" in names


DOC = {"paths": {"/a": {"get": {}}, "/b": {"get": {}}, "/x/{id}": {"get": {}}, "/p": {"post": {}}}}


def test_the_trace_hook_keeps_to_the_services_own_processes() -> None:
    assert in_service(1)
    assert not in_service(0)
    if Path("/proc/self/stat").exists():
        assert parent_of(os.getpid()) == os.getppid()


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code, body = {"/openapi.json": (200, json.dumps(DOC)), "/a": (200, "{}"), "/b": (503, "")}.get(
            self.path, (404, "")
        )
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_http_probe_finds_the_document_and_gets_each_parameterless_path(api: int) -> None:
    done = _python("-c", source("http"), "openapi", json.dumps({"ports": [api], "paths": ["/gone"], "limit": 10}))
    line = next(x for x in done.stdout.splitlines() if x.startswith("DW-HTTP "))
    answer = json.loads(line.removeprefix("DW-HTTP "))
    assert answer == {"port": api, "document": "/openapi.json", "paths": {"/a": 200, "/b": 503, "/gone": 404}}
    ports = _python("-c", source("http"), "ports", json.dumps({"ports": [api, 1]}))
    opened = json.loads(ports.stdout.removeprefix("DW-HTTP "))
    assert opened["open"] == [api]
    if Path("/proc/net/tcp").exists():
        assert api in opened["listening"]


def test_parameterless_gets_leave_out_path_and_required_parameters() -> None:
    doc = {
        "paths": {
            "/ok": {"get": {"parameters": [{"name": "q", "in": "query"}]}},
            "/req": {"get": {"parameters": [{"name": "q", "in": "query", "required": True}]}},
            "/ref": {"get": {"parameters": [{"$ref": "#/components/parameters/q"}]}},
            "/shared": {"parameters": [{"name": "h", "in": "header", "required": True}], "get": {}},
            "/x/{id}": {"get": {}},
            "/post": {"post": {}},
        }
    }
    assert parameterless_gets(doc) == ["/ok"]
    assert parameterless_gets({"paths": []}) == []
