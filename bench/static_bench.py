#!/usr/bin/env python3
"""Time the static audit (no Docker engine): warm one service, warm six-service compose, cold compose.

Usage: python bench/static_bench.py [--runs 5] [--cold-runs 3] [--src DIR] [--json RESULT.json]

The issue's targets: "a warm static audit of one service <= 1 s and of a six-service compose <= 3 s; cold
<= 10 s for that compose". Each audit is the real CLI in its own process (`python -m deadweight audit PATH
--format json -o FILE`), so start-up and imports count, as they do for a user. No engine is reachable
(`DOCKER_HOST` points at a socket that does not exist), so every service is audited statically: its
requirements expanded as pip would for the Dockerfile's Python, each wheel sized from PyPI's index.

The six-service compose is `examples/` (five services) plus one more, `http-client` (httpx>=0.27,
pydantic>=2.5, rich), written by this script into a temporary directory next to copies of the five. The
one service is `examples/torch-cpu-api` (the largest closure: fastapi, uvicorn, torch and its CUDA wheels).

- cold: each of `--cold-runs` audits of the compose starts from an empty private cache (`DEADWEIGHT_CACHE_DIR`),
  so every index page and every wheel's central directory is read from PyPI over the network;
- warm: the cache filled by a cold run, then `--runs` audits of each target; the network is not needed.

Every report of a target must be byte-identical across its runs (cold and warm alike), or the bench fails.
`--torch-cpu-index` points at a closed local port (the CPU torch size then comes from the built-in table), so
only PyPI is contacted. Python's bytecode cache is private to the bench (`PYTHONPYCACHEPREFIX`), filled by
the first run. `--src` runs another checkout's `src/` (e.g. an older commit's, for before/after figures).

Prints each run's wall and CPU time, the medians and PASS/FAIL against the targets. Exit status: 0 every
target met, 1 a target missed or a report differed between runs, 2 an audit failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from childproc import measure

ROOT = Path(__file__).resolve().parent.parent
AUDIT_RAN = (0, 1)  # 0 nothing at the fail level, 1 findings at it
FIVE = ("torch-cpu-api", "report-worker", "pandas-etl", "legacy-api", "lean-svc")

SIXTH_COMPOSE = """
  http-client:
    build:
      context: ./http-client
    image: deadweight-example/http-client:latest
    deploy:
      resources:
        limits:
          memory: 256m
"""
SIXTH_FILES = {
    "Dockerfile": "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
                  "RUN pip install --no-cache-dir -r requirements.txt\nCOPY client.py .\n"
                  "CMD [\"python\", \"client.py\"]\n",
    "requirements.txt": "httpx>=0.27\npydantic>=2.5\nrich\n",
    "client.py": "import httpx\nimport pydantic\nfrom rich import print\n\n"
                 "class Pong(pydantic.BaseModel):\n    ok: bool\n\n"
                 "print(Pong.model_validate(httpx.get('http://localhost:8080/ping').json()))\n",
}


@dataclass
class Run:
    wall_s: float
    cpu_s: float


@dataclass
class Figure:
    name: str
    target_s: float
    runs: list[Run]

    @property
    def median_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def passed(self) -> bool:
        return self.median_s <= self.target_s


def make_compose(where: Path) -> Path:
    """examples/'s five services plus `http-client`, in ``where``; returns the project directory."""
    project = where / "fleet6"
    project.mkdir()
    for name in FIVE:
        shutil.copytree(ROOT / "examples" / name, project / name)
    compose = (ROOT / "examples" / "docker-compose.yml").read_text()
    (project / "docker-compose.yml").write_text(compose.rstrip("\n") + "\n" + SIXTH_COMPOSE)
    sixth = project / "http-client"
    sixth.mkdir()
    for filename, text in SIXTH_FILES.items():
        (sixth / filename).write_text(text)
    return project


def audit(path: Path, output: Path, *, cache: Path, pycache: Path, src: Path, index: str) -> Run:
    cmd = [sys.executable, "-m", "deadweight", "audit", str(path), "--format", "json", "-o", str(output),
           "--torch-cpu-index", index]
    env = {**os.environ, "DEADWEIGHT_CACHE_DIR": str(cache), "PYTHONPYCACHEPREFIX": str(pycache),
           "DOCKER_HOST": f"unix://{cache.parent}/no-engine.sock", "PYTHONPATH": str(src)}
    for name in ("PYTHONDONTWRITEBYTECODE", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        env.pop(name, None)
    run = measure(cmd, cwd=ROOT, env=env)
    if run.exit_code not in AUDIT_RAN:
        sys.stderr.write(run.stderr.decode(errors="replace"))
        raise SystemExit(2)
    return Run(run.wall_s, run.cpu_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm audits of each target (default: 5)")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold audits of the compose (default: 3)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="deadweight source tree to run")
    parser.add_argument("--torch-cpu-index", default="http://127.0.0.1:9/")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    if args.runs < 1 or args.cold_runs < 1:
        parser.error("--runs and --cold-runs must be at least 1")

    reports: dict[str, set[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="dw-static-bench-") as tmp_name:
        tmp = Path(tmp_name)
        fleet = make_compose(tmp)
        one = fleet / "torch-cpu-api"
        pycache = tmp / "pycache"

        def timed(label: str, path: Path, cache: Path, i: int) -> Run:
            out = tmp / f"{label}-{i}.json"
            run = audit(path, out, cache=cache, pycache=pycache, src=args.src, index=args.torch_cpu_index)
            # the report names the project directory; that is the same for every run of a target
            reports.setdefault(label, set()).add(out.read_bytes())
            print(f"  {label:<12} run {i + 1}: {run.wall_s:6.2f} s wall, {run.cpu_s:5.2f} s CPU", flush=True)
            return run

        cold: list[Run] = []
        warm_cache = tmp / "cache-warm"
        for i in range(args.cold_runs):
            cache = warm_cache if i == args.cold_runs - 1 else tmp / f"cache-cold-{i}"
            cold.append(timed("cold-6", fleet, cache, i))
        warm_one = [timed("warm-1", one, warm_cache, i) for i in range(args.runs)]
        warm_six = [timed("warm-6", fleet, warm_cache, i) for i in range(args.runs)]
        warm_and_cold_agree = reports.get("warm-6") == reports.get("cold-6")

    figures = [Figure("warm, one service (torch-cpu-api)", 1.0, warm_one),
               Figure("warm, six-service compose", 3.0, warm_six),
               Figure("cold, six-service compose", 10.0, cold)]
    stable = all(len(r) == 1 for r in reports.values()) and warm_and_cold_agree
    print()
    print(f"{'figure':<36} {'median':>8} {'CPU':>7} {'target':>8}")
    for fig in figures:
        cpu = statistics.median(r.cpu_s for r in fig.runs)
        verdict = "PASS" if fig.passed else "FAIL"
        print(f"{fig.name:<36} {fig.median_s:7.2f}s {cpu:6.2f}s {fig.target_s:7.1f}s  {verdict}")
    print(f"reports identical across runs (cold and warm): {'yes' if stable else 'NO'}")
    if args.json:
        doc = {"figures": [{**asdict(f), "median_s": f.median_s, "passed": f.passed} for f in figures],
               "reports_identical": stable}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if stable and all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
