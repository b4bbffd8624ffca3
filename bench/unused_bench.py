"""Unused-dependency bench: deptry and FawltyDeps vs deadweight on the usage fixture projects.

Each project in tests/fixtures/usage/ has an ``expected.toml`` (ground truth): ``unused`` (declared and
safe to remove), ``used`` (removing it breaks the service) and optionally ``unknown`` (undecidable from
the project alone; left out of the scores). For every tool we count, over all projects:

  precision = correct "unused" claims / all "unused" claims on scored packages
  recall    = correct "unused" claims / all truly unused packages

deadweight runs without an image here: declared names become stand-in distributions whose modules come
from locally installed metadata or the alias table (``synthetic_distributions``). A fixture whose
expected.toml says ``path = "project"`` is judged the way ``audit --no-image`` judges it: load_project, then
usage/service.collect_usage per service (what the Dockerfile ships, including via builder stages, and the
commands that start it); a package claimed unused by any service counts as a claim.

DW101 column: projects whose ``expected.toml`` has ``dw101 = "fires" | "silent"`` are loaded as the audit
loads them and joined with a stand-in environment holding PyPI's Linux torch (the CUDA build, what a static
estimate resolves) plus the declared distributions (``sentence-transformers`` requiring torch, as its wheel
does); DW101 is evaluated on the RuleContext the audit builds (device verdict, index/lock reading) and its
outcome compared with the key. ``device = "..."`` is compared too. Right/wrong are counted over those projects.

Run:  python bench/unused_bench.py [--json]   (installs deptry and fawltydeps with pip if missing)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deadweight.config import Config
from deadweight.model.inventory import Distribution, Inventory, PythonEnvironment
from deadweight.model.inventory import Requirement as DistRequirement
from deadweight.project.indexes import torch_index
from deadweight.project.loader import load_project
from deadweight.rules.base import RuleContext
from deadweight.rules.dw101_cuda_torch import CudaTorchOnCpu
from deadweight.usage import ModuleMapper, decide, iter_project_files, scan_files
from deadweight.usage.gpu import service_device
from deadweight.usage.mapping import synthetic_distributions
from deadweight.usage.service import collect_usage, image_groups, service_verdicts

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "usage"


def declared(project: Path) -> list[str]:
    req = project / "requirements.txt"
    if req.exists():
        lines = [ln.split("#")[0].strip() for ln in req.read_text().splitlines()]
        return [str(canonicalize_name(Requirement(ln).name)) for ln in lines if ln and not ln.startswith("-")]
    data = tomllib.loads((project / "pyproject.toml").read_text())
    return [str(canonicalize_name(Requirement(d).name)) for d in data["project"]["dependencies"]]


def ensure_tools() -> None:
    missing = [pkg for pkg, mod in (("deptry", "deptry"), ("fawltydeps", "fawltydeps"))
               if importlib.util.find_spec(mod) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def _copy(project: Path, dest: Path) -> Path:
    target = dest / project.name
    shutil.copytree(project, target, ignore=shutil.ignore_patterns("expected.toml"))
    return target


def run_deptry(project: Path) -> set[str]:
    with tempfile.TemporaryDirectory() as tmp:
        work = _copy(project, Path(tmp))
        out = Path(tmp) / "deptry.json"
        subprocess.run([sys.executable, "-m", "deptry", ".", "--json-output", str(out)],
                       cwd=work, capture_output=True, text=True, check=False)
        if not out.exists():
            return set()
        issues = json.loads(out.read_text())
    return {str(canonicalize_name(i["module"])) for i in issues if i["error"]["code"] == "DEP002"}


def run_fawltydeps(project: Path) -> set[str]:
    with tempfile.TemporaryDirectory() as tmp:
        work = _copy(project, Path(tmp))
        proc = subprocess.run([sys.executable, "-m", "fawltydeps", "--check-unused", "--json", "."],
                              cwd=work, capture_output=True, text=True, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return set()
    return {str(canonicalize_name(u["name"])) for u in data.get("unused_deps", [])}


def run_deadweight_project(project: Path) -> set[str]:
    claims: set[str] = set()
    services = load_project(str(project), environ={}).services
    groups = image_groups(services)
    for service in services:
        names = sorted({str(canonicalize_name(r.name)) for r in service.requirements})
        dists = synthetic_distributions(names)
        mapper = ModuleMapper(dists)
        usage = collect_usage(service, service.shipped, image_config=None, tree=None,
                              known_modules=mapper.known_top_levels(), sharing=groups[service.name])
        verdicts = decide(dists, names, usage.evidence, mapper=mapper, complete=usage.complete)
        claims |= {n for n, v in verdicts.items() if v.status.is_unused and n in names}
    return claims


def run_deadweight(project: Path) -> set[str]:
    if tomllib.loads((project / "expected.toml").read_text()).get("path") == "project":
        return run_deadweight_project(project)
    names = declared(project)
    dists = synthetic_distributions(names)
    mapper = ModuleMapper(dists)
    files, _ = iter_project_files(project)
    result = scan_files([f for f in files if f.name != "expected.toml"], root=project,
                        known_modules=mapper.known_top_levels())
    verdicts = decide(dists, names, result.evidence, mapper=mapper)
    return {n for n, v in verdicts.items() if v.status.is_unused}


# Requires-Dist of the stand-ins, as the real wheels declare them (only the edges DW101 cares about).
_REQUIRES = {"torch": ("nvidia-cublas-cu12", "numpy"), "sentence-transformers": ("torch", "transformers", "numpy")}
_ENV = "/usr/local/lib/python3.11/site-packages"


def _stand_in(name: str, version: str, requested: bool) -> Distribution:
    module = name.replace("-", "_")
    build = "cuda" if name in ("torch", "nvidia-cublas-cu12") else None
    return Distribution(
        name=name, display_name=name, version=version, metadata_path=f"{_ENV}/{module}-{version}.dist-info",
        environment=_ENV, requested=requested, import_names=(module,), module_paths=(module,),
        requires=tuple(DistRequirement(r, "", (), None, True) for r in _REQUIRES.get(name, ())),
        size_bytes=1_000_000, exclusive_bytes=1_000_000, build=build)


def dw101_outcome(project: Path) -> tuple[str, str]:
    """("fires" | "silent", device status) for the project's one service, with PyPI's CUDA torch installed."""
    [svc] = load_project(str(project), environ={}).services
    names = {str(canonicalize_name(r.name)) for r in svc.requirements}
    extra = {"torch", "nvidia-cublas-cu12", "numpy"} | ({"transformers"} if "sentence-transformers" in names else set())
    dists = [_stand_in(n, "2.5.1" if n == "torch" else "1.0", n in names) for n in sorted(names | extra)]
    inventory = Inventory(environments=(PythonEnvironment(path=_ENV, kind="system", python_version="3.11",
                                                          distributions=tuple(dists)),))
    joined = service_verdicts(svc, inventory=inventory, image_config=None, tree=None)
    device = service_device(joined.usage.evidence, joined.verdicts, imports_framework=joined.usage.uses_gpu_framework,
                            complete=joined.usage.complete)
    ctx = RuleContext(service=svc, config=Config(), inventory=inventory, estimated=True, verdicts=joined.verdicts,
                      declared=joined.declared, device=device, scan_complete=joined.usage.complete,
                      torch_index=torch_index(svc))
    return ("fires" if list(CudaTorchOnCpu().evaluate(ctx)) else "silent"), device.status.value


def dw101_bench(projects: list[Path]) -> dict[str, object]:
    right: list[str] = []
    wrong: dict[str, str] = {}
    for project in projects:
        exp = tomllib.loads((project / "expected.toml").read_text())
        if "dw101" not in exp:
            continue
        outcome, device = dw101_outcome(project)
        if outcome == exp["dw101"] and device == exp.get("device", device):
            right.append(project.name)
        else:
            wrong[project.name] = f"dw101 {outcome} (expected {exp['dw101']}), device {device}"
    return {"right": len(right), "wrong": len(wrong), "wrong_projects": wrong}


def score(claims: dict[str, set[str]], truth: dict[str, dict[str, set[str]]]) -> dict[str, float | int]:
    tp = fp = fn = 0
    for project, t in truth.items():
        scored = t["unused"] | t["used"]
        got = claims[project] & scored
        tp += len(got & t["unused"])
        fp += len(got & t["used"])
        fn += len(t["unused"] - got)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "tp": tp, "fp": fp, "fn": fn}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", choices=["deadweight", "deptry", "fawltydeps"], action="append")
    args = parser.parse_args()
    tools = args.only or ["deptry", "fawltydeps", "deadweight"]
    if {"deptry", "fawltydeps"} & set(tools):
        ensure_tools()
    runners = {"deptry": run_deptry, "fawltydeps": run_fawltydeps, "deadweight": run_deadweight}
    truth: dict[str, dict[str, set[str]]] = {}
    projects = sorted(p for p in FIXTURES.iterdir() if (p / "expected.toml").exists())
    for project in projects:
        exp = tomllib.loads((project / "expected.toml").read_text())
        truth[project.name] = {k: {str(canonicalize_name(n)) for n in exp.get(k, [])}
                               for k in ("unused", "used", "unknown")}
    results: dict[str, dict[str, object]] = {}
    for tool in tools:
        claims = {p.name: runners[tool](p) for p in projects}
        wrong = {p: sorted(claims[p] & truth[p]["used"]) for p in claims if claims[p] & truth[p]["used"]}
        results[tool] = {**score(claims, truth), "wrong_unused": wrong,
                         "claims_on_unknown": {p: sorted(claims[p] & truth[p]["unknown"])
                                               for p in claims if claims[p] & truth[p]["unknown"]}}
    dw101 = dw101_bench(projects) if "deadweight" in tools else None
    if dw101 is not None:
        results["deadweight"]["dw101"] = dw101
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print(f"{len(projects)} projects, {sum(len(t['unused']) for t in truth.values())} truly unused, "
              f"{sum(len(t['used']) for t in truth.values())} used")
        print(f"{'tool':12} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}")
        for tool, r in results.items():
            print(f"{tool:12} {r['precision']:>9} {r['recall']:>7} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4}")
        for tool, r in results.items():
            if r["wrong_unused"]:
                print(f"  {tool} wrongly called unused: {r['wrong_unused']}")
        if dw101 is not None:
            print(f"DW101 (CUDA torch on CPU): right {dw101['right']}, wrong {dw101['wrong']}"
                  + (f" {dw101['wrong_projects']}" if dw101["wrong"] else ""))
    dw = results.get("deadweight")
    if dw is not None and (dw["precision"] != 1.0 or float(str(dw["recall"])) < 0.9):
        return 1
    if dw101 is not None and dw101["wrong"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
