#!/usr/bin/env python3
"""The long hostile-input run for image inputs (issue 15): many generated cases, one subprocess each.

Usage: python bench/fuzz.py [--family image|project] [--cases 1000] [--seed 15] [--timeout 60] [--show 5]

``--family project`` runs hostile projects instead (tests/fuzz/project_mutations.py: requirements, Dockerfile,
compose, pyproject and .dockerignore made hostile, through `audit`, `fix` and `guard` offline), and also
counts a planted credential printed back and a project file changed without --write.

Each case is a real small image from tests/imagebuilder.py broken one way (tests/fuzz/mutations.py: a JSON
document, a layer, the outer archive or a file turned special; docker-archive legacy and OCI form, OCI layout
directory and tar; plain, gzip and zstd layers), inspected by `python -m deadweight inspect` in its own process
with a timeout. The peak RSS of each child is its own ru_maxrss, from os.wait4. Prints the counts: cases,
tracebacks, wrong exit codes, multi-line errors, timeouts, peak RSS, and the first few failing cases.
Exit status 0 even when something failed: this measures, bench/README.md records.
"""

from __future__ import annotations

import argparse
import collections
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.mutations import RandomDraw, make_case
from tests.fuzz.project_mutations import SECRET, make_project_case, snapshot
from tests.fuzz.runner import ALLOWED_CODES, run_subprocess

#: Exit codes per command (docs/exit-codes.md): inspect 0/2/3; audit and guard also 1; fix also 4.
PROJECT_CODES = {"audit": frozenset({0, 1, 2, 3}), "guard": frozenset({0, 1, 2, 3}), "fix": frozenset({0, 1, 2, 3, 4})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=("image", "project"), default="image")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--show", type=int, default=5, help="failing cases to print")
    args = parser.parse_args()

    counts = collections.Counter[str]()
    codes = collections.Counter[int | None]()
    peak_rss = 0
    peak_case = ""
    shown = 0
    start = time.monotonic()
    for i in range(args.cases):
        workdir = tempfile.mkdtemp(prefix="dw-fuzz-")
        try:
            draw = RandomDraw(random.Random(args.seed * 1_000_003 + i))
            try:
                case = make_project_case(draw, workdir) if args.family == "project" else make_case(draw, workdir)
            except Exception as exc:  # a bug of the generator, not of deadweight: counted, not fatal
                counts["generator errors"] += 1
                print(f"generator error #{i}: {exc!r}"[:300], flush=True)
                continue
            before = snapshot(case.root) if args.family == "project" else None  # type: ignore[union-attr]
            outcome = run_subprocess(case.argv, timeout=args.timeout)
            allowed = PROJECT_CODES[case.command] if args.family == "project" else ALLOWED_CODES  # type: ignore[union-attr]
            leaked = SECRET in outcome.stderr
            changed = before is not None and snapshot(case.root) != before  # type: ignore[union-attr]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        counts["cases"] += 1
        codes[outcome.code] += 1
        failed = False
        if outcome.timed_out:
            counts["timeouts"] += 1
            failed = True
        if "Traceback" in outcome.stderr:
            counts["tracebacks"] += 1
            failed = True
        if leaked:
            counts["credentials printed"] += 1
            failed = True
        if changed:
            counts["files changed"] += 1
            failed = True
        if outcome.code is not None and outcome.code not in allowed:
            counts["wrong exit codes"] += 1
            failed = True
        if outcome.code and not (args.family == "project" and outcome.code in (1, 3, 4)) \
                and len(outcome.stderr.splitlines()) != 1:
            counts["multi-line errors"] += 1
            failed = True
        if outcome.max_rss_kb and outcome.max_rss_kb > peak_rss:
            peak_rss, peak_case = outcome.max_rss_kb, case.describe()
        if outcome.max_rss_kb and outcome.max_rss_kb > 500 * 1024:
            counts["over 500 MB"] += 1
            failed = True
        if failed and shown < args.show:
            shown += 1
            print(f"FAIL #{i}: {case.describe()}\n  {outcome.problems()[:1]}", flush=True)
        if (i + 1) % 100 == 0:
            print(f"... {i + 1} cases, {time.monotonic() - start:.0f} s", flush=True)
    print(f"cases              {counts['cases']}")
    for key in ("generator errors", "tracebacks", "wrong exit codes", "multi-line errors", "timeouts", "over 500 MB",
                "credentials printed", "files changed"):
        print(f"{key:<18} {counts[key]}")
    print(f"peak RSS           {peak_rss / 1024:.0f} MB ({peak_case[:160]})")
    print(f"exit codes         {dict(sorted(codes.items(), key=lambda kv: str(kv[0])))}")
    print(f"wall               {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
