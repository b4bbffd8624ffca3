"""Copied as ``sitecustomize.py`` into the import-trace check's container only (never into an image): records
the modules every Python process of the service really imports.

Each process of the service (the container's first process and its descendants, forked gunicorn workers
included; not what ``docker exec`` runs beside it, such as healthchecks) rewrites
``$DEADWEIGHT_TRACE_DIR/<pid>.txt`` with the names in ``sys.modules`` every half second and at exit, so a
service killed at the end of the check has left its trace. Then the image's own ``sitecustomize``, if it has
one, is imported as it would have been.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time

_OUT = os.environ.get("DEADWEIGHT_TRACE_DIR", "")


def parent_of(pid: int) -> int:
    """The parent pid of ``pid`` per /proc (0 when unknown or outside this pid namespace)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def in_service(pid: int) -> bool:
    """Whether ``pid`` is the container's first process or descends from it: the service, not a process
    ``docker exec`` started beside it (a healthcheck, deadweight's own probes), whose parent is outside."""
    for _ in range(64):
        if pid == 1:
            return True
        if pid <= 0:
            return False
        pid = parent_of(pid)
    return False


def dump() -> None:
    try:
        names = sorted(name for name, module in list(sys.modules.items()) if module is not None)
        path = os.path.join(_OUT, f"{os.getpid()}.txt")
        with open(path + ".tmp", "w") as handle:
            handle.write("\n".join(names))
        os.replace(path + ".tmp", path)
    except Exception:
        pass


def _loop() -> None:
    while True:
        dump()
        time.sleep(0.5)


def start() -> None:
    threading.Thread(target=_loop, name="deadweight-trace", daemon=True).start()


def _chain() -> None:
    """Import the image's own ``sitecustomize`` (the next one on sys.path), as Python would have."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    mine = sys.modules.pop("sitecustomize", None)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        __import__("sitecustomize")
    except ImportError:
        if mine is not None:
            sys.modules["sitecustomize"] = mine
    finally:
        sys.path[:] = saved


if _OUT and (os.environ.get("DEADWEIGHT_TRACE_ALL") or in_service(os.getpid())):
    try:
        os.makedirs(_OUT, exist_ok=True)
        start()
        atexit.register(dump)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=start)
    except Exception:
        pass
    _chain()
