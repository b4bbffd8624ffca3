#!/usr/bin/env python3
"""Hold `deadweight optimize` to a hand-optimized Dockerfile on the real CUDA torch service.

Usage: python bench/optimize_bench.py [--json RESULT.json] [--keep] [--rebuild-before]

The issue's target: on the real CUDA torch example (the bench image: examples/torch-cpu-api with PyPI's torch
2.5.1, its nvidia-*-cu12 wheels and triton, about 5.6 GB), `optimize` brings it to within 5% of a hand-optimized
Dockerfile of the same service (bench/reference/Dockerfile), and prints before/after size, build times and the
verification time, which must be at most 15% of the after build.

1. The before image is `deadweight-bench/torch-cuda:2.5.1`, as bench/build_cuda_image.sh builds it (torch held
   at 2.5.1 by the lab's constraints file, every wheel from PyPI: ~3 GB of downloads). If the engine lacks it,
   it is built here and its cold build is timed; `--rebuild-before` rebuilds it without cache to time it again.
2. `deadweight optimize COPY --image docker:<before> --torch-cpu-index <lab CPU index> --network host --write
   --format json --report results.md` runs on a copy of examples/torch-cpu-api (the real CLI, its own process):
   it audits, fixes, builds the after image cold and warm, checks it and writes the passing edits to the copy.
3. The reference (bench/reference/Dockerfile in another copy of the service) is built without cache, then again
   unchanged, with the same CPU torch index; its size is read by deadweight's own reader (`deadweight inspect`),
   as optimize reads the after image, so the two sizes compare like with like.

Prints the figures and PASS/FAIL per target. Exit status: 0 every target met, 1 a target missed, 2 a step failed.
Needs the lab (`scripts/lab up`: engine, python:3.11-slim, the CPU torch index) and PyPI from containers.
Image tags it creates start with `dw-voptimize-bench-`; `--keep` keeps them (and the copies) for a look.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "examples" / "torch-cpu-api"
REFERENCE = Path(__file__).resolve().parent / "reference" / "Dockerfile"
BEFORE_TAG = "deadweight-bench/torch-cuda:2.5.1"
REFERENCE_TAG = "dw-voptimize-bench-reference:latest"
OUT = Path(__file__).resolve().parent / "out"  # git-ignored: the run's JSON and Markdown reports
WITHIN = 0.05  # after <= reference * (1 + WITHIN)
VERIFY_SHARE = 0.15  # verification time <= this share of the after build (cold)
EXPECTED_BEFORE = (5.0e9, 6.2e9)  # "about 5.6 GB": a sanity bound, so a wrong before image is noticed


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def lab_env() -> dict[str, str]:
    """The lab's variables (``scripts/lab env``), merged over this process's environment."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "lab"), "env"], check=True, capture_output=True,
                         text=True).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            env[key] = value.strip().strip("'\"")
    return env


def docker(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=timeout)


def timed_build(context: Path, tag: str, *, build_args: dict[str, str], no_cache: bool) -> float:
    """``docker build`` (classic builder, host network so pip reaches the lab's index) and its wall seconds."""
    cmd = ["docker", "build", "--network", "host", "-t", tag, "-q"]
    if no_cache:
        cmd.append("--no-cache")
    for key, value in build_args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, str(context)], check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench: docker build of {tag} failed:\n{proc.stderr[-4000:]}")
    return wall


def deadweight(*args: str, env: dict[str, str]) -> tuple[int, float, str]:
    """The real CLI in its own process: exit code, wall seconds, stderr."""
    src = str(ROOT / "src")
    env = {**env, "PYTHONPATH": src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "deadweight", *args], check=False, capture_output=True,
                          text=True, env=env)
    return proc.returncode, time.perf_counter() - start, proc.stderr


def inspect_size(ref: str, env: dict[str, str]) -> int:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        code, _, err = deadweight("inspect", "--format", "json", "-o", out.name, ref, env=env)
        if code != 0:
            raise SystemExit(f"bench: deadweight inspect {ref} failed ({code}): {err.strip()}")
        size: int = json.loads(Path(out.name).read_text(encoding="utf-8"))["size_bytes"]
    return size


def copy_service(dest: Path) -> Path:
    shutil.copytree(SERVICE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / ".git").mkdir()  # the settings search stops here, not in this repository
    return dest


def gb(size: float | None) -> str:
    return "n/a" if size is None else f"{size / 1e9:.3f} GB"


def secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="write the figures to FILE as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the reference image and the copies")
    parser.add_argument("--rebuild-before", action="store_true",
                        help="rebuild the before image without cache, to time its cold build (~3 GB download)")
    args = parser.parse_args(argv)

    env = lab_env()
    torch_index = env.get("DEADWEIGHT_LAB_TORCH_INDEX")
    standin = env.get("DEADWEIGHT_LAB_STANDIN_INDEX")
    if not torch_index or not standin or docker("info", timeout=30).returncode != 0:
        log("the lab is not up (scripts/lab up): no engine or no CPU torch index")
        return 2
    figures: dict[str, Any] = {"before_image": BEFORE_TAG, "torch_cpu_index": torch_index}

    # 1. the before image
    before_cold: float | None = None
    if args.rebuild_before or docker("image", "inspect", BEFORE_TAG).returncode != 0:
        log(f"building {BEFORE_TAG} (downloads ~3 GB from PyPI)")
        before_cold = timed_build(SERVICE, BEFORE_TAG, build_args={"PIP_CONSTRAINT": f"{standin}constraints.txt"},
                                  no_cache=args.rebuild_before)
    figures["before_build_cold_seconds_bench"] = before_cold

    work = Path(tempfile.mkdtemp(prefix="dw-voptimize-bench-"))
    try:
        # 2. optimize on a copy
        svc = copy_service(work / "torch-cpu-api")
        result, report_md = work / "result.json", work / "results.md"
        log("deadweight optimize (audit, fix, build after cold and warm, checks, write)")
        code, wall, err = deadweight("optimize", str(svc), "--image", f"docker:{BEFORE_TAG}", "--torch-cpu-index",
                                     torch_index, "--network", "host", "--write", "--format", "json", "-o",
                                     str(result), "--report", str(report_md), env=env)
        figures["optimize_exit"] = code
        figures["optimize_wall_seconds"] = wall
        if not result.is_file():
            log(f"optimize wrote no report (exit {code}): {err.strip()[-2000:]}")
            return 2
        OUT.mkdir(exist_ok=True)
        shutil.copyfile(result, OUT / "optimize-result.json")  # kept for a look, whatever the outcome
        if report_md.is_file():
            shutil.copyfile(report_md, OUT / "optimize-results.md")
        doc = json.loads(result.read_text(encoding="utf-8"))
        (service,) = doc["services"]
        if service["after"] is None:
            log(f"optimize could not build the after image: {service['error']}")
            return 2
        after_build = service["after_build"] or {}
        figures.update(
            before_bytes=service["before"]["size_bytes"],
            after_bytes=service["after"]["size_bytes"],
            before_compressed_bytes=service["before"]["compressed_bytes"],
            after_compressed_bytes=service["after"]["compressed_bytes"],
            after_build_cold_seconds=after_build.get("cold_seconds"),
            after_build_warm_seconds=after_build.get("warm_seconds"),
            verify_seconds=service["verify_seconds"],
            checks={c["name"]: c["status"] for c in service["checks"]},
            failed_checks=[{"name": c["name"], "status": c["status"], "detail": c["detail"], "data": c["data"],
                            "command": c["command"], "output": c["output"][-1500:]}
                           for c in service["checks"] if c["status"] in ("fail", "error")],
            edits=[(e["rule"], e["status"], e["measured_savings_bytes"]) for e in service["edits"]],
            passed=doc["passed"],
            files=doc["files"],
            after_image=after_build.get("image"),
        )

        # 3. the hand-optimized reference
        ref = copy_service(work / "reference")
        shutil.copyfile(REFERENCE, ref / "Dockerfile")
        log("building the hand-optimized reference (cold, then warm)")
        figures["reference_build_cold_seconds"] = timed_build(ref, REFERENCE_TAG,
                                                              build_args={"TORCH_INDEX_URL": torch_index},
                                                              no_cache=True)
        figures["reference_build_warm_seconds"] = timed_build(ref, REFERENCE_TAG,
                                                              build_args={"TORCH_INDEX_URL": torch_index},
                                                              no_cache=False)
        figures["reference_bytes"] = inspect_size(f"docker:{REFERENCE_TAG}", env)
    finally:
        if args.keep:
            log(f"kept {work} and {REFERENCE_TAG}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            docker("image", "rm", "-f", REFERENCE_TAG)

    return report(figures, args.json)


def report(figures: dict[str, Any], json_path: str | None) -> int:
    before, after, ref = figures["before_bytes"], figures["after_bytes"], figures["reference_bytes"]
    cold, verify = figures["after_build_cold_seconds"], figures["verify_seconds"]
    ratio = after / ref
    share = verify / cold if cold else None
    targets = {
        f"after within {WITHIN:.0%} of the reference": ratio <= 1 + WITHIN,
        f"verification <= {VERIFY_SHARE:.0%} of the after build": share is not None and share <= VERIFY_SHARE,
        "every check passed": bool(figures["passed"]),
        "before is the ~5.6 GB CUDA image": EXPECTED_BEFORE[0] <= before <= EXPECTED_BEFORE[1],
    }
    figures.update(after_over_reference=ratio, verify_share_of_after_build=share,
                   targets=dict(targets))
    rows = [
        ("before (CUDA torch 2.5.1)", gb(before), f"compressed {gb(figures['before_compressed_bytes'])}"),
        ("after (deadweight optimize)", gb(after), f"compressed {gb(figures['after_compressed_bytes'])}"),
        ("reference (hand-optimized)", gb(ref), f"after / reference = {ratio:.3f}"),
        ("before build, cold", secs(figures["before_build_cold_seconds_bench"]),
         "" if figures["before_build_cold_seconds_bench"] else "(image cached: --rebuild-before times it)"),
        ("after build, cold / warm", f"{secs(cold)} / {secs(figures['after_build_warm_seconds'])}", ""),
        ("reference build, cold / warm",
         f"{secs(figures['reference_build_cold_seconds'])} / {secs(figures['reference_build_warm_seconds'])}", ""),
        ("verification (checks)", secs(verify), "n/a" if share is None else f"{share:.1%} of the after build"),
        ("optimize, whole run", secs(figures["optimize_wall_seconds"]), f"exit {figures['optimize_exit']}"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>22}  {note}")
    print("checks: " + ", ".join(f"{name}: {status}" for name, status in figures["checks"].items()))
    for check in figures["failed_checks"]:
        print(f"  {check['status']}: {check['name']}: {check['detail']}  (rerun: {check['command'][:200]})")
    print("edits: " + ", ".join(f"{rule} {status} ({gb(saved)})" for rule, status, saved in figures["edits"]))
    for name, ok in targets.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
