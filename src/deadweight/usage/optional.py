"""Optional runtime dependencies of frameworks (data/optional_deps.toml) and plugin entry-point groups.

Why: ``python-multipart`` is never imported by a FastAPI project, FastAPI imports it when a route uses
``Form(...)``; uvicorn picks uvloop and httptools when they are installed; pandas reads Parquet through
pyarrow. The curated table names the consumer, the optional distribution and the code pattern that
triggers it, with the documentation that says so.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from packaging.utils import canonicalize_name

from deadweight import safetoml
from deadweight.errors import ParseError
from deadweight.model.usage import Confidence, EvidenceKind, UsageEvidence

WHERE_KINDS = frozenset({"python", "config", "command"})


@dataclass(frozen=True)
class OptionalDep:
    consumer: str  # canonical
    provides: tuple[str, ...]  # canonical, alternatives
    when: str  # "pattern" or "used"
    where: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    why: str
    docs: str


@dataclass(frozen=True)
class OptionalTable:
    entries: tuple[OptionalDep, ...]
    plugin_groups: dict[str, tuple[str, ...]]

    def when_used(self, consumer: str) -> list[OptionalDep]:
        return [e for e in self.entries if e.when == "used" and e.consumer == consumer]


def parse_table(text: str, source: str) -> OptionalTable:
    """Parse and validate the table format (documented in docs/evidence.md)."""
    try:
        raw = safetoml.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"{source}: {exc}") from exc
    entries: list[OptionalDep] = []
    for i, item in enumerate(raw.get("optional", [])):
        try:
            when = item["when"]
            where = frozenset(item.get("where", []))
            if when not in {"pattern", "used"} or not where <= WHERE_KINDS:
                raise ValueError(f"bad when/where {when!r} {sorted(where)}")
            patterns = tuple(re.compile(p, re.MULTILINE) for p in item.get("patterns", []))
            if when == "pattern" and not (patterns and where):
                raise ValueError("a pattern entry needs patterns and where")
            entries.append(OptionalDep(
                consumer=canonicalize_name(item["consumer"]),
                provides=tuple(canonicalize_name(p) for p in item["provides"]),
                when=when, where=where, patterns=patterns, why=item["why"], docs=item.get("docs", ""),
            ))
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise ParseError(f"{source}: optional entry {i + 1}: {exc}") from exc
    groups: dict[str, tuple[str, ...]] = {
        str(g): tuple(str(canonicalize_name(c)) for c in cs) for g, cs in raw.get("plugins", {}).items()
    }
    return OptionalTable(tuple(entries), groups)


@functools.cache
def optional_table() -> OptionalTable:
    """The packaged curated table."""
    text = resources.files("deadweight.data").joinpath("optional_deps.toml").read_text()
    return parse_table(text, "deadweight/data/optional_deps.toml")


def optional_evidence(text: str, path: str, where: str, *, line: int = 1,
                      table: OptionalTable | None = None) -> list[UsageEvidence]:
    """Optional-dependency evidence for ``text`` of kind ``where`` (python, config or command)."""
    table = table or optional_table()
    found: list[UsageEvidence] = []
    for entry in table.entries:
        if entry.when != "pattern" or where not in entry.where:
            continue
        for pattern in entry.patterns:
            match = pattern.search(text)
            if match is None:
                continue
            at = line + text.count("\n", 0, match.start())
            snippet = match.group(0).strip()
            for dist in entry.provides:
                found.append(UsageEvidence(
                    EvidenceKind.OPTIONAL_DEP, f"{entry.consumer} {snippet!r} needs {dist}: {entry.why}",
                    f"{path}:{at}", dist, Confidence.HIGH if len(entry.provides) == 1 else Confidence.MEDIUM,
                    consumer=entry.consumer,
                ))
            break
    return found


def group_consumers(group: str, table: OptionalTable | None = None) -> tuple[str, ...] | None:
    """Distributions known to load entry-point ``group`` (None: not in the table)."""
    table = table or optional_table()
    return table.plugin_groups.get(group)
