"""Run inside an image (``python -c SRC JSON``): what is at each path, for structure tests' file checks.

Argument: ``{"paths": [...], "contents": [...]}``. Prints ``DW-FILES {path: {"exists", "mode" ("-rw-r--r--"),
"uid", "gid", "text"?}}``, ``text`` (the first MiB, decoded leniently) for the paths in ``contents``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from typing import Any


def describe(path: str, want_text: bool) -> dict[str, Any]:
    try:
        info = os.stat(path)
    except OSError:
        try:
            info = os.lstat(path)  # a dangling symlink exists as a link
        except OSError:
            return {"exists": False}
    row: dict[str, Any] = {"exists": True, "mode": stat.filemode(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}
    if want_text:
        try:
            with open(path, "rb") as handle:
                row["text"] = handle.read(1 << 20).decode("utf-8", "replace")
        except OSError as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
    return row


def main(argv: list[str]) -> None:
    args = json.loads(argv[0])
    contents = set(args.get("contents") or [])
    paths = list(dict.fromkeys(list(args.get("paths") or []) + sorted(contents)))
    print("DW-FILES " + json.dumps({p: describe(p, p in contents) for p in paths}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
