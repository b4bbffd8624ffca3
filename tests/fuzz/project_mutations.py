"""Hostile project inputs: a small real service project (Dockerfile, requirements, pyproject, compose,
.dockerignore, code) with one file made hostile.

The project-side half of issue 15's generators, beside ``mutations`` (images). Shared by the CI fuzz test
(``test_fuzz_project_inputs.py``, hypothesis) and the long run (``bench/fuzz.py --family project``):
both hand a ``Draw`` to :func:`make_project_case`, which writes one project and returns the command to run.

Each family has a table of hostile contents seen on real or adversarial projects (deep nesting, wrong types,
absurd numbers, slow-path patterns, bad URLs, credentials, bytes that are not UTF-8, special files); a case
takes one entry, and sometimes also cuts or garbles the file's bytes. Every project plants a credential in an
index URL: it must never be printed back (redaction, issue 15).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.mutations import Draw

#: The credential planted in every case; no output may contain it.
SECRET = "s3cr3tTOKENfuzz"
SECRET_URL = f"https://fuzzuser:{SECRET}@pypi.internal.example/simple"

FAMILIES = ("requirements", "dockerfile", "compose", "pyproject", "dockerignore")
COMMANDS = ("audit", "fix", "guard")

BASE_FILES: dict[str, str] = {
    "Dockerfile": (
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
        "RUN pip install -r requirements.txt\nCOPY . .\nCMD [\"python\", \"-m\", \"app.main\"]\n"
    ),
    "requirements.txt": f"--extra-index-url {SECRET_URL}\nrequests==2.32.3\nnumpy\n",
    "pyproject.toml": '[project]\nname = "svc"\nversion = "0.1"\ndependencies = ["requests>=2"]\n',
    "docker-compose.yml": "services:\n  web:\n    build: .\n    mem_limit: 512m\n",
    ".dockerignore": ".git\n.venv\n",
    "app/__init__.py": "",
    "app/main.py": "import requests\nimport numpy\n\nprint(requests.__version__, numpy.__version__)\n",
}


def _nested(depth: int, open_: str, close: str, inner: str = "1") -> str:
    return open_ * depth + inner + close * depth


def _interpolation(depth: int) -> str:
    text = "x"
    for _ in range(depth):
        text = "${A:-" + text + "}"
    return text


def _requirements_cases() -> list[tuple[str, Callable[[Path], None]]]:
    def text(body: str | bytes) -> Callable[[Path], None]:
        def write(root: Path) -> None:
            data = body.encode() if isinstance(body, str) else body
            (root / "requirements.txt").write_bytes(data)

        return write

    def chain(depth: int) -> Callable[[Path], None]:
        def write(root: Path) -> None:
            for i in range(depth):
                (root / f"r{i}.txt").write_text(f"-r r{i + 1}.txt\npkg{i}==1.0\n")
            (root / f"r{depth}.txt").write_text("requests\n")
            (root / "requirements.txt").write_text("-r r0.txt\n")

        return write

    def include_special(kind: str) -> Callable[[Path], None]:
        def write(root: Path) -> None:
            _special(root / "extra.txt", kind)
            (root / "requirements.txt").write_text("-r extra.txt\nrequests\n")

        return write

    return [
        ("200,000 spaces", text(" " * 200_000 + "requests\n")),
        ("spaces then a hash", text("requests" + " " * 100_000 + "x#\n")),
        ("a bad IPv6 index URL", text("--index-url http://[::1\nrequests\n")),
        ("a 10 MB URL", text("--index-url https://h/" + "a" * 2_000_000 + "\nrequests\n")),
        ("credentials in the index URL", text(f"--index-url {SECRET_URL}\ntorch\n")),
        ("a query token", text(f"--index-url https://h/simple?token={SECRET}\nrequests\n")),
        ("a 5,000-digit version", text("requests==" + "9" * 5000 + "\n")),
        ("a 5,000-digit compatible release", text("requests~=" + "1." * 2500 + "0\n")),
        ("invalid UTF-8", text(b"requests\xff\xfe==1.0\n\x80numpy\n")),
        ("NUL bytes", text(b"requests\x00==1.0\nnumpy\x00\n")),
        ("ANSI escapes", text("\x1b[31mrequests\x1b[0m\n\x1b]0;title\x07numpy\n")),
        ("20,000 packages", text("".join(f"pkg{i}==1.{i}\n" for i in range(20_000)))),
        ("broken requirement syntax", text("pkg[\npkg @ \n;;;\n-e\n===\npkg==1.0;python_version<\n")),
        ("a trailing continuation", text("requests \\\n")),
        ("continuations 10,000 long", text("requests" + " \\\n" * 10_000 + "\n")),
        ("a direct URL with credentials", text(f"pkg @ https://u:{SECRET}@h/pkg-1.0.tar.gz\n")),
        ("-r chained 400 deep", chain(400)),
        ("-r itself", text("-r requirements.txt\nrequests\n")),
        ("-r a FIFO", include_special("fifo")),
        ("-r a directory", include_special("dir")),
        ("-r a link to /dev/zero", include_special("zero")),
        ("-r a link loop", include_special("loop")),
        ("-r a missing file", text("-r nowhere.txt\n")),
        ("-r outside the project", text("-r /etc/passwd\n")),
        ("-c constraints garbage", text("-c requirements.txt\n-c \x00\nrequests\n")),
        ("an option with no value", text("--index-url\n--find-links\n-i\nrequests\n")),
        ("hashes of absurd length", text("requests==2.0 --hash=sha256:" + "a" * 100_000 + "\n")),
    ]


def _dockerfile_cases() -> list[tuple[str, str | bytes]]:
    return [
        ("exec-form CMD nested 100,000 deep", "FROM python:3.11-slim\nCMD " + _nested(100_000, "[", "]") + "\n"),
        ("exec-form COPY nested deep", "FROM python:3.11-slim\nCOPY " + _nested(50_000, "[", "]", '"a"') + "\n"),
        ("an unterminated heredoc", "FROM python:3.11-slim\nRUN <<EOF\npip install torch\n"),
        ("500 nested ARG defaults", f"ARG A\nFROM python:3.11-slim\nRUN echo {_interpolation(500)}\n"),
        ("a base tag of 3.99999999999999999999999", "FROM python:3.99999999999999999999999\nRUN pip install x\n"),
        ("a base of 5,000 digits", "FROM python:3." + "9" * 5000 + "-slim\n"),
        ("a 300-character name", "FROM " + "a" * 300 + ":latest\nCOPY " + "b" * 300 + " /app\n"),
        ("10,000 RUN lines", "FROM python:3.11-slim\n" + "RUN pip install pkg\n" * 10_000),
        ("an index URL with credentials", f"FROM python:3.11-slim\nRUN pip install --index-url {SECRET_URL} torch\n"),
        ("ENV with credentials", f"FROM python:3.11-slim\nENV PIP_INDEX_URL={SECRET_URL}\nRUN pip install torch\n"),
        ("a COPY from a stage that is not there", "FROM python:3.11-slim\nCOPY --from=nowhere / /\n"),
        ("a stage FROM itself", "FROM a AS a\nFROM b AS b\nFROM a\nRUN pip install x\n"),
        ("an odd escape directive", "# escape=x\nFROM python:3.11-slim\nRUN pip install \\x\n  requests\n"),
        ("invalid UTF-8", b"FROM python:3.11-slim\nRUN pip install \xff\xfe requests\n"),
        ("NUL bytes", b"FROM python:3.11-slim\x00\nRUN pip\x00 install requests\n"),
        ("ANSI escapes", "FROM python:3.11-slim\nRUN pip install \x1b[2J\x1b[31mrequests\n"),
        ("no FROM", "RUN pip install torch\nCMD python\n"),
        ("empty", ""),
        ("ONBUILD ONBUILD", "FROM python:3.11-slim\nONBUILD ONBUILD RUN pip install x\n"),
        ("a 2 MB line", "FROM python:3.11-slim\nRUN pip install " + "x" * 2_000_000 + "\n"),
        ("shell control flow 2,000 deep", "FROM python:3.11-slim\nRUN " + "if true; then " * 2000 + "pip install x"
         + "; fi" * 2000 + "\n"),
        ("a CRLF file with a lone CR", "FROM python:3.11-slim\r\nRUN pip install requests\rnumpy\r\n"),
        ("a mount flag of garbage", "FROM python:3.11-slim\nRUN --mount=type=cache,,,=,target= pip install x\n"),
        ("a heredoc without a name", "FROM python:3.11-slim\nRUN <<\nx\n"),
    ]


def _compose_cases() -> list[tuple[str, str | bytes]]:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    return [
        ("flow nesting 5,000 deep", "services: " + _nested(5000, "[", "]") + "\n"),
        ("block nesting 3,000 deep", "services:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 3000))),
        ("a billion laughs", laughs + "services:\n  web:\n    build: .\n    command: *i\n"),
        ("services is a number", "services: 5\n"),
        ("a service is a number", "services:\n  web: 3\n"),
        ("build is a list", "services:\n  web:\n    build: [1, 2]\n"),
        ("mem_limit .inf", "services:\n  web:\n    build: .\n    mem_limit: .inf\n"),
        ("mem_limit .nan", "services:\n  web:\n    build: .\n    mem_limit: .nan\n"),
        ("memory 1e999", "services:\n  web:\n    build: .\n    deploy: {resources: {limits: {memory: 1e999}}}\n"),
        ("memory of 400 digits", "services:\n  web:\n    build: .\n    mem_limit: " + "9" * 400 + "\n"),
        ("capabilities: 3", "services:\n  web:\n    build: .\n    deploy: {resources: {reservations: "
         "{devices: [{capabilities: 3}]}}}\n"),
        ("interpolation 500 deep", "services:\n  web:\n    build: .\n    image: \"" + _interpolation(500) + "\"\n"),
        ("5,000 services on one context", "services:\n" + "".join(f"  s{i}:\n    build: .\n" for i in range(5000))),
        ("an env_file that is /dev/zero", "services:\n  web:\n    build: .\n    env_file: /dev/zero\n"),
        ("credentials in build args", f"services:\n  web:\n    build:\n      context: .\n      args:\n"
         f"        PIP_INDEX_URL: {SECRET_URL}\n"),
        ("a context outside the project", "services:\n  web:\n    build: /\n"),
        ("a 300-character dockerfile name", "services:\n  web:\n    build:\n      context: .\n      dockerfile: "
         + "d" * 300 + "\n"),
        ("invalid UTF-8", b"services:\n  web\xff:\n    build: .\n"),
        ("tabs and garbage", "services:\n\tweb:\n\t\tbuild: .\n"),
        ("a duplicate key", "services:\n  web:\n    build: .\n  web:\n    build: .\n"),
        ("extends itself", "services:\n  web:\n    build: .\n    extends: web\n"),
        ("a YAML tag", "services: !!python/object:os.system {}\n"),
    ]


def _pyproject_cases() -> list[tuple[str, str | bytes]]:
    return [
        ("arrays 10,000 deep", "[project]\nname = \"x\"\ndependencies = " + _nested(10_000, "[", "]") + "\n"),
        ("inline tables 10,000 deep", "[tool]\nx = " + _nested(10_000, "{a = ", "}") + "\n"),
        ("tool = 1", "tool = 1\n[project]\nname = \"x\"\n"),
        ("tool.deadweight = 5", "[tool]\ndeadweight = 5\n"),
        ("tool.deadweight is a list", "[tool]\ndeadweight = [1, 2]\n"),
        ("an unknown tool.deadweight key", "[tool.deadweight]\nno-such-key = 1\n"),
        ("pulls-per-month = inf", "[tool.deadweight]\npulls-per-month = inf\n"),
        ("tool.pytest = 5", "[tool]\npytest = 5\n"),
        ("Poetry extras are a number", "[tool.poetry]\nname = \"x\"\nextras = 3\n[tool.poetry.dependencies]\n"
         "python = \"^3.11\"\n"),
        ("a 5,000-digit caret", "[tool.poetry.dependencies]\nrequests = \"^" + "9" * 5000 + "\"\n"),
        ("dependencies is a string", "[project]\nname = \"x\"\ndependencies = \"requests\"\n"),
        ("dependencies of numbers", "[project]\nname = \"x\"\ndependencies = [5, true, 1.5]\n"),
        ("a uv index with credentials", f"[[tool.uv.index]]\nname = \"x\"\nurl = \"{SECRET_URL}\"\n"),
        ("a Poetry source with credentials", f"[[tool.poetry.source]]\nname = \"x\"\nurl = \"{SECRET_URL}\"\n"),
        ("invalid UTF-8", b"[project]\nname = \"x\xff\"\n"),
        ("not TOML", "[project\nname = \n"),
        ("dependency-groups include loop", "[dependency-groups]\na = [{include-group = \"b\"}]\n"
         "b = [{include-group = \"a\"}]\n"),
    ]


def _dockerignore_cases() -> list[tuple[str, Callable[[Path], None]]]:
    def patterns(body: str | bytes, long_names: bool = False) -> Callable[[Path], None]:
        def write(root: Path) -> None:
            data = body.encode() if isinstance(body, str) else body
            (root / ".dockerignore").write_bytes(data)
            if long_names:
                for i in range(20):
                    (root / ("a" * 200 + str(i))).write_text("x")

        return write

    return [
        ("a catastrophic star pattern", patterns("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab\n", long_names=True)),
        ("unbalanced brackets", patterns("[\n[a-\n[]\n]\n")),
        ("a lone bang", patterns("!\n!!\n!**\n")),
        ("stars upon stars", patterns("**/**/**/**/**/**/**/**/**/**/*\n", long_names=True)),
        ("100,000 patterns", patterns("".join(f"p{i}/*\n" for i in range(100_000)))),
        ("invalid UTF-8", patterns(b"\xff\xfe\n*.pyc\n")),
        ("a 1 MB pattern", patterns("a" * 1_000_000 + "\n")),
        ("a directory named .dockerignore", lambda root: ((root / ".dockerignore").unlink(),
                                                          (root / ".dockerignore").mkdir())[1]),
    ]


def _special(path: Path, kind: str) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "big":
        with path.open("wb") as handle:
            handle.truncate(64 << 20)  # sparse, past every project-file cap


@dataclass
class ProjectCase:
    family: str
    what: str
    command: str
    root: Path
    argv: list[str]
    steps: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.family}: {self.what} ({', '.join(self.steps) or 'as written'}) -> deadweight {self.command}"


def _garble(draw: Draw, data: bytes, steps: list[str]) -> bytes:
    how = draw.choice(("keep", "keep", "cut", "flip", "nul", "crlf"))
    if how == "keep" or not data:
        return data
    at = draw.integer(0, max(0, len(data) - 1))
    steps.append(f"{how} at {at}")
    if how == "cut":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    if how == "nul":
        return data[:at] + b"\x00" + data[at:]
    return data.replace(b"\n", b"\r\n")


def write_base(root: Path) -> None:
    for name, text in BASE_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_project_case(draw: Draw, workdir: str, *, family: str | None = None, command: str | None = None
                      ) -> ProjectCase:
    """One hostile project under ``workdir`` and the deadweight command line to run on it (offline)."""
    root = Path(workdir) / "project"
    root.mkdir()
    write_base(root)
    family = family or draw.choice(FAMILIES)
    command = command or draw.choice(COMMANDS)
    steps: list[str] = []
    file_names = {"requirements": "requirements.txt", "dockerfile": "Dockerfile", "compose": "docker-compose.yml",
                  "pyproject": "pyproject.toml", "dockerignore": ".dockerignore"}
    target = root / file_names[family]
    if family in ("requirements", "dockerignore"):
        table = _requirements_cases() if family == "requirements" else _dockerignore_cases()
        what, write = draw.choice(table)
        write(root)
    else:
        tables = {"dockerfile": _dockerfile_cases, "compose": _compose_cases, "pyproject": _pyproject_cases}
        what, body = draw.choice(tables[family]())
        target.write_bytes(body.encode() if isinstance(body, str) else body)
    if target.is_file() and not target.is_symlink():
        target.write_bytes(_garble(draw, target.read_bytes(), steps))
    if draw.integer(0, 9) == 0:
        kind = draw.choice(("fifo", "dir", "zero", "loop", "big"))
        _special(target, kind)
        steps.append(f"{target.name} made a {kind}")
    argv = {
        "audit": ["audit", str(root), "--offline", "--format", "json"],
        "fix": ["fix", str(root), "--offline"],
        "guard": ["guard", str(root), "--offline"],
    }[command]
    return ProjectCase(family, what, command, root, argv, steps)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` with its bytes (or what it is, for a non-regular file), to prove nothing changed."""
    seen: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                seen[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                seen[rel] = "dir"
            elif path.is_file() and path.stat().st_size < (8 << 20):
                seen[rel] = path.read_bytes()
            else:
                seen[rel] = f"special:{path.stat().st_mode:o}:{path.stat().st_size}"
    return seen
