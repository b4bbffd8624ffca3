"""DW301: a build toolchain (compilers, binutils, -dev headers, build-essential) in the final image.

Measured from the OS package database and the final tree: the bytes of the toolchain packages
themselves. Runtime libraries they pulled in (libpq5 beside libpq-dev) are not counted: a multi-stage
build still needs those in the final stage.
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.errors import ParseError
from deadweight.inventory.ospackages import is_toolchain
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.project import InstallCommand
from deadweight.model.remedy import Edit, SplitBuilderStage
from deadweight.project.stages import final_chain, shipped_installs
from deadweight.rules.base import UNLOCATED, Rule, RuleContext, file_claims, instruction_span
from deadweight.units import human_bytes

MIN_TOOLCHAIN_BYTES = 1 << 20


class BuildToolchain(Rule):
    id = "DW301"
    name = "BuildToolchainInFinalImage"
    title = "Build toolchain in the final image"
    severity = Severity.MEDIUM
    description = "Compilers, -dev headers or build-essential are present in the image that ships."
    fix = "Build in a separate stage and copy only the results (multi-stage build)."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        if ctx.inventory is not None and ctx.analysis is not None:
            return self._measured(ctx)
        return self._declared(ctx)

    def _measured(self, ctx: RuleContext) -> list[Finding]:
        assert ctx.inventory is not None
        packages = sorted((p for p in ctx.inventory.os_packages if p.is_toolchain), key=lambda p: -p.size_bytes)
        total = sum(p.size_bytes for p in packages)
        if total < MIN_TOOLCHAIN_BYTES:
            return []
        claims: dict[str, int] = {}
        for pkg in packages:
            claims.update(file_claims(pkg.files, ctx))
        names = ", ".join(p.name for p in packages[:6]) + (", ..." if len(packages) > 6 else "")
        evidence = [
            Evidence("os-package", f"{p.name} {p.version}: {human_bytes(p.size_bytes)}", f"{p.manager}:{p.name}")
            for p in packages[:10]
        ]
        installs = _toolchain_installs(ctx)
        evidence += _install_evidence(ctx, installs)
        return [
            self.finding(
                ctx,
                title=f"Build toolchain in the final image: {names}",
                savings_bytes=sum(claims.values()) or total,
                estimated=False,
                evidence=evidence,
                remedy=[_split(ctx, [p.name for p in packages], installs)],
                claims=claims,
            )
        ]

    def _declared(self, ctx: RuleContext) -> list[Finding]:
        """Static mode: the final stage's Dockerfile installs a toolchain; bytes are not known."""
        installs = _toolchain_installs(ctx)
        if not installs:
            return []
        names = list(dict.fromkeys(name for _cmd, tools in installs for name in tools))
        return [
            self.finding(
                ctx,
                title="Build toolchain installed in the final stage",
                savings_bytes=0,
                estimated=True,
                evidence=_install_evidence(ctx, installs),
                remedy=[_split(ctx, names, installs)],
            )
        ]


def _toolchain_installs(ctx: RuleContext) -> list[tuple[InstallCommand, list[str]]]:
    """OS package installs whose results ship and that name toolchain packages (as written)."""
    out = []
    for cmd in shipped_installs(ctx.service):
        tools = [p for p in cmd.packages if is_toolchain(p.split("=")[0])]
        if cmd.tool in ("apt-get", "apt", "apk") and tools:
            out.append((cmd, tools))
    return out


def _install_evidence(ctx: RuleContext, installs: list[tuple[InstallCommand, list[str]]]) -> list[Evidence]:
    file = ctx.service.dockerfile.path if ctx.service.dockerfile else None
    return [Evidence("dockerfile", f"{cmd.tool} installs {', '.join(tools)}", f"{file}:{cmd.line}" if file else None)
            for cmd, tools in installs]


def _split(ctx: RuleContext, packages: list[str], installs: list[tuple[InstallCommand, list[str]]]) -> Edit:
    """Split at the final stage's FROM: the toolchain installs move to a builder stage."""
    try:
        chain = final_chain(ctx.service)
    except ParseError:
        chain = ()
    span = instruction_span(ctx.service.dockerfile, chain[0].from_instruction) if chain else UNLOCATED
    return SplitBuilderStage(tuple(packages), tuple(cmd.line for cmd, _tools in installs if cmd.line), **span)
