"""Everything that counts as use for one service: the code that ships, the commands that start it and the
environment it runs with. The image's own config (Cmd, Entrypoint, Env) is authoritative when there is one;
compose overrides what it sets, exactly as the engine does when it starts the container.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from deadweight.infile import read_bounded_text
from deadweight.inventory.capture import for_config
from deadweight.model.image import ImageConfig
from deadweight.model.inventory import Inventory
from deadweight.model.project import Service, ShippedFile
from deadweight.model.tree import TreeView
from deadweight.model.usage import EvidenceKind, UsageEvidence, Verdict
from deadweight.usage.commands import command_evidence
from deadweight.usage.device import GPU_FRAMEWORKS, GUI_CALLS
from deadweight.usage.mapping import ModuleMapper
from deadweight.usage.optional import optional_evidence
from deadweight.usage.scan import (
    ScanResult,
    context_files,
    is_ci_definition,
    scan_contents,
    scan_directory,
    scan_files,
)
from deadweight.usage.strings import env_assignment_evidence
from deadweight.usage.verdicts import decide

#: Files worth scanning for evidence: code, scripts and configuration.
CODE_SUFFIXES = (".py", ".sh", ".ini", ".cfg", ".toml", ".yaml", ".yml", ".json", ".conf", ".env")
CODE_NAMES = (
    "Procfile", "gunicorn.conf.py", "supervisord.conf", "entrypoint", "docker-entrypoint.sh", ".env", "Makefile",
    "GNUmakefile",
)
_GUI_CALL = re.compile(r"\bcv2\.(" + "|".join(GUI_CALLS) + r")\b")
#: Files bigger than this in the image are not application code worth capturing.
MAX_CAPTURED_CODE = 2 << 20
#: Why nothing is called unused when the scan found no Python source at all: absence of evidence from an
#: empty scan is no evidence (the code may ship inside a wheel, a volume or a stage we could not follow).
NO_APPLICATION_CODE = "no application code found in the final image's sources"
_INCOMPLETE_SCAN = "the code scan was incomplete (a file could not be read or parsed)"


@dataclass(frozen=True)
class ServiceUsage:
    evidence: tuple[UsageEvidence, ...]
    complete: bool
    files_scanned: int
    gui_calls: tuple[str, ...]
    uses_gpu_framework: bool
    #: Why the scan is not complete when no file failed: ``NO_APPLICATION_CODE``; None otherwise.
    incomplete_reason: str | None = None


def audit_capture(image_config: ImageConfig) -> Callable[[str], bool]:
    """What the audit keeps while streaming: package metadata (``for_config``) plus application code under
    WORKDIR, which is evidence of use when the project's own files are not at hand."""
    base = for_config(image_config)
    workdir = image_config.working_dir.strip("/")
    if not workdir:
        return base
    prefix = workdir + "/"

    def wanted(path: str) -> bool:
        return base(path) or (
            path.startswith(prefix) and _is_code(path) and "-packages/" not in path and "/.venv/" not in path
        )

    return wanted


def capture_key(image_config: ImageConfig) -> str:
    """Names what ``audit_capture`` keeps, for the layer cache: the same layer under another WORKDIR differs."""
    return f"audit-1:{image_config.working_dir.strip('/')}"


def _is_code(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(CODE_SUFFIXES) or name in CODE_NAMES


def _command_evidence(service: Service, image_config: ImageConfig | None) -> list[UsageEvidence]:
    out: list[UsageEvidence] = []
    final = None
    if service.dockerfile is not None and service.dockerfile.stages:
        final = service.dockerfile.final_stage(service.build_target)
    df_path = service.dockerfile_path or "Dockerfile"
    compose = service.compose_file or "compose"
    # ENTRYPOINT then CMD: compose's when it sets one (the loader falls back to the Dockerfile's, so a value
    # equal to the Dockerfile's came from there), else what the image and the Dockerfile say.
    for key in ("entrypoint", "cmd"):
        spec = (final.entrypoint if key == "entrypoint" else final.cmd) if final is not None else None
        dockerfile_value = None if spec is None else (spec.exec_form if spec.exec_form is not None else spec.shell)
        service_value = service.entrypoint if key == "entrypoint" else service.command
        if service_value and service_value != dockerfile_value:
            out += command_evidence(service_value, f"{compose}:{service.compose_line}")
            continue
        image_value = (image_config.entrypoint if key == "entrypoint" else image_config.cmd) if image_config else None
        if image_value:
            out += command_evidence(list(image_value), f"image config {key.capitalize()}")
        if final is not None and dockerfile_value:
            instruction = next((i for i in reversed(final.instructions) if i.keyword == key.upper()), None)
            line = instruction.start_line if instruction else final.from_instruction.start_line
            value = list(dockerfile_value) if isinstance(dockerfile_value, tuple) else dockerfile_value
            out += command_evidence(value, f"{df_path}:{line}")
    if service.healthcheck:
        out += command_evidence(service.healthcheck, f"{compose}:{service.compose_line}")
    return out


def _env_evidence(service: Service, image_config: ImageConfig | None, known: Iterable[str]) -> list[UsageEvidence]:
    known = list(known)
    out: list[UsageEvidence] = []
    compose = service.compose_file or "compose"
    for name, value in service.environment.items():
        out += env_assignment_evidence(name, value, compose, service.compose_line, known)
    if image_config is not None:
        for name, value in image_config.env_map().items():
            out += env_assignment_evidence(name, value, "image config Env", 0, known)
    if service.dockerfile is not None and service.dockerfile.stages:
        final = service.dockerfile.final_stage(service.build_target)
        for name, value in final.env.items():
            out += env_assignment_evidence(name, value, service.dockerfile_path or "Dockerfile", 0, known)
    return out


def _image_code(tree: TreeView, image_config: ImageConfig) -> Iterator[tuple[str, bytes]]:
    """``(image:/path, contents)`` of the application code the image holds under WORKDIR, as captured while
    streaming (``audit_capture``): read from memory, never written out."""
    workdir = image_config.working_dir.strip("/")
    if not workdir:
        return
    for node in tree.walk(workdir):
        if "site-packages/" in node.path or "dist-packages/" in node.path or not _is_code(node.path):
            continue
        data = tree.read(node.path)
        if data is None or len(data) > MAX_CAPTURED_CODE:
            continue
        yield f"image:/{node.path}", data


def image_groups(services: Sequence[Service]) -> dict[str, tuple[Service, ...]]:
    """Per service name, the services that run the same image (itself included, in compose order).

    Services built from the same context, Dockerfile and target (web, worker, beat with different
    ``command:``), or that name the same ``image:`` without a build, are one image: a package any of them
    uses must stay, so each is judged on the union of their commands and environments.
    """
    keyed: dict[tuple[str, ...], list[Service]] = {}
    for service in services:
        if service.load_error:
            key: tuple[str, ...] = ("alone", service.name)
        elif service.context_dir:
            context = str(Path(service.context_dir).resolve())
            key = ("build", context, service.dockerfile_path or "Dockerfile", service.build_target or "")
        elif service.image:
            key = ("image", service.image)
        else:
            key = ("alone", service.name)
        keyed.setdefault(key, []).append(service)
    return {s.name: tuple(group) for group in keyed.values() for s in group}


def collect_usage(
    service: Service,
    shipped: Sequence[ShippedFile],
    *,
    image_config: ImageConfig | None,
    tree: TreeView | None,
    known_modules: Iterable[str],
    sharing: Sequence[Service] = (),
) -> ServiceUsage:
    """Scan what ships (context files COPY/ADD put in the final image, or the context when that is unknown)
    plus the image's own application code, and add commands and environment: the service's own and those
    of the other services in ``sharing`` that run the same image (``image_groups``)."""
    known = frozenset(known_modules)
    results: list[ScanResult] = []
    context = Path(service.context_dir) if service.context_dir else None
    python_sources = 0
    if context is not None and shipped:
        # Files a builder stage copied from the context and the final stage took with COPY --from ship too:
        # ``shipped`` already follows the copies (any number of hops), so they are scanned like direct ones.
        paths = sorted({f.context_path for f in shipped if _is_code(f.context_path)
                        and not is_ci_definition(f.context_path)})
        python_sources += sum(1 for path in paths if path.endswith(".py"))
        results.append(scan_files([context / path for path in paths], root=context, known_modules=known))
    elif context is not None and context.is_dir():
        directory = scan_directory(context, known_modules=known)
        python_sources += sum(1 for path in context_files(context)[0] if path.suffix == ".py")
        results.append(directory)
    if tree is not None and image_config is not None:
        captured = list(_image_code(tree, image_config))
        python_sources += sum(1 for path, _ in captured if path.endswith(".py"))
        results.append(scan_contents(captured, known_modules=known))
    evidence: list[UsageEvidence] = [e for r in results for e in r.evidence]
    others = [s for s in sharing if s.name != service.name]
    commands = _command_evidence(service, image_config)
    for other in others:
        commands += _command_evidence(other, image_config)
    evidence += commands
    for ev in commands:
        evidence += optional_evidence(ev.detail, ev.location.rsplit(":", 1)[0], "command")
    evidence += _env_evidence(service, image_config, known)
    for other in others:
        evidence += _env_evidence(other, image_config, known)
    uses_gpu_framework = any(
        e.target.split(".")[0] in GPU_FRAMEWORKS for e in evidence if e.kind is EvidenceKind.IMPORT
    )
    no_code = python_sources == 0
    return ServiceUsage(
        evidence=tuple(sorted(set(evidence), key=UsageEvidence.sort_key)),
        complete=all(r.complete for r in results) and not no_code,
        files_scanned=sum(r.files_scanned for r in results),
        gui_calls=_gui_calls(service, shipped),
        uses_gpu_framework=uses_gpu_framework,
        incomplete_reason=NO_APPLICATION_CODE if no_code else None,
    )


def _gui_calls(service: Service, shipped: Sequence[ShippedFile]) -> tuple[str, ...]:
    if not service.context_dir:
        return ()
    root = Path(service.context_dir)
    out = []
    for item in shipped:
        if item.context_path.endswith(".py"):
            try:
                text = read_bounded_text(root / item.context_path, errors="replace")
            except OSError:
                continue
            match = _GUI_CALL.search(text)
            if match:
                out.append(f"{item.context_path}:{text.count(chr(10), 0, match.start()) + 1}")
    return tuple(sorted(out))


@dataclass(frozen=True)
class ServiceVerdicts:
    usage: ServiceUsage
    verdicts: Mapping[str, Verdict]
    declared: frozenset[str]


def service_verdicts(
    service: Service,
    *,
    inventory: Inventory,
    image_config: ImageConfig | None,
    tree: TreeView | None,
    sharing: Sequence[Service] = (),
) -> ServiceVerdicts:
    """Usage evidence for ``service`` joined with what the image (or the estimate) holds: one verdict per
    distribution. Shared by ``audit`` and ``inspect --project`` so both say the same thing. ``sharing``:
    the services that run the same image (``image_groups``); a verdict that something is unused says it
    was judged over all of them."""
    dists = inventory.distributions()
    mapper = ModuleMapper(dists)
    usage = collect_usage(
        service, service.shipped, image_config=image_config, tree=tree, known_modules=mapper.known_top_levels(),
        sharing=sharing,
    )
    declared = frozenset(r.name for r in service.requirements)
    verdicts = decide(dists, declared, usage.evidence, mapper=mapper, complete=usage.complete,
                      opaque=inventory.sdist_only, needs_unknown=inventory.needs_unknown)
    names = sorted({s.name for s in sharing} | {service.name})
    if len(names) > 1:
        shared = f" (judged over every service that runs this image: {', '.join(names)})"
        verdicts = {
            name: replace(v, reason=v.reason + shared) if v.status.is_unused else v for name, v in verdicts.items()
        }
    if usage.incomplete_reason is not None:
        verdicts = {
            name: replace(v, reason=usage.incomplete_reason) if v.reason == _INCOMPLETE_SCAN else v
            for name, v in verdicts.items()
        }
    return ServiceVerdicts(usage, verdicts, declared)
