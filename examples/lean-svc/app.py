"""A lean status service: the standard library's HTTP server, orjson for fast responses."""

import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

STARTED = time.time()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = orjson.dumps({"status": "ok", "path": self.path, "uptime_s": round(time.time() - STARTED, 3)})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
