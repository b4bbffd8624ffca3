"""DW304: ``apt-get install`` without ``--no-install-recommends``.

Debian installs "Recommends" by default, often tens or hundreds of MB a service never loads. Which of the
installed packages came in as recommendations is not recorded in the image, so no saving is claimed; the
finding points at the exact RUN line.
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import AddInstallFlag
from deadweight.project.stages import shipped_installs
from deadweight.rules.base import Rule, RuleContext, install_span


class AptRecommends(Rule):
    id = "DW304"
    name = "AptInstallRecommends"
    title = "apt install without --no-install-recommends"
    severity = Severity.LOW
    description = "apt-get install runs without --no-install-recommends and pulls in recommended packages."
    fix = "Add --no-install-recommends to apt-get install."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        file = ctx.service.dockerfile.path if ctx.service.dockerfile else ctx.service.dockerfile_path
        findings = []
        for cmd in shipped_installs(ctx.service):
            if cmd.tool not in ("apt-get", "apt") or cmd.action != "install" or cmd.no_install_recommends:
                continue
            where = f"{file}:{cmd.line}" if file else None
            findings.append(
                self.finding(
                    ctx,
                    title="apt-get install without --no-install-recommends",
                    path=where,
                    estimated=True,
                    evidence=[Evidence("dockerfile", f"{cmd.tool} install {' '.join(cmd.packages)}".strip(), where)],
                    remedy=[AddInstallFlag(cmd.tool, cmd.action, "--no-install-recommends",
                                           **install_span(ctx.service, cmd))],
                )
            )
        return findings
