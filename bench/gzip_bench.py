#!/usr/bin/env python3
"""Compressed layers on several cores (issue 14): `inspect oci:` against the one-core ISA-L floor, and a
registry read against the same layout read from disk.

Usage: python bench/gzip_bench.py [--oci bench/out/cuda-oci] [--registry HOST:PORT/REPO:TAG] [--repeat N]
                                  [--json RESULT.json]

--oci defaults to bench/build_cuda_image.sh's layout, else to bench/out/synth-gz (written by
bench/make_layout.py when missing). Each command runs in its own process, measured by os.wait4 (wall,
CPU, peak RSS); the commands take turns (floor, inline, read-ahead, registry, ...) and the best of
--repeat runs after one warm-up round is kept, so the ratios are not skewed by the shared machine drifting.

1. floor: every layer blob gunzipped (or zstd-decompressed) by one thread (isal.igzip / zstandard),
   bytes discarded — what one core can do.
2. `deadweight inspect --format json oci:PATH` with DEADWEIGHT_THREADS=1 (inline: the old path) and with
   the default (layers whose digests are checked read ahead in worker threads: give --verify to compare
   the stages; without it both runs take the inline path). Target: the default <= 0.75x the floor.
   Both runs' JSON must be byte-identical (checked once, untimed).
3. with --registry (an image holding the same layers, e.g. `skopeo copy oci:PATH:TAG
   docker://HOST:PORT/REPO:TAG --dest-tls-verify=false`): `deadweight inspect --insecure registry:REF`.
   Target: <= 1.2x the default `oci:` read; its layers must have the same diff ids and sizes.

Prints one line per figure with PASS/FAIL; exit 0 even when a target is missed (it measures), 2 when an
input is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from childproc import Measured, measure

HERE = Path(__file__).resolve().parent
TARGETS = {"vs_floor": 0.75, "registry_vs_disk": 1.2}
CHUNK = 1 << 20

FLOOR_CODE = """
import json, sys
from pathlib import Path
import zstandard
from isal import igzip
oci = Path(sys.argv[1])
def blob(d): return oci / "blobs" / d.split(":")[0] / d.split(":")[1]
index = json.loads((oci / "index.json").read_text())
doc = json.loads(blob(index["manifests"][0]["digest"]).read_bytes())
if "manifests" in doc:
    doc = json.loads(blob(doc["manifests"][0]["digest"]).read_bytes())
total = 0
for layer in doc["layers"]:
    with blob(layer["digest"]).open("rb") as raw:
        if layer["mediaType"].endswith("zstd"):
            f = zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20, read_across_frames=True)
        else:
            f = igzip.IGzipFile(fileobj=raw, mode="rb")
        while chunk := f.read(1 << 20):
            total += len(chunk)
print(total)
"""


def dw() -> list[str]:
    return [sys.executable, "-m", "deadweight"]


def env_with(threads: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DEADWEIGHT_THREADS", None)
    if threads is not None:
        env["DEADWEIGHT_THREADS"] = threads
    return env


def run(cmd: Sequence[str], env: dict[str, str]) -> Measured:
    got = measure(cmd, env=env)
    if got.exit_code not in (0, 1):
        tail = got.stderr.decode(errors="replace")[-400:]
        raise SystemExit(f"bench: {' '.join(cmd)} exited {got.exit_code}: {tail}")
    return got


def output(cmd: Sequence[str], env: dict[str, str]) -> bytes:
    return subprocess.run(list(cmd), env=env, capture_output=True, check=False).stdout


def layers_of(report: bytes) -> list[tuple[object, object]]:
    doc = json.loads(report)
    return [(layer.get("diff_id"), layer.get("size_bytes")) for layer in doc.get("layers", [])]


def line(results: dict[str, object], key: str, value: float, fmt: str, note: str = "") -> None:
    results[key] = value
    print(f"{key:<36} {format(value, fmt):>10}  {note}", flush=True)


def verdict(ok: bool, target: float) -> str:
    return f"PASS (target <= {target})" if ok else f"FAIL (target <= {target})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oci", type=Path)
    ap.add_argument("--registry", help="HOST:PORT/REPO:TAG holding the same image (plain HTTP)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--verify", action="store_true", help="inspect --verify (digests checked: read ahead)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    oci = args.oci
    if oci is None:
        oci = HERE / "out" / "cuda-oci"
        if not oci.exists():
            oci = HERE / "out" / "synth-gz"
            if not oci.exists():
                print(f"bench: writing a synthetic layout to {oci} (bench/make_layout.py)", flush=True)
                subprocess.run([sys.executable, str(HERE / "make_layout.py"), str(oci)], check=True)
    if not (oci / "index.json").exists():
        print(f"bench: {oci} is not an OCI layout", file=sys.stderr)
        return 2
    cores = len(os.sched_getaffinity(0))
    results: dict[str, object] = {"oci": str(oci), "cores": cores, "load_before": os.getloadavg()[0]}
    print(f"== {oci} on {cores} cores, load average {os.getloadavg()[0]:.1f}", flush=True)

    plain = env_with(None)
    inline = env_with("1")
    floor_cmd = [sys.executable, "-c", FLOOR_CODE, str(oci)]
    oci_cmd = [*dw(), "inspect", *(["--verify"] if args.verify else []), "--format", "json", f"oci:{oci}"]
    named: list[tuple[str, Sequence[str], dict[str, str]]] = [
        ("floor", floor_cmd, plain),
        ("inline", oci_cmd, inline),
        ("readahead", oci_cmd, plain),
    ]
    if args.registry:
        reg_cmd = [*dw(), "inspect", "--insecure", "--format", "json", f"registry:{args.registry}"]
        named.append(("registry", reg_cmd, plain))

    same = output(oci_cmd, inline) == output(oci_cmd, plain)
    results["readahead_json_identical"] = same
    print(f"{'readahead JSON == inline JSON':<36} {same!s:>10}  {'PASS' if same else 'FAIL'}", flush=True)
    if args.registry:
        reg_layers = layers_of(output(reg_cmd, plain))
        disk_layers = layers_of(output(oci_cmd, plain))
        same_layers = reg_layers == disk_layers and bool(reg_layers)
        results["registry_layers_identical"] = same_layers
        print(f"{'registry layers == disk layers':<36} {same_layers!s:>10}  {'PASS' if same_layers else 'FAIL'}")

    for _, cmd, env in named:  # warm-up round: page cache, bytecode
        run(cmd, env)
    runs: dict[str, list[Measured]] = {name: [] for name, _, _ in named}
    for _ in range(args.repeat):
        for name, cmd, env in named:
            runs[name].append(run(cmd, env))
    best = {name: min(r, key=lambda m: m.wall_s) for name, r in runs.items()}
    for name, got in best.items():
        results[name] = {
            "wall_s": got.wall_s,
            "cpu_s": got.cpu_s,
            "max_rss_mb": got.max_rss_mb,
            "all_wall_s": [m.wall_s for m in runs[name]],
        }
        walls = ", ".join(f"{m.wall_s:.2f}" for m in runs[name])
        print(
            f"{name + ' wall (best; all)':<36} {got.wall_s:>10.2f}  s ({walls}); CPU {got.cpu_s:.2f} s;"
            f" peak RSS {got.max_rss_mb:.0f} MB",
            flush=True,
        )
    floor = best["floor"].wall_s
    line(results, "inline_over_floor", best["inline"].wall_s / floor, ".2f")
    ratio = best["readahead"].wall_s / floor
    line(results, "readahead_over_floor", ratio, ".2f", verdict(ratio <= TARGETS["vs_floor"], TARGETS["vs_floor"]))
    if args.registry:
        ratio = best["registry"].wall_s / best["readahead"].wall_s
        line(
            results,
            "registry_over_disk",
            ratio,
            ".2f",
            verdict(ratio <= TARGETS["registry_vs_disk"], TARGETS["registry_vs_disk"]),
        )
    results["load_after"] = os.getloadavg()[0]
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
