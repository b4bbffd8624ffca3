"""``fix``: audit (or read an audit report), plan every finding's edits, and with ``write`` commit them.

Nothing is written unless ``write=True``, and then all or nothing (``fixes/transaction.py``). The plan is
returned either way: per finding, its changes (or why none was made), and per file its text before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from deadweight.config import Config
from deadweight.errors import UsageError
from deadweight.fixes.base import FixSettings
from deadweight.fixes.planner import Selection, plan_fixes
from deadweight.fixes.transaction import commit
from deadweight.model.audit import AuditReport
from deadweight.model.plan import FixPlan
from deadweight.pipeline.audit import AuditOptions, audit_config, run_audit
from deadweight.pipeline.from_report import read_report
from deadweight.pipeline.images import choose_images
from deadweight.project.loader import load_project

__all__ = ["fix"]


def fix(
    path: str | Path = ".",
    *,
    images: str | Sequence[str] | Mapping[str, str] = (),
    build: bool = False,
    run: bool = False,
    network: str | None = None,
    platform: str | None = None,
    verify: bool = False,
    fast_path: bool = True,
    config: Config | None = None,
    config_file: str | Path | None = None,
    fail_on: str | Sequence[str] = (),
    select: str | Sequence[str] = (),
    ignore: str | Sequence[str] = (),
    offline: bool = False,
    torch_cpu_index: str | None = None,
    deployment_gpu: str | None = None,
    only: str | Sequence[str] = (),
    report: AuditReport | None = None,
    from_report: str | Path | None = None,
    write: bool = False,
    pin_pyproject: bool = False,
    lock: bool = True,
    memory_headroom: float = 1.5,
    progress: Callable[[str], None] | None = None,
) -> FixPlan:
    """The fixes for the service or fleet at ``path``, as ``deadweight fix PATH`` makes them.

    The audit options mean what ``audit``'s do; ``report`` is an audit already made, or ``from_report`` the
    path of one written by ``audit --format json`` (``--from-report``), instead of running one. ``only``:
    ``RULE`` or ``RULE,PACKAGE`` strings. ``write=True`` writes the planned edits (all or nothing;
    ``FixError`` when a file changed on disk since it was read or cannot be written, every file then left
    as it was). ``pin_pyproject``/``lock``/``memory_headroom`` are ``--pin-pyproject``/``--no-lock``/
    ``--memory-headroom`` (DW701/DW702: the new limit is the observed peak times this, 1.0 to 10).

    Raises what ``audit`` raises, and for ``from_report`` ``UsageError`` (no such file) or ``ParseError``
    (not an audit report of schema deadweight/1).
    """
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or directory")
    if not 1.0 <= memory_headroom <= 10.0:  # also refuses nan
        raise UsageError(f"--memory-headroom {memory_headroom:g}: must be between 1.0 and 10")
    if (report is not None or from_report is not None) and (images or build or run):
        raise UsageError("--from-report plans from the report's findings: --image, --build and --run do not apply")
    settings = audit_config(path, config=config, config_file=config_file, fail_on=fail_on, select=select,
                            ignore=ignore, offline=offline, torch_cpu_index=torch_cpu_index,
                            deployment_gpu=deployment_gpu)
    selection = Selection.parse((only,) if isinstance(only, str) else only)  # a bad --only before the audit
    project = load_project(str(path))
    warnings: list[str] = []
    if report is None and from_report is not None:
        report = _selected(read_report(from_report), settings)
        if Path(report.root).resolve() != Path(project.root).resolve():
            warnings.append(f"the report audited {report.root}, the project is {project.root}: files outside "
                            "the project are not edited")
    if report is None:
        chosen = choose_images(images, [s.name for s in project.services])
        options = AuditOptions(images=chosen, build=build, run=run, network=network, platform=platform,
                               verify=verify, fast_path=fast_path)
        report = run_audit(str(path), settings, options, progress, project=project)
    fix_settings = FixSettings(cpu_index_url=settings.torch_cpu_index, pin_pyproject=pin_pyproject, lock=lock,
                               memory_headroom=memory_headroom,
                               offline=settings.offline)
    plan, workspace = plan_fixes(report, project, fix_settings, selection)
    plan = replace(plan, warnings=(*plan.warnings, *warnings))
    if write and plan.unaudited:
        # the run is an input error (exit 2/3): it changes nothing, as a failed run should
        names = ", ".join(u.service for u in plan.unaudited)
        plan = replace(plan, warnings=(*plan.warnings, f"nothing written: {names} could not be audited"))
    elif write and plan.changed_files:
        commit(workspace)
        plan = replace(plan, written=True)
    return plan


def _selected(report: AuditReport, settings: Config) -> AuditReport:
    """The report's findings of the rules ``--select``/``--ignore`` (and the settings file) leave enabled, as
    a live audit would have reported them."""
    services = tuple(replace(s, findings=tuple(f for f in s.findings if settings.rule_enabled(f.rule)))
                     for s in report.services)
    return replace(report, services=services)
