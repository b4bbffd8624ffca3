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

#: Static estimate: about what ``apt-get install --no-install-recommends PKG`` adds to python:3.11-slim
#: (Debian bookworm, linux/amd64), in bytes: the package with the toolchain packages it pulls in, as apt's
#: "additional disk space" reports it (from the packages' Installed-Size), rounded; approximations, not
#: measured by deadweight, and they move between Debian point releases. A compiler driver pulls the
#: others (build-essential holds gcc, g++, make, libc6-dev, dpkg-dev), so only the biggest of ``_COMPILERS``
#: counts; the other rows add. A toolchain package not listed adds nothing to the figure and is named in
#: the evidence. See docs/rules/DW301.md.
TOOLCHAIN_BYTES: dict[str, int] = {
    "build-essential": 245_000_000,
    "g++": 215_000_000,
    "g++-12": 215_000_000,
    "gcc": 180_000_000,
    "gcc-12": 180_000_000,
    "libc6-dev": 12_000_000,
    "clang": 350_000_000,
    "gfortran": 205_000_000,
    "cmake": 35_000_000,
    "make": 1_700_000,
    "pkg-config": 1_000_000,
    "autoconf": 2_400_000,
    "automake": 1_900_000,
    "libtool": 2_300_000,
    "python3-dev": 75_000_000,
    "libpython3-dev": 25_000_000,
    "libpq-dev": 10_000_000,
    "libssl-dev": 12_500_000,
    "libffi-dev": 500_000,
    "libxml2-dev": 10_500_000,
    "libxslt1-dev": 3_000_000,
    "libjpeg-dev": 900_000,
    "zlib1g-dev": 600_000,
    "default-libmysqlclient-dev": 13_000_000,
    "libmariadb-dev": 12_000_000,
    "libopenblas-dev": 115_000_000,
    "liblapack-dev": 22_000_000,
    "cargo": 300_000_000,
    "rustc": 250_000_000,
    "golang": 230_000_000,
}
_COMPILERS = ("build-essential", "g++", "g++-12", "gcc", "gcc-12", "clang", "gfortran")


def estimated_toolchain_bytes(packages: Iterable[str]) -> tuple[int, list[str]]:
    """``TOOLCHAIN_BYTES`` summed over ``packages`` (only the biggest compiler), and the names the table
    does not list."""
    names = list(dict.fromkeys(p.split("=")[0].partition(":")[0] for p in packages))
    compilers = [TOOLCHAIN_BYTES[n] for n in names if n in _COMPILERS]
    rest = sum(TOOLCHAIN_BYTES.get(n, 0) for n in names if n not in _COMPILERS)
    return max(compilers, default=0) + rest, [n for n in names if n not in TOOLCHAIN_BYTES]


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
        """Static mode: the final stage's Dockerfile installs a toolchain; its bytes from ``TOOLCHAIN_BYTES``."""
        installs = _toolchain_installs(ctx)
        if not installs:
            return []
        names = list(dict.fromkeys(name for _cmd, tools in installs for name in tools))
        total, unlisted = estimated_toolchain_bytes(names)
        evidence = _install_evidence(ctx, installs)
        evidence.append(Evidence("estimate", f"about {human_bytes(total)} from the documented size table (Debian "
                                 "bookworm, amd64)" + (f"; not in the table: {', '.join(unlisted)}" if unlisted
                                                       else ""), None))
        return [
            self.finding(
                ctx,
                title=f"Build toolchain installed in the final stage (about {human_bytes(total)})",
                savings_bytes=total,
                estimated=True,
                evidence=evidence,
                remedy=[_split(ctx, names, installs)],
                claims={"static-toolchain": total},
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
