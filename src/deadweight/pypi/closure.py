"""Estimate what ``pip install REQS`` would put into an image, from index metadata alone.

Static audits have no image to measure, so deadweight walks the requirement graph the way pip would pick
wheels for the target Python and platform (highest version that satisfies the first specifier seen, best
tag), sizing each wheel exactly from its central directory. It is not a full resolver: a conflict keeps
the first pick, and the result is marked estimated wherever it is shown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.parser import Parser

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from deadweight.errors import SourceError
from deadweight.model.image import Platform
from deadweight.pypi.index import IndexClient, IndexFile
from deadweight.pypi.remote_wheel import WheelFacts, WheelInspector
from deadweight.pypi.select import pick_wheel
from deadweight.pypi.tags import target_tags

_MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}


def marker_environment(python: str, platform: Platform) -> dict[str, str]:
    """PEP 508 marker variables for CPython ``python`` on Linux ``platform``."""
    full = python if python.count(".") >= 2 else python + ".0"
    return {
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": full,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "implementation_version": full,
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": _MACHINE.get(platform.architecture, platform.architecture),
        "platform_release": "",
        "platform_version": "",
        "extra": "",
    }


@dataclass
class ResolvedWheel:
    name: str  # canonical
    version: str
    filename: str
    url: str
    installed_bytes: int
    gpu_bytes: int
    top_level: tuple[str, ...]
    requires: list[str] = field(default_factory=list)  # canonical names of active requirements
    required_by: list[str] = field(default_factory=list)


@dataclass
class Closure:
    wheels: dict[str, ResolvedWheel]
    unresolved: dict[str, str]  # name -> why (no compatible wheel, offline miss, index error)


def requirement_active(req: Requirement, env: dict[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    try:
        if req.marker.evaluate(env):
            return True
        return any(req.marker.evaluate({**env, "extra": extra}) for extra in extras)
    except InvalidMarker:
        return True


class ClosureResolver:
    def __init__(
        self,
        indexes: Sequence[IndexClient],
        inspector: WheelInspector,
        *,
        python: str,
        platform: Platform,
        libc: str = "glibc",
    ) -> None:
        self.indexes = indexes
        self.inspector = inspector
        self.python = python
        self.env = marker_environment(python, platform)
        self.tags = target_tags(python, platform, libc=libc)

    def _find(self, req: Requirement) -> IndexFile | None:
        for index in self.indexes:
            choice = pick_wheel(index.project_files(req.name), str(req.specifier), self.tags, self.python)
            if choice is not None:
                return choice
        return None

    def _metadata_requires(self, facts: WheelFacts) -> list[Requirement]:
        if not facts.metadata:
            return []
        message = Parser().parsestr(facts.metadata, headersonly=True)
        out = []
        for text in message.get_all("Requires-Dist") or []:
            try:
                out.append(Requirement(text))
            except InvalidRequirement:
                continue
        return out

    def resolve(self, roots: Iterable[str | Requirement]) -> Closure:
        wheels: dict[str, ResolvedWheel] = {}
        unresolved: dict[str, str] = {}
        queue: deque[tuple[Requirement, str | None]] = deque()
        for root in roots:
            try:
                queue.append((root if isinstance(root, Requirement) else Requirement(root), None))
            except InvalidRequirement:
                unresolved[str(root)] = "not a valid requirement"
        extras_of: dict[str, set[str]] = {}
        while queue:
            req, parent = queue.popleft()
            name = canonicalize_name(req.name)
            if parent is None and not requirement_active(req, self.env, ()):
                continue
            if name in wheels:
                if parent and parent not in wheels[name].required_by:
                    wheels[name].required_by.append(parent)
                new_extras = set(req.extras) - extras_of[name]
                if not new_extras:
                    continue
                extras_of[name] |= new_extras
                requires = self._metadata_requires(self.inspector.facts(wheels[name].url))
                self._enqueue(queue, wheels[name], requires, new_extras, extras_only=True)
                continue
            if name in unresolved:
                continue
            try:
                chosen = self._find(req)
                if chosen is None:
                    unresolved[name] = f"no wheel of {req} for CPython {self.python} on this platform"
                    continue
                facts = self.inspector.facts(chosen.url)
            except SourceError as exc:
                unresolved[name] = str(exc)
                continue
            version = chosen.version()
            wheel = ResolvedWheel(
                name=name,
                version=str(version) if version else "",
                filename=chosen.filename,
                url=chosen.url,
                installed_bytes=facts.installed_bytes,
                gpu_bytes=facts.gpu_bytes,
                top_level=facts.top_level,
                required_by=[parent] if parent else [],
            )
            wheels[name] = wheel
            extras_of[name] = set(req.extras)
            self._enqueue(queue, wheel, self._metadata_requires(facts), set(req.extras), extras_only=False)
        return Closure(wheels, unresolved)

    def _enqueue(
        self,
        queue: deque[tuple[Requirement, str | None]],
        wheel: ResolvedWheel,
        requires: list[Requirement],
        extras: set[str],
        *,
        extras_only: bool,
    ) -> None:
        for dep in requires:
            active_plain = requirement_active(dep, self.env, ())
            active_extra = requirement_active(dep, self.env, extras)
            if (extras_only and active_plain) or not active_extra:
                continue
            dep_name = canonicalize_name(dep.name)
            if dep_name not in wheel.requires:
                wheel.requires.append(dep_name)
            queue.append((dep, wheel.name))
