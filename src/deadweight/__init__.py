"""deadweight: find the dead weight in Python container images, remove it, prove the result still works.

Library use: ``from deadweight import audit, fix, inspect, optimize, verify`` (see docs/library.md). They return the
model (``AuditReport``, ``FixPlan``, ``InspectResult``, ``VerifyReport``) and raise
``deadweight.errors.DeadweightError`` subclasses; nothing prints or exits. They are loaded on first use, so
``import deadweight`` stays cheap.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from deadweight._version import __version__

__all__ = ["__version__", "audit", "fix", "inspect", "optimize", "verify"]

if TYPE_CHECKING:
    from deadweight.pipeline.audit import audit
    from deadweight.pipeline.fix import fix
    from deadweight.pipeline.inspect import inspect
    from deadweight.pipeline.optimize import optimize
    from deadweight.pipeline.verify import verify


class _Package(types.ModuleType):
    """``deadweight.verify`` is the function: importing the ``deadweight.verify`` package (verify's parts) would
    otherwise bind the package over it as an attribute of ``deadweight``. The package stays importable by its
    dotted name (``from deadweight.verify.bisect import find_culprits``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "verify" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name == "audit":
        from deadweight.pipeline.audit import audit  # noqa: PLC0415 - the pipeline pulls in everything

        return audit
    if name == "fix":
        from deadweight.pipeline.fix import fix  # noqa: PLC0415

        return fix
    if name == "inspect":
        from deadweight.pipeline.inspect import inspect  # noqa: PLC0415

        return inspect
    if name == "optimize":
        from deadweight.pipeline.optimize import optimize  # noqa: PLC0415

        return optimize
    if name == "verify":
        from deadweight.pipeline.verify import verify  # noqa: PLC0415

        return verify
    raise AttributeError(f"module 'deadweight' has no attribute {name!r}")
