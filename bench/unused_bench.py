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

from deadweight.project.loader import load_project
from deadweight.usage import ModuleMapper, decide, iter_project_files, scan_files
from deadweight.usage.mapping import synthetic_distributions
from deadweight.usage.service import collect_usage, image_groups

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "usage"


def declared(project: Path) -> list[str]:
    req = project / "requirements.txt"
    if req.exists():
        lines = [ln.split("#")[0].strip() for ln in req.read_text().splitlines()]
        return [str(canonicalize_name(Requirement(ln).name)) for ln in lines if ln]
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
    dw = results.get("deadweight")
    if dw is not None and (dw["precision"] != 1.0 or float(str(dw["recall"])) < 0.9):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
