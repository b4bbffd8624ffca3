"""DW601: a heavier base image than the service needs.

``python:X`` carries a full Debian with compilers and headers (about 1 GB); ``python:X-slim`` has what a
service running wheels needs (about 130 MB). Base sizes come from a documented table (the image is not
pulled), so savings are estimated. Alpine is suggested only when every distribution in the image has a
musllinux wheel for that Python; otherwise the finding names what would have to compile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deadweight.model.evidence import Confidence
from deadweight.model.finding import Evidence, Finding
from deadweight.rules.base import Rule, RuleContext

#: Uncompressed sizes of official python images, linux/amd64, Debian bookworm (``docker image inspect``,
#: measured 2025 on python:3.11/3.12; patch releases move these by a few MB).
BASE_SIZES = {"full": 1_020_000_000, "slim": 131_000_000, "alpine": 57_000_000}
_PYTHON_BASE = re.compile(r"^(?:docker\.io/)?(?:library/)?python:(?P<ver>\d+(?:\.\d+)*)(?P<variant>-[a-z0-9.-]+)?$")


def base_variant(base: str) -> tuple[str, str] | None:
    """(python version, "full" | "slim" | "alpine" | other variant) for an official python base."""
    match = _PYTHON_BASE.match(base.strip())
    if not match:
        return None
    variant = (match.group("variant") or "").lstrip("-")
    if variant in ("", "bookworm", "bullseye", "trixie"):
        return match.group("ver"), "full"
    if variant.startswith("slim"):
        return match.group("ver"), "slim"
    if variant.startswith("alpine"):
        return match.group("ver"), "alpine"
    return match.group("ver"), variant


class HeavierBase(Rule):
    id = "DW601"

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        dockerfile = ctx.service.dockerfile
        if dockerfile is None or not dockerfile.stages:
            return []
        stage = dockerfile.final_stage(ctx.service.build_target)
        chain = dockerfile.chain(stage)
        root = chain[-1]
        parsed = base_variant(root.base)
        if parsed is None or parsed[1] != "full":
            return []
        version, _ = parsed
        where = f"{dockerfile.path}:{root.from_instruction.start_line}"
        evidence = [Evidence("dockerfile", f"final stage is based on {root.base}", where)]
        compiles = self._needs_compiler(ctx)
        if compiles:
            evidence.append(Evidence("dockerfile", f"builds from source in this stage: {', '.join(compiles)}", where))
        return [
            self.finding(
                ctx,
                title=f"{root.base} where python:{version}-slim would do",
                path=where,
                savings_bytes=BASE_SIZES["full"] - BASE_SIZES["slim"],
                estimated=True,
                confidence=Confidence.LOW if compiles else Confidence.MEDIUM,
                evidence=evidence,
                fix=(f"Use FROM python:{version}-slim"
                     + (" for the final stage and compile in a builder stage." if compiles else ".")),
            )
        ]

    def _needs_compiler(self, ctx: RuleContext) -> list[str]:
        out = []
        for cmd in ctx.service.installs:
            if cmd.tool in ("pip", "uv") and any(f.startswith("--no-binary") for f in cmd.flags):
                out.append(f"{cmd.tool} --no-binary (line {cmd.line})")
        return out
