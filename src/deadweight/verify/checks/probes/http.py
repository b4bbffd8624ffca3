"""Run inside the service's container (``docker exec ... python -c SRC MODE JSON``): is the port open, and
what does the service's OpenAPI document promise and answer.

The container runs with network none, so only a process inside it can reach the service. Modes:

- ``ports {"ports": [..]}``: ``DW-HTTP {"open": [ports that accept a TCP connection], "listening": [ports in
  LISTEN state per /proc/net/tcp{,6}]}``;
- ``openapi {"ports": [..], "paths": [..], "limit": N}``: find the document at ``/openapi.json``,
  ``/swagger.json`` or ``/api/openapi.json`` on the first port that has one, then GET every parameterless GET
  path it lists (no ``{`` in the path, no required parameter) plus the ``paths`` given (the before image's),
  at most ``limit``; prints ``DW-HTTP {"port", "document", "paths": {path: status or "error: ..."}}``.

Every request has a short timeout, and the whole probe a deadline.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any

DOCUMENTS = ("/openapi.json", "/swagger.json", "/api/openapi.json")
REQUEST_TIMEOUT = 5.0
DEADLINE = 60.0


def listening() -> list[int]:
    """TCP ports in LISTEN state, from /proc/net/tcp and tcp6 (the kernel's view of this container)."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def is_open(port: int) -> bool:
    for host in ("127.0.0.1", "::1"):
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            continue
    return False


def get(port: int, path: str) -> tuple[int | str, bytes]:
    """(status code or ``"error: ..."``, body head) of ``GET path`` on the local port."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return int(response.status), response.read(8 << 20)
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:200], b""


def parameterless_gets(document: dict[str, Any]) -> list[str]:
    """GET paths of an OpenAPI/Swagger document that take no path parameter and no required parameter."""
    found: list[str] = []
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return found
    for path, item in paths.items():
        if not isinstance(path, str) or "{" in path or not isinstance(item, dict):
            continue
        operation = item.get("get")
        if not isinstance(operation, dict):
            continue
        params = list(item.get("parameters") or []) + list(operation.get("parameters") or [])
        if any(isinstance(p, dict) and (p.get("required") or "$ref" in p) for p in params):
            continue
        body = operation.get("requestBody")
        if isinstance(body, dict) and body.get("required"):
            continue
        found.append(path)
    return sorted(found)


def openapi(ports: list[int], extra: list[str], limit: int) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    for port in ports:
        for doc_path in DOCUMENTS:
            status, body = get(port, doc_path)
            if status != 200:
                continue
            try:
                document = json.loads(body)
            except ValueError:
                continue
            if not isinstance(document, dict) or "paths" not in document:
                continue
            wanted = sorted(set(parameterless_gets(document)) | set(extra))[:limit]
            answers: dict[str, int | str] = {}
            for path in wanted:
                if time.monotonic() > deadline:
                    answers[path] = "error: not probed (the probe's deadline passed)"
                    continue
                answers[path] = get(port, path)[0]
            return {"port": port, "document": doc_path, "paths": answers}
    return {"port": None, "document": None, "paths": {}}


def main(argv: list[str]) -> None:
    mode = argv[0]
    args = json.loads(argv[1]) if len(argv) > 1 else {}
    ports = [int(p) for p in args.get("ports") or []]
    if mode == "ports":
        live = listening()
        print("DW-HTTP " + json.dumps({"open": [p for p in ports if is_open(p)], "listening": live}), flush=True)
    elif mode == "openapi":
        candidates = ports + [p for p in listening() if p not in ports]
        result = openapi(candidates, [str(p) for p in args.get("paths") or []], int(args.get("limit") or 50))
        print("DW-HTTP " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
