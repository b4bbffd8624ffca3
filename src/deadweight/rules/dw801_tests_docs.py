"""DW801 (opt-in): tests, docs, C headers and static libraries shipped inside site-packages.

Opt-in because removing them is a strip step users must choose (some packages import their own tests).
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.inventory.classify import is_tests_or_docs
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.rules.base import Rule, RuleContext
from deadweight.units import human_bytes

MIN_BYTES = 1 << 20
_STRIP_SUFFIXES = (".a", ".h", ".hpp", ".pyi", ".c", ".cpp", ".pxd", ".pyx")


class TestsAndDocs(Rule):
    id = "DW801"
    name = "NonRuntimeFilesInSitePackages"
    title = "Tests, docs, headers in site-packages"
    severity = Severity.INFO
    description = (
        "Test suites, documentation, C headers or static libraries inside site-packages that the service "
        "never loads."
    )
    fix = "Strip them in the build stage."
    default_enabled = False
    needs_image = True

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        if ctx.inventory is None or ctx.analysis is None:
            return []
        tree = ctx.analysis.tree
        claims: dict[str, int] = {}
        per_dist: dict[str, int] = {}
        for env in ctx.inventory.environments:
            prefix = env.path.rstrip("/") + "/"
            for dist in env.distributions:
                for path in dist.files:
                    if not path.startswith(prefix):
                        continue
                    rel = path[len(prefix) :]
                    if is_tests_or_docs(rel) or rel.endswith(_STRIP_SUFFIXES):
                        node = tree.get(path)
                        if node is not None and node.size:
                            claims[f"file:{path}"] = node.size
                            per_dist[dist.name] = per_dist.get(dist.name, 0) + node.size
        total = sum(claims.values())
        if total < MIN_BYTES:
            return []
        top = sorted(per_dist.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        return [
            self.finding(
                ctx,
                title=f"Tests, docs, headers and static libraries in site-packages ({human_bytes(total)})",
                savings_bytes=total,
                estimated=False,
                evidence=[Evidence("record", f"{name}: {human_bytes(size)}", name) for name, size in top],
                fix="Add a strip step after pip install (delete tests/, docs/, *.a, *.h) in the build stage.",
                claims=claims,
            )
        ]
