"""DW301: a build toolchain (compilers, binutils, -dev headers, build-essential) in the final image.

Measured from the OS package database and the final tree: the bytes of the toolchain packages
themselves. Runtime libraries they pulled in (libpq5 beside libpq-dev) are not counted: a multi-stage
build still needs those in the final stage.
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.inventory.ospackages import is_toolchain
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.project.stages import shipped_installs
from deadweight.rules.base import Rule, RuleContext, file_claims
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
        evidence += self._install_lines(ctx)
        return [
            self.finding(
                ctx,
                title=f"Build toolchain in the final image: {names}",
                savings_bytes=sum(claims.values()) or total,
                estimated=False,
                evidence=evidence,
                fix="Compile in a builder stage (FROM ... AS build) and COPY only the built wheels or venv.",
                claims=claims,
            )
        ]

    def _install_lines(self, ctx: RuleContext) -> list[Evidence]:
        file = ctx.service.dockerfile.path if ctx.service.dockerfile else None
        out = []
        for cmd in shipped_installs(ctx.service):
            tools = [p for p in cmd.packages if is_toolchain(p.split("=")[0])]
            if cmd.tool in ("apt-get", "apt", "apk") and tools:
                out.append(Evidence("dockerfile", f"{cmd.tool} installs {', '.join(tools)}",
                                    f"{file}:{cmd.line}" if file else None))
        return out

    def _declared(self, ctx: RuleContext) -> list[Finding]:
        """Static mode: the final stage's Dockerfile installs a toolchain; bytes are not known."""
        evidence = self._install_lines(ctx)
        if not evidence:
            return []
        return [
            self.finding(
                ctx,
                title="Build toolchain installed in the final stage",
                savings_bytes=0,
                estimated=True,
                evidence=evidence,
                fix="Compile in a builder stage (FROM ... AS build) and COPY only the built wheels or venv.",
            )
        ]
