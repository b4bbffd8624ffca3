#!/usr/bin/env python3
"""Time a cold and then repeated warm `deadweight audit` of the example fleet: the layer cache's payoff.

Usage: python bench/audit_cache_bench.py [--fleet examples/] [--runs 5] [--target 2.0] [--json RESULT.json]

The issue's acceptance: "A second audit of the same fleet reuses cached layer analysis: <= 2 s for the example
fleet". Each audit is the real CLI in its own process (`python -m deadweight audit FLEET --format json -o
FILE`), so interpreter start-up and imports count, as they do for a user. The layer cache lives in a fresh
temporary directory (`DEADWEIGHT_CACHE_DIR`): the first audit is cold (every image streamed from the engine
and scanned), the next `--runs` are warm (no layer read). `--torch-cpu-index` points at a closed local port by
default, so no run waits on the network; every run gets the same answer from it (unreachable).

Python's bytecode cache is on and private to the bench (`PYTHONPYCACHEPREFIX` in the temporary directory): the
cold run compiles the modules, as `pip install` does once, and the warm runs load them, whatever the calling
shell's `PYTHONDONTWRITEBYTECODE` or the state of the work tree's `__pycache__`.

Prints the cold time, each warm time (wall, and the child's CPU time, which other jobs on the machine disturb
less), the warm median and PASS/FAIL of the median against `--target` seconds. Every warm report must be
byte-identical to the cold one, or the bench fails: a cache that changes results is not a speed-up.

Needs the example images in the local engine (`deadweight-example/*:latest`; see examples/README.md). Exit
status: 0 PASS, 1 FAIL (slower than the target, or a warm report differs), 2 the audit itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from childproc import measure

ROOT = Path(__file__).resolve().parent.parent
#: Exit codes of `deadweight audit` that mean it ran: 0 nothing to fail on, 1 findings at the fail level.
AUDIT_RAN = (0, 1)


@dataclass
class Run:
    wall_s: float
    cpu_s: float  # user + system of the audit process
    exit_code: int


def audit(fleet: str, output: Path, *, index: str, tmp: Path) -> Run:
    """One audit as its own process; wall and CPU time of exactly that child (os.wait4)."""
    cmd = [sys.executable, "-m", "deadweight", "audit", fleet, "--format", "json", "-o", str(output),
           "--torch-cpu-index", index]
    env = {**os.environ, "DEADWEIGHT_CACHE_DIR": str(tmp / "cache"), "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    run = measure(cmd, cwd=ROOT, env=env)
    if run.exit_code not in AUDIT_RAN:
        sys.stderr.write(run.stderr.decode(errors="replace"))
        raise SystemExit(f"audit_cache_bench: `{' '.join(cmd)}` exited {run.exit_code}; are the example images built?")
    return Run(run.wall_s, run.cpu_s, run.exit_code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", default="examples/", help="compose project to audit (default: examples/)")
    parser.add_argument("--runs", type=int, default=5, help="warm audits after the cold one (default: 5)")
    parser.add_argument("--target", type=float, default=2.0, help="warm median must be at most this (seconds)")
    parser.add_argument("--torch-cpu-index", default="http://127.0.0.1:9/",
                        help="CPU torch index handed to the audit (default: a closed local port)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with tempfile.TemporaryDirectory(prefix="dw-audit-bench-") as tmp:
        cache_dir = Path(tmp) / "cache"
        cold_report = Path(tmp) / "cold.json"

        def run_audit(report: Path) -> Run:
            return audit(args.fleet, report, index=args.torch_cpu_index, tmp=Path(tmp))

        cold = run_audit(cold_report)
        print(f"cold  {cold.wall_s:6.2f} s wall  {cold.cpu_s:6.2f} s cpu  (exit {cold.exit_code}, cache filled)")
        warm: list[Run] = []
        differing = 0
        for i in range(args.runs):
            report = Path(tmp) / f"warm{i}.json"
            run = run_audit(report)
            same = report.read_bytes() == cold_report.read_bytes()
            differing += not same
            warm.append(run)
            note = "" if same else "  REPORT DIFFERS FROM THE COLD ONE"
            print(f"warm  {run.wall_s:6.2f} s wall  {run.cpu_s:6.2f} s cpu{note}")
        cache_bytes = sum(f.stat().st_size for f in cache_dir.rglob("*") if f.is_file())

    median = statistics.median(r.wall_s for r in warm)
    passed = median <= args.target and not differing
    print(f"warm median {median:.2f} s wall ({statistics.median(r.cpu_s for r in warm):.2f} s cpu) over "
          f"{len(warm)} runs, min {min(r.wall_s for r in warm):.2f} s; cache {cache_bytes / 1e6:.1f} MB")
    verdict = "PASS" if passed else "FAIL"
    why = f"median {median:.2f} s {'<=' if median <= args.target else '>'} {args.target:.2f} s"
    if differing:
        why += f"; {differing} warm report(s) differ from the cold one"
    print(f"{verdict}: {why}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "fleet": args.fleet,
            "cold": asdict(cold),
            "warm": [asdict(r) for r in warm],
            "warm_median_s": median,
            "target_s": args.target,
            "reports_identical": not differing,
            "cache_bytes": cache_bytes,
            "pass": passed,
        }, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
