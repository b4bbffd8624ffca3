"""Estimate what ``pip install REQS`` would put into an image, from index metadata alone.

Static audits have no image to measure, so deadweight walks the requirement graph the way pip would pick
files for the target Python and platform (``select.best_file``: pip's rules for pre-releases, yanked files
and Requires-Python, every index's files pooled; the first specifier seen for a name decides), sizing each
wheel exactly from its central directory. It is not a full resolver: a conflict keeps the first pick, and
the result is marked estimated wherever it is shown.

The walk is breadth-first and its decisions are made in one thread, in queue order; only the I/O (index
pages, then the chosen wheel's central directory) runs in a bounded pool of threads. A name's fetch starts
as soon as its first requirement is queued, which is also the requirement that decides it, so the result
is the same as a sequential walk's (``workers=1``), only sooner.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import Parser
from functools import lru_cache
from typing import Any, TypeVar

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from deadweight.errors import SourceError
from deadweight.model.image import Platform
from deadweight.pypi.index import MAX_CONNECTIONS, IndexClient, IndexFile
from deadweight.pypi.remote_wheel import WheelFacts, WheelInspector
from deadweight.pypi.sdist import SdistFacts, SdistInspector
from deadweight.pypi.select import best_file
from deadweight.pypi.tags import target_tags

T = TypeVar("T")
_MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}
#: Version of the rules behind a cached pick (select.py, tags.py): bump it when they change what is picked.
PICK_RULES = 1
_KINDS = ("wheel", "sdist", "none")
#: Threads fetching index pages and central directories at once (each index client pools as many).
DEFAULT_WORKERS = MAX_CONNECTIONS


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
    download_bytes: int = 0  # the wheel file's size (the index's, else its members' compressed bytes)
    required_by: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Choice:
    """What the pool found for one requirement: the file and its facts, or why there is none."""

    file: IndexFile | None = None
    facts: WheelFacts | None = None
    why: str | None = None
    sdist: SdistFacts | None = None  # pip would build this sdist: what its metadata says it requires


class _Inline(Executor):
    """``workers=1``: each fetch runs in the calling thread when its result is first asked for, exactly the
    order of a plain sequential walk."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return _LazyFuture(lambda: fn(*args, **kwargs))


class _LazyFuture(Future[T]):
    def __init__(self, thunk: Callable[[], T]) -> None:
        super().__init__()
        self._thunk: Callable[[], T] | None = thunk

    def result(self, timeout: float | None = None) -> T:
        if self._thunk is not None:
            thunk, self._thunk = self._thunk, None
            self.set_result(thunk())
        return super().result(timeout)


@dataclass
class Closure:
    wheels: dict[str, ResolvedWheel]
    unresolved: dict[str, str]  # name -> why (no compatible wheel, offline miss, index error)
    # packages pip would build from an sdist (also in ``unresolved``: not sized): each as a ResolvedWheel of 0
    # bytes whose ``requires`` come from the sdist's metadata (followed like a wheel's), and the names of
    # those whose requirements could not be read (``sdist_unknown``: what they might need is unknown)
    sdists: dict[str, ResolvedWheel] = field(default_factory=dict)
    sdist_unknown: dict[str, str] = field(default_factory=dict)  # name -> why its requirements are unknown


def requirement_active(req: Requirement, env: dict[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    try:
        if req.marker.evaluate(env):
            return True
        return any(req.marker.evaluate({**env, "extra": extra}) for extra in extras)
    except InvalidMarker:
        return True


@lru_cache(maxsize=8192)
def _requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


@lru_cache(maxsize=1024)
def metadata_requires(metadata: str | None) -> tuple[Requirement, ...]:
    """The valid ``Requires-Dist`` entries of a METADATA text, parsed once per distinct text (the services of
    a fleet share most of their wheels). The objects are shared: not to be mutated."""
    if not metadata:
        return ()
    message = Parser().parsestr(metadata, headersonly=True)
    parsed = (_requirement(text) for text in message.get_all("Requires-Dist") or [])
    return tuple(req for req in parsed if req is not None)


class ClosureResolver:
    def __init__(
        self,
        indexes: Sequence[IndexClient],
        inspector: WheelInspector,
        *,
        python: str,
        platform: Platform,
        libc: str = "glibc",
        prereleases: bool = False,
        workers: int | None = None,
        sdists: SdistInspector | None = None,
    ) -> None:
        self.indexes = indexes
        self.inspector = inspector
        self.sdists = sdists or SdistInspector(inspector.store, offline=inspector.offline)
        self.python = python
        self.env = marker_environment(python, platform)
        self.platform = platform
        self.libc = libc
        self.tags = target_tags(python, platform, libc=libc)
        self.prereleases = prereleases
        self.workers = max(1, DEFAULT_WORKERS if workers is None else workers)

    def _pick_key(self, req: Requirement) -> str:
        target = [self.python, self.platform.os, self.platform.architecture, self.platform.variant, self.libc]
        return "pick:" + json.dumps([PICK_RULES, [index.base_url for index in self.indexes],
                                     canonicalize_name(req.name), str(req.specifier), target, self.prereleases])

    def _choose(self, req: Requirement) -> _Choice:
        """Runs in the pool: every index's page for ``req`` pooled as pip pools them, the file pip would
        pick, and, for a wheel, its facts. Touches no resolver state.

        The pick itself is cached too (``pick:`` entries), tied to the tokens of the pages it was made
        from, so a warm run reads neither a page nor its thousands of file entries again until a page is
        written anew."""
        store = self.inspector.store
        key = self._pick_key(req)
        try:
            tokens = [index.page_token(req.name) for index in self.indexes]
            entry = store.get(key) if all(tokens) else None
            if isinstance(entry, dict) and entry.get("pages") == tokens and entry.get("kind") in _KINDS:
                try:
                    cached = IndexFile(**entry["file"]) if entry["file"] else None
                except TypeError:
                    cached = None
                if cached is not None or entry["kind"] == "none":
                    return self._outcome(req, entry["kind"], cached)
            files = [f for index in self.indexes for f in index.project_files(req.name)]
            chosen = best_file(files, str(req.specifier), self.tags, self.python, prereleases=self.prereleases)
            kind = "none" if chosen is None else "wheel" if chosen.is_wheel else "sdist"
            tokens = [index.page_token(req.name, create=True) for index in self.indexes]
            store.put(key, {"pages": tokens, "kind": kind, "file": chosen.as_json() if chosen else None})
            return self._outcome(req, kind, chosen)
        except SourceError as exc:
            return _Choice(why=str(exc))

    def _outcome(self, req: Requirement, kind: str, chosen: IndexFile | None) -> _Choice:
        if chosen is None or kind == "none":
            return _Choice(why=f"no wheel of {req} for CPython {self.python} on this platform")
        if kind == "sdist":
            why = (f"pip would build {chosen.filename} from source: no wheel of that version for CPython "
                   f"{self.python} on this platform")
            try:
                sdist = self.sdists.facts(chosen)
            except SourceError as exc:
                sdist = SdistFacts(chosen.url, None, "", f"its metadata could not be read ({exc})")
            return _Choice(chosen, None, why, sdist)
        return _Choice(chosen, self.inspector.facts(chosen.url, chosen.size))

    def resolve(self, roots: Iterable[str | Requirement]) -> Closure:
        if self.workers == 1:
            return self._resolve(roots, _Inline())
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="deadweight-index")
        try:
            result = self._resolve(roots, pool)
        except BaseException:
            # an error or a signal: do not sit out the index timeouts of requests still in flight; what they
            # bring back is discarded, and their cache writes are whole-file replacements
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return result

    def _resolve(self, roots: Iterable[str | Requirement], pool: Executor) -> Closure:
        wheels: dict[str, ResolvedWheel] = {}
        facts_of: dict[str, WheelFacts] = {}
        unresolved: dict[str, str] = {}
        sdists: dict[str, ResolvedWheel] = {}
        sdist_unknown: dict[str, str] = {}
        queue: deque[tuple[Requirement, str | None]] = deque()
        # the first queued requirement of each name decides it (FIFO): its fetch starts when it is queued
        pending: dict[str, Future[_Choice]] = {}

        def push(req: Requirement, parent: str | None) -> None:
            queue.append((req, parent))
            name = canonicalize_name(req.name)
            if name not in pending:
                pending[name] = pool.submit(self._choose, req)

        for root in roots:
            try:
                req = root if isinstance(root, Requirement) else Requirement(root)
            except InvalidRequirement:
                unresolved[str(root)] = "not a valid requirement"
                continue
            if requirement_active(req, self.env, ()):
                push(req, None)
        extras_of: dict[str, set[str]] = {}
        while queue:
            req, parent = queue.popleft()
            name = canonicalize_name(req.name)
            if name in wheels:
                if parent and parent not in wheels[name].required_by:
                    wheels[name].required_by.append(parent)
                new_extras = set(req.extras) - extras_of[name]
                if not new_extras:
                    continue
                extras_of[name] |= new_extras
                requires = metadata_requires(facts_of[name].metadata)
                self._enqueue(push, wheels[name], requires, new_extras, extras_only=True)
                continue
            if name in unresolved:
                continue
            choice = pending[name].result()
            if choice.sdist is not None and choice.file is not None:
                unresolved[name] = choice.why or "only a source distribution"
                self._sdist(push, req, parent, (choice.file, choice.sdist), sdists=sdists, unknown=sdist_unknown)
                continue
            if choice.file is None or choice.facts is None:
                unresolved[name] = choice.why or "not found"
                continue
            chosen, facts = choice.file, choice.facts
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
                download_bytes=chosen.size or facts.archive_bytes,
            )
            wheels[name] = wheel
            facts_of[name] = facts
            extras_of[name] = set(req.extras)
            self._enqueue(push, wheel, metadata_requires(facts.metadata), set(req.extras), extras_only=False)
        return Closure(wheels, unresolved, sdists, sdist_unknown)

    def _sdist(
        self, push: Callable[[Requirement, str | None], None], req: Requirement, parent: str | None,
        choice: tuple[IndexFile, SdistFacts], *, sdists: dict[str, ResolvedWheel], unknown: dict[str, str],
    ) -> None:
        """An sdist-only package: its stated requirements are followed like a wheel's; without them, it is
        recorded as needing what nobody can tell."""
        file, facts = choice
        name = canonicalize_name(req.name)
        version = file.version()
        package = ResolvedWheel(name=name, version=str(version) if version else "", filename=file.filename,
                                url=file.url, installed_bytes=0, gpu_bytes=0, top_level=(),
                                required_by=[parent] if parent else [])
        sdists[name] = package
        if facts.requires is None:
            unknown[name] = facts.why or "its requirements could not be read"
            return
        parsed = tuple(r for r in (_requirement(text) for text in facts.requires) if r is not None)
        self._enqueue(push, package, parsed, set(req.extras), extras_only=False)

    def _enqueue(
        self,
        push: Callable[[Requirement, str | None], None],
        wheel: ResolvedWheel,
        requires: Sequence[Requirement],
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
            push(dep, wheel.name)
