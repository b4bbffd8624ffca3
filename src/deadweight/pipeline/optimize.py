"""``optimize``: audit → fix → verify → write, for a service or a compose fleet, in one call.

It is ``verify`` with the user's files as the target: the audit finds the dead weight, fix plans the edits,
verify builds the before and after images in a scratch copy, proves the after image with its checks, drops the
edits that break one (bisecting), and with ``write=True`` writes only the edits that passed. The returned
:class:`VerifyReport` is what the results report renders (``reports/results_*.py``); nothing here computes a
figure. Dry run unless ``write``, as ``fix`` and ``verify`` are.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from deadweight.config import Config
from deadweight.engine.client import Engine, describe
from deadweight.errors import SourceError, UsageError
from deadweight.model.verification import VerifyReport
from deadweight.pipeline.images import PROBE_TIMEOUT

__all__ = ["optimize", "require_engine"]


def optimize(
    path: str | Path = ".",
    *,
    config: Config | None = None,
    images: Mapping[str, str] | None = None,
    write: bool = False,
    network: str | None = None,
    checks: Collection[str] = (),
    progress: Callable[[str, str], None] | None = None,
) -> VerifyReport:
    """The service or fleet at ``path`` audited, fixed, rebuilt and proven; with ``write``, the edits that
    passed written to its files.

    ``images`` maps a service to its current image (else it is found in the engine or built from the original
    files); ``network`` is passed to every build and run; ``checks`` limits the checks to these names (all when
    empty); ``progress(service, what)`` is called at each step (building, checking, waiting on ...).

    Raises ``UsageError`` for a path that does not exist and ``SourceError`` when there is no Docker engine to
    build and run the images with (optimize cannot measure anything without one), before any work is done.
    """
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or directory")
    require_engine()
    from deadweight.pipeline.verify import verify  # noqa: PLC0415 - the engine-heavy half, only when it runs

    return verify(path, config=config, images=images, write=write, network=network, checks=checks, progress=progress)


def require_engine() -> None:
    """Fail in one line, before any audit or build, when the local Docker engine cannot be reached."""
    with Engine(timeout=PROBE_TIMEOUT) as engine:
        try:
            engine.sdk().ping()
        except Exception as exc:  # the SDK raises requests', urllib3's or its own errors: any is "no engine"
            raise SourceError(
                f"optimize builds and checks the images with a Docker engine, and none could be "
                f"reached ({describe(exc)})"
            ) from None
