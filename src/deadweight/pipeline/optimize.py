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
from deadweight.model.verification import VerifyReport
from deadweight.pipeline.verify import DEFAULT_TAG_PREFIX, verify

__all__ = ["optimize"]


def optimize(
    path: str | Path = ".",
    *,
    config: Config | None = None,
    images: Mapping[str, str] | None = None,
    write: bool = False,
    network: str | None = None,
    checks: Collection[str] = (),
    progress: Callable[[str, str], None] | None = None,
    tag_prefix: str = DEFAULT_TAG_PREFIX,
) -> VerifyReport:
    """The service or fleet at ``path`` audited, fixed, rebuilt and proven; with ``write``, the edits that
        passed written to its files.

        ``images`` maps a service to its current image (else it is found in the engine or built from the original
        files); ``network`` is passed to every build and run; ``checks`` limits the checks to these names (all when
        empty); ``progress(service, what)`` is called at each step (building, checking, waiting on ...); the images
    it builds are tagged ``TAG_PREFIX/SERVICE:...`` (and the after image kept, for the checks' rerun commands).

        Raises what ``verify`` raises, before any work: ``UsageError`` for a bad path, check or service,
        ``SourceError`` when there is no Docker engine (optimize cannot measure anything without one); ``FixError``
        when ``write`` could not write.
    """
    return verify(
        path,
        config=config,
        images=images,
        write=write,
        network=network,
        checks=checks,
        progress=progress,
        tag_prefix=tag_prefix,
    )
