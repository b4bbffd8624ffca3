"""DW601: a heavier base image than the service needs.

``python:X`` carries a full Debian with compilers and headers (about 1 GB); ``python:X-slim`` has what a
service running wheels needs (about 130 MB). Only the official ``python`` image is judged, through the
root of the final stage's FROM chain. Base sizes come from a documented table (the image is not pulled),
so savings are estimated. Alpine is mentioned only inside that finding, and only when the index shows a
musllinux (or pure-Python) wheel of every installed distribution's version for that Python; otherwise the
finding names the distributions that would have to compile on alpine. A slim base is never flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.project import Service
from deadweight.model.remedy import ReplaceBase
from deadweight.model.usage import Confidence
from deadweight.project.stages import final_chain
from deadweight.rules.base import Rule, RuleContext, instruction_span

#: Uncompressed sizes of official python images, linux/amd64, Debian bookworm (``docker image inspect``,
#: measured 2025 on python:3.11/3.12; patch releases move these by a few MB).
BASE_SIZES = {"full": 1_020_000_000, "slim": 131_000_000, "alpine": 57_000_000}
_PYTHON_BASE = re.compile(
    r"^(?:docker\.io/)?(?:library/)?python(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*))?(?:@sha256:[0-9a-f]+)?$"
)
# Bounded: a version of the official image has at most three short parts (``3.11.7``); a tag such as
# ``3.99999999999999999999999`` is no Python version (computing wheel tags for it would never end).
_VERSION_TAG = re.compile(r"^(?P<ver>\d{1,2}(?:\.\d{1,2})?(?:\.\d{1,3})?)(?:-(?P<variant>.+))?$")


def base_variant(base: str) -> tuple[str, str] | None:
    """(python version or "", "full" | "slim" | "alpine" | other variant) for an official python base.

    No tag means ``latest``, the full image; a tag without a version (``slim``, ``bookworm``) has version "".
    """
    match = _PYTHON_BASE.match(base.strip())
    if not match:
        return None
    tag = match.group("tag") or "latest"
    version_tag = _VERSION_TAG.match(tag)
    if version_tag:
        version, variant = version_tag.group("ver"), version_tag.group("variant") or ""
    else:
        version, variant = "", "" if tag == "latest" else tag
    if variant in ("", "bookworm", "bullseye", "trixie"):
        return version, "full"
    if variant.startswith("slim"):
        return version, "slim"
    if variant.startswith("alpine"):
        return version, "alpine"
    return version, variant


def python_base(service: Service) -> tuple[str, str] | None:
    """``base_variant`` of the service's base image, or None when it is not the official python image."""
    chain = final_chain(service)
    return base_variant(chain[-1].base) if chain else None


def slim_of(version: str) -> str:
    return f"python:{version}-slim" if version else "python:slim"


class HeavierBase(Rule):
    id = "DW601"
    name = "HeavierBaseImage"
    title = "Heavier base image than needed"
    severity = Severity.MEDIUM
    description = (
        "The base image is a full variant (python:X) where the slim one (or alpine, when every wheel exists "
        "for musl) would do."
    )
    fix = "Switch to the lighter base image."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        dockerfile = ctx.service.dockerfile
        chain = final_chain(ctx.service)
        if dockerfile is None or not chain:
            return []
        root = chain[-1]
        parsed = base_variant(root.base)
        if parsed is None or parsed[1] != "full":
            return []
        version, _ = parsed
        where = f"{dockerfile.path}:{root.from_instruction.start_line}"
        evidence = [Evidence("dockerfile", f"final stage is based on {root.base}", where)]
        compiles = self._needs_compiler(ctx, {s.index for s in chain})
        if compiles:
            evidence.append(Evidence("dockerfile", f"builds from source in this stage: {', '.join(compiles)}", where))
        gaps = ctx.musl_gaps
        alpine = None
        if gaps == () and not compiles:
            alpine = f"python:{version}-alpine" if version else "python:alpine"
            count = len(ctx.distributions())
            evidence.append(Evidence("index", f"every distribution ({count}) has a musllinux or pure wheel", None))
        elif gaps:
            shown = ", ".join(gaps[:8]) + (", ..." if len(gaps) > 8 else "")
            evidence.append(Evidence("index", f"not alpine: no musllinux wheel of {shown}; these would compile", None))
        return [
            self.finding(
                ctx,
                title=f"{root.base} where {slim_of(version)} would do",
                path=where,
                savings_bytes=BASE_SIZES["full"] - BASE_SIZES["slim"],
                estimated=True,
                confidence=Confidence.LOW if compiles else Confidence.MEDIUM,
                evidence=evidence,
                remedy=[ReplaceBase(root.base, slim_of(version), builder=bool(compiles), alternative=alpine,
                                    **instruction_span(dockerfile, root.from_instruction))],
            )
        ]

    def _needs_compiler(self, ctx: RuleContext, stages: set[int]) -> list[str]:
        """pip/uv ``--no-binary`` installs in the final stage's chain (builder stages compile elsewhere)."""
        out = []
        for cmd in ctx.service.installs:
            no_binary = any(f.startswith("--no-binary") for f in cmd.flags)
            if cmd.stage_index in stages and cmd.tool in ("pip", "uv") and no_binary:
                out.append(f"{cmd.tool} --no-binary (line {cmd.line})")
        return out
