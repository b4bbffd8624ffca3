"""``inspect``: read an image once and say where its bytes are; optionally what it installs and what a
project really uses of it. Nothing printed, nothing exits: errors are ``DeadweightError`` subclasses.

The analysis (``pipeline.analyze.analyze_image``) streams every layer; ``packages``/``breakdown`` add the
package inventory (``inventory.build``); ``project`` adds the usage join ``audit`` uses
(``usage.service.service_verdicts``), so both say the same thing about a distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deadweight.errors import ParseError, UsageError
from deadweight.inventory.build import build_inventory
from deadweight.inventory.capture import for_config
from deadweight.model.image import ImageConfig, Platform
from deadweight.model.inspect import InspectResult
from deadweight.model.project import Service
from deadweight.pipeline.analyze import Progress, analyze_image
from deadweight.sources.base import SourceOptions


@dataclass(frozen=True, slots=True)
class InspectOptions:
    """What to compute, as ``deadweight inspect``'s options say (rendering options stay in the CLI)."""

    platform: str | None = None
    verify: bool = False
    insecure: bool = False
    packages: bool = False
    breakdown: bool = False
    project: str | None = None
    service: str | None = None
    fast_path: bool = True  # docker: read the engine's storage directly when it can

    @property
    def needs_inventory(self) -> bool:
        return self.packages or self.breakdown or self.project is not None


def content_wanted(options: InspectOptions, image_config: ImageConfig) -> Callable[[str], bool] | None:
    """Which files' contents the layer scan keeps: none for the plain report; package metadata (and, with
    a project, the application code under WORKDIR) for the package view."""
    if not options.needs_inventory:
        return None
    if not options.project:
        return for_config(image_config)
    from deadweight.usage.service import audit_capture  # noqa: PLC0415 - the usage join only with a project

    return audit_capture(image_config)


def project_service(project_path: str, service_name: str | None) -> Service:
    """The one service of the project at ``project_path`` the image is for (``service_name`` when several)."""
    from deadweight.project.loader import load_project  # noqa: PLC0415 - project parsers only with a project

    project = load_project(project_path)
    services = project.services
    if service_name is not None:
        chosen = project.service(service_name)
        if chosen is None:
            names = ", ".join(s.name for s in services)
            raise UsageError(f"--service {service_name}: not in {project_path} (services: {names})")
        services = (chosen,)
    if len(services) != 1:
        names = ", ".join(s.name for s in services)
        raise UsageError(f"{project_path} has several services ({names}); name one with --service")
    if services[0].load_error:
        raise ParseError(services[0].load_error)
    return services[0]


def run_inspect(ref: str, options: InspectOptions, progress: Progress | None = None) -> InspectResult:
    """Analyse image ``ref`` as ``options`` say; ``progress(layers_done, layers_total, bytes_read)``."""
    # sources pull in the registry and engine clients: load them only when an image is read
    from deadweight.sources.resolve import open_source  # noqa: PLC0415

    if options.platform is not None:
        Platform.parse(options.platform)  # a usage error before any I/O
    service = project_service(options.project, options.service) if options.project is not None else None
    source_options = SourceOptions(platform=options.platform, insecure=options.insecure, verify=options.verify,
                                   fast_path=options.fast_path)
    with open_source(ref, source_options) as source:
        want = content_wanted(options, source.config())
        analysis = analyze_image(source, want=want, verify=options.verify, progress=progress)
    if not options.needs_inventory:
        return InspectResult(analysis)
    inventory = build_inventory(analysis.tree, analysis.image_config)
    if service is None:
        return InspectResult(analysis, inventory)
    from deadweight.usage.service import service_verdicts  # noqa: PLC0415

    joined = service_verdicts(service, inventory=inventory, image_config=analysis.image_config, tree=analysis.tree)
    return InspectResult(analysis, inventory, joined.verdicts)


def inspect(
    ref: str,
    *,
    platform: str | None = None,
    verify: bool = False,
    insecure: bool = False,
    packages: bool = False,
    breakdown: bool = False,
    project: str | Path | None = None,
    service: str | None = None,
    fast_path: bool = True,
    progress: Progress | None = None,
) -> InspectResult:
    """Read image ``ref`` once and account for its bytes, as ``deadweight inspect REF`` does.

    ``ref`` is any reference the CLI takes (``docker-archive:PATH``, ``oci:PATH``, ``registry:...``,
    ``docker:NAME``, a path, a bare name). ``packages`` or ``breakdown`` add ``inventory``; ``project``
    (a service directory or compose file; ``service`` names one of several) adds ``verdicts``.
    ``fast_path=False`` streams ``docker save`` instead of reading a local engine's storage.
    Raises ``UsageError`` for bad arguments, ``SourceError`` (and subclasses) when the image cannot be
    read, ``ParseError`` when a project file cannot be parsed.
    """
    options = InspectOptions(platform=platform, verify=verify, insecure=insecure, packages=packages,
                             breakdown=breakdown, project=None if project is None else str(project), service=service,
                             fast_path=fast_path)
    return run_inspect(ref, options, progress)
