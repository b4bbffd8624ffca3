"""Arguments of known servers and workers that name code: a table of tools and their argument handlers.

Why: ``gunicorn -k uvicorn.workers.UvicornWorker app.main:app`` imports uvicorn's worker and the app
module although nothing in the project imports them; ``celery -b redis://...`` needs the redis client.
Each handler reads one tool's options (``-k X``, ``--opt=X``, ``-kX``) and positional app paths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deadweight.model.usage import Confidence, EvidenceKind, UsageEvidence
from deadweight.usage.strings import db_url_evidence, looks_like_code_path

# gunicorn -k short names -> modules they import.
GUNICORN_WORKERS: dict[str, tuple[str, ...]] = {
    "gevent": ("gevent",),
    "eventlet": ("eventlet",),
    "tornado": ("tornado",),
    "gthread": (),
    "sync": (),
    "uvicorn": ("uvicorn",),
}
_UVICORN_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "--loop": {"uvloop": ("uvloop",), "asyncio": (), "auto": ()},
    "--http": {"httptools": ("httptools",), "h11": ("h11",), "auto": ()},
    "--ws": {
        "websockets": ("websockets",),
        "websockets-sansio": ("websockets",),
        "wsproto": ("wsproto",),
        "auto": (),
        "none": (),
    },
}
_POOLS: dict[str, tuple[str, ...]] = {
    "gevent": ("gevent",),
    "eventlet": ("eventlet",),
    "threads": (),
    "solo": (),
    "prefork": (),
    "processes": (),
}

# Options that take a value, so that value is not read as the app path.
_GUNICORN_VALUE_OPTS = (
    "-c", "--config", "-b", "--bind", "-w", "--workers", "-k", "--worker-class", "-t", "--timeout", "--threads",
    "-e", "--env", "--log-level", "--access-logfile", "--error-logfile", "-u", "-g", "--chdir", "--pythonpath",
    "--log-config", "--keep-alive",
)  # fmt: skip
_ASGI_VALUE_OPTS = (
    "--host", "--port", "--loop", "--http", "--ws", "--workers", "-b", "--bind", "-p", "-w", "--log-level",
    "--env-file", "--log-config", "--root-path", "--app-dir", "-k", "--worker-class", "--interface",
    "--timeout-keep-alive", "--proxy-headers", "--forwarded-allow-ips",
)  # fmt: skip
_QUEUE_VALUE_OPTS = (
    "-p", "--processes", "-t", "--threads", "-w", "--workers", "-c", "--config", "--url", "-u", "--queues", "-Q",
)  # fmt: skip

_Handler = Callable[[str, list[str], str], list[UsageEvidence]]


def tool_arg_evidence(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    """Arguments that name code, for the servers and workers services are started with."""
    found: list[UsageEvidence] = []
    for handler in _HANDLERS.get(prog, ()):
        found.extend(handler(prog, args, loc))
    if prog not in _OWN_CLASS_OPTIONS:
        found.extend(_class_options(prog, args, loc))
    return found


def _code(
    value: str, detail: str, loc: str, kind: EvidenceKind = EvidenceKind.COMMAND_ARG, conf: Confidence = Confidence.HIGH
) -> list[UsageEvidence]:
    """Evidence that ``value`` (``pkg.mod:attr``) is used; none for a ``$VARIABLE`` the shell fills in."""
    if value.startswith("$"):
        return []
    return [UsageEvidence(kind, detail, loc, value.replace(":", ".").strip("."), conf)]


def _gunicorn(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    found: list[UsageEvidence] = []
    for value in _option_values(args, ["-k", "--worker-class"]):
        short = GUNICORN_WORKERS.get(value)
        for module in short if short is not None else (value,):
            found += _code(module, f"gunicorn worker class {value}", loc)
    for app in _positional(args, _GUNICORN_VALUE_OPTS):
        if ":" in app or "." in app:
            found += _code(app, f"gunicorn app {app}", loc, EvidenceKind.APP_PATH, Confidence.MEDIUM)
    return found


def _asgi_choices(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    """``--loop uvloop``, ``--http httptools``, ``--ws wsproto``: the modules each choice imports."""
    found: list[UsageEvidence] = []
    for opt, choices in _UVICORN_CHOICES.items():
        for value in _option_values(args, [opt]):
            for module in choices.get(value, (value,)):
                found += _code(module, f"{prog} {opt} {value}", loc)
    return found


def _hypercorn_workers(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    del prog
    found: list[UsageEvidence] = []
    for value in _option_values(args, ["-k", "--worker-class"]):
        if value in {"uvloop", "trio"}:
            found += _code(value, f"hypercorn worker class {value}", loc)
    return found


def _asgi_app(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    found: list[UsageEvidence] = []
    for app in _positional(args, _ASGI_VALUE_OPTS):
        if looks_like_code_path(app):
            found += _code(app, f"{prog} app {app}", loc, EvidenceKind.APP_PATH, Confidence.MEDIUM)
    return found


def _celery(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    del prog
    found: list[UsageEvidence] = []
    for value in _option_values(args, ["-A", "--app"]):
        found += _code(value, f"celery app {value}", loc, EvidenceKind.APP_PATH, Confidence.MEDIUM)
    for value in _option_values(args, ["-P", "--pool"]):
        for module in _POOLS.get(value, (value,)):
            found += _code(module, f"celery pool {value}", loc)
    for value in _option_values(args, ["-S", "--scheduler"]):
        found += _code(value, f"celery beat scheduler {value}", loc)
    path, _, line = loc.rpartition(":")
    for value in _option_values(args, ["-b", "--broker", "--result-backend"]):
        found.extend(db_url_evidence(value, path, int(line) if line.isdigit() else 0))
    return found


def _pytest(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    del prog
    found: list[UsageEvidence] = []
    for value in _option_values(args, ["-p"]):
        if not value.startswith("no:"):
            found += _code(value, f"pytest -p {value}", loc, EvidenceKind.PYTEST_PLUGIN)
    return found


def _task_queue(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    """dramatiq, huey, rq, arq, faust: the app module and worker/job/queue classes."""
    found: list[UsageEvidence] = []
    for app in _positional(args, _QUEUE_VALUE_OPTS):
        if looks_like_code_path(app) or (prog in {"dramatiq", "arq"} and app.isidentifier()):
            found += _code(app, f"{prog} app {app}", loc, EvidenceKind.APP_PATH, Confidence.MEDIUM)
    for value in _option_values(args, ["-w", "--worker-class", "--job-class", "--queue-class"]):
        if looks_like_code_path(value):
            found += _code(value, f"{prog} class {value}", loc)
    return found


def _class_options(prog: str, args: list[str], loc: str) -> list[UsageEvidence]:
    """Generic: ``--something-class=pkg.mod.Class`` (or with the value next) on any tool."""
    found: list[UsageEvidence] = []
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if not (name.startswith("--") and name.endswith("-class")):
            continue
        value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
        if looks_like_code_path(value):
            found += _code(value, f"{prog} {name} {value}", loc)
    return found


_ASGI = (_asgi_choices, _asgi_app)
_HANDLERS: dict[str, tuple[_Handler, ...]] = {
    "gunicorn": (_gunicorn,),
    "uvicorn": _ASGI,
    "hypercorn": (_asgi_choices, _hypercorn_workers, _asgi_app),
    "daphne": _ASGI,
    "granian": _ASGI,
    "waitress-serve": _ASGI,
    "celery": (_celery,),
    "pytest": (_pytest,),
    "py.test": (_pytest,),
    **dict.fromkeys(("dramatiq", "huey_consumer", "huey_consumer.py", "rq", "arq", "faust"), (_task_queue,)),
}
# Tools whose handlers read their own ``--*-class`` options (the generic reader would report them twice).
_OWN_CLASS_OPTIONS = frozenset({"gunicorn", "rq"})


def _option_values(args: list[str], names: Sequence[str]) -> list[str]:
    """Values of ``-k X``, ``--worker-class X`` and ``--worker-class=X`` style options."""
    values: list[str] = []
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                values.append(args[i + 1])
            elif name.startswith("--") and arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
            elif not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                values.append(arg[len(name) :])
    return values


def _positional(args: list[str], takes_value: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = arg in takes_value
            continue
        out.append(arg)
    return out
