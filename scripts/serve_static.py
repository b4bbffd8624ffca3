#!/usr/bin/env python3
"""Serve a directory over HTTP on loopback with Range support (``python -m http.server`` has none).

Used by the lab to serve a PEP 503 index of the CPU torch wheel, and by tests to serve indexes and wheels:
deadweight sizes wheels from their zip central directory with range requests, as it does against PyPI.
Usage: serve_static.py DIR [PORT]   (PORT 0 = any free port; the chosen port is printed on stdout)
"""

from __future__ import annotations

import http.server
import os
import re
import sys
import threading
from functools import partial


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single ``bytes=a-b`` / ``bytes=-n`` ranges; quiet logs."""

    def log_message(self, format: str, *args: object) -> None:
        return

    def send_head(self):  # type: ignore[no-untyped-def]
        range_header = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not range_header or os.path.isdir(path) or not os.path.isfile(path):
            return super().send_head()
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
        size = os.path.getsize(path)
        if not match or (not match.group(1) and not match.group(2)):
            return super().send_head()
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        else:
            start, end = max(0, size - int(match.group(2))), size - 1
        if start > end or start >= size:
            self.send_error(416)
            return None
        handle = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return _Limited(handle, end - start + 1)

    def end_headers(self) -> None:
        if not self.headers.get("Range"):
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()


class _Limited:
    def __init__(self, handle, limit: int) -> None:  # type: ignore[no-untyped-def]
        self._handle = handle
        self._left = limit

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n < 0 else min(n, self._left)
        data = self._handle.read(n)
        self._left -= len(data)
        return bytes(data)

    def close(self) -> None:
        self._handle.close()


def start(directory: str, port: int = 0) -> http.server.ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (``server.server_address[1]`` is the port)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(RangeHandler, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(RangeHandler, directory=sys.argv[1]))
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
