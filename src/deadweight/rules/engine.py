"""Run the selected rules over one service and apply every kind of ignore, once, here.

Rules only say what they find. Whether a rule runs (``select`` / ``ignore`` from the configuration and the
command line, its default, what it needs) and whether a finding is kept (``per-package-ignores``, and an
inline ``# deadweight: ignore[DW201]`` on the requirement line the finding is about) is decided in this one
pass, as deptry's central violations finder does, so no rule can forget an ignore or apply it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from deadweight.config import Config
from deadweight.model.audit import SkippedRule
from deadweight.model.finding import Finding
from deadweight.model.project import DeclaredRequirement
from deadweight.rules.base import Rule, RuleContext
from deadweight.rules.registry import ALL_RULES


@dataclass(frozen=True)
class Evaluation:
    """What the rules found (in rule order), the rules that could not run and why, and the findings an
    ignore silenced (kept so that callers can count them)."""

    findings: tuple[Finding, ...]
    skipped: tuple[SkippedRule, ...]
    suppressed: tuple[Finding, ...] = ()


def selected_rules(config: Config, rules: Sequence[Rule] = ALL_RULES) -> list[Rule]:
    """The rules of ``rules`` that ``config``'s select/ignore (and each rule's default) turn on."""
    return [rule for rule in rules if config.rule_enabled(rule.id, default_on=rule.default_enabled)]


def evaluate_all(ctx: RuleContext, rules: Sequence[Rule] = ALL_RULES, *, run: bool = False) -> Evaluation:
    """Every enabled rule of ``rules`` over ``ctx``; ``run`` says whether memory was to be observed (``--run``)."""
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    skipped: list[SkippedRule] = []
    inline = InlineIgnores(ctx.service.requirements)
    for rule in selected_rules(ctx.config, rules):
        reason = _missing(rule, ctx, run=run)
        if reason is not None:
            skipped.append(SkippedRule(rule.id, reason))
            continue
        for finding in rule.evaluate(ctx):
            (suppressed if is_ignored(finding, ctx, inline) else findings).append(finding)
    return Evaluation(tuple(findings), tuple(skipped), tuple(suppressed))


def _missing(rule: Rule, ctx: RuleContext, *, run: bool) -> str | None:
    """Why ``rule`` cannot run on ``ctx``, or None when it has what it needs."""
    if rule.needs_run:
        if not run:
            return "needs --run (observed memory)"
        if ctx.service.memory_limit_bytes is None:
            return "no memory limit set"
        if ctx.memory_peak_bytes is None:
            return "memory could not be observed"
    if rule.needs_image and ctx.analysis is None:
        return "needs an image (static audit)"
    return None


class InlineIgnores:
    """The ``# deadweight: ignore[...]`` comments of a service's declarations, indexed once, so judging every
    finding costs a lookup (a Dockerfile of 10,000 ``RUN pip install`` lines made the scan quadratic)."""

    def __init__(self, requirements: Iterable[DeclaredRequirement]) -> None:
        self._by_name: dict[str, list[DeclaredRequirement]] = {}
        self._by_line: dict[tuple[str, str | None, int], list[DeclaredRequirement]] = {}
        for req in requirements:
            self._by_name.setdefault(req.name, []).append(req)
            self._by_line.setdefault((req.name, req.source_file, req.line), []).append(req)
        self._any: dict[tuple[str, str], bool] = {}

    def silence(self, finding: Finding) -> bool:
        """Whether a declaration the finding is about ignores its rule: those of its package, narrowed to the
        lines its remedy edits when it edits some (a DW201 about one of two declarations of a package is
        silenced by that line's comment only)."""
        name = finding.package
        if name is None:
            return False
        located = [req for edit in {(e.file, e.line) for e in finding.remedy if e.file is not None}
                   for req in self._by_line.get((name, edit[0], edit[1]), ())]
        if located:
            return any(ignores_rule(req, finding.rule) for req in located)
        key = (name, finding.rule)
        if key not in self._any:
            self._any[key] = any(ignores_rule(req, finding.rule) for req in self._by_name.get(name, ()))
        return self._any[key]


def is_ignored(finding: Finding, ctx: RuleContext, inline: InlineIgnores | None = None) -> bool:
    """Whether a per-package ignore or an inline requirement ignore silences ``finding``; ``inline`` is the
    service's ``InlineIgnores`` when the caller judges many findings."""
    if ctx.config.package_ignored(finding.rule, finding.package):
        return True
    return (inline or InlineIgnores(ctx.service.requirements)).silence(finding)


def ignores_rule(req: DeclaredRequirement, rule_id: str) -> bool:
    """``# deadweight: ignore[DW201]`` (a prefix such as ``ignore[DW2]``, or ``ignore[*]``) on the line."""
    return "*" in req.ignores or any(rule_id.startswith(i) for i in req.ignores)
