"""Compose files: services, how they build, their memory limits and whether they ask for a GPU.

Why: the audit works per service; DW101 must know whether the deployment requests a GPU and DW701/702 need
the memory limit. Loaded with ruamel.yaml's round-trip loader so positions (and, for the fixers, comments)
survive; values are interpolated as Compose does (``${VAR:-default}`` from the environment, then ``.env``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from deadweight.errors import ParseError
from deadweight.model.project import GpuRequest
from deadweight.project.files import read_text, unreadable_reason
from deadweight.project.shellwords import MAX_VAR_NESTING, matching_brace

COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp])?(i)?(b)?\s*$", re.IGNORECASE)
_MULT = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


@dataclass
class ComposeService:
    name: str
    line: int  # 1-based line of the service key
    build_context: str | None = None  # absolute path
    dockerfile: str | None = None  # absolute path (context-relative in the file)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    image: str | None = None
    command: tuple[str, ...] | str | None = None
    entrypoint: tuple[str, ...] | str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    env_files: list[str] = field(default_factory=list)
    memory_limit_bytes: int | None = None
    memory_evidence: str | None = None
    gpu: GpuRequest = field(default_factory=GpuRequest.none)
    healthcheck: tuple[str, ...] | str | None = None
    profiles: tuple[str, ...] = ()
    error: str | None = None  # this service could not be read (others still can)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ComposeFile:
    path: str
    services: list[ComposeService]
    warnings: list[str] = field(default_factory=list)


def find_compose_file(directory: str | Path) -> Path | None:
    """The compose file of ``directory``: anything by a compose file's name counts (a FIFO, a device, a
    dangling link is a compose file that cannot be read, an error naming it, never "no compose file")."""
    d = Path(directory)
    for name in COMPOSE_FILE_NAMES:
        candidate = d / name
        if (candidate.is_symlink() or candidate.exists()) and not candidate.is_dir():
            return candidate
    return None


#: The largest memory figure taken from a compose file (1 EiB); past it, or not finite, the value is invalid.
MAX_MEMORY_BYTES = 1 << 60


def parse_memory(value: object) -> int | None:
    """Docker's RAMInBytes: ``512m``, ``1g``, ``1.5GiB``, ``1024`` binary; None if invalid, including
    ``.inf``, ``.nan``, ``1e999``, negative figures and anything over ``MAX_MEMORY_BYTES``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_MEMORY_BYTES else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and 0 <= value <= MAX_MEMORY_BYTES else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    m = _MEM_RE.match(value)
    if not m:
        return None
    size = float(m.group(1)) * _MULT[(m.group(2) or "").lower()]
    return int(size) if math.isfinite(size) and 0 <= size <= MAX_MEMORY_BYTES else None


def read_dotenv(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines (``export`` prefix, quotes, comments) as Compose reads ``.env`` and ``env_file``."""
    out: dict[str, str] = {}
    refused = unreadable_reason(Path(path))  # /dev/zero, a FIFO, a 5 GB file: never read whole
    if refused is not None:
        raise ParseError(f"{path}: cannot read env file: {refused}")
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not key:
            continue
        if not eq:
            value = os.environ.get(key, "")
            out[key] = value
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            if raw.strip().split("=", 1)[1].strip().startswith('"'):
                value = value.replace("\\n", "\n")
        else:
            value = re.sub(r"\s+#.*$", "", value)
        out[key] = value
    return out


def interpolate(text: str, values: Mapping[str, str], _depth: int = 0) -> str:
    """Compose interpolation: ``$VAR``, ``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``, ``${VAR:+r}``, ``$$``.

    Defaults nested deeper than ``MAX_VAR_NESTING`` are left as written (a bounded walk, not a crash)."""
    if _depth > MAX_VAR_NESTING:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            close = matching_brace(text, i + 1)
            if close < 0:
                out.append(text[i:])
                break
            out.append(_braced(text[i + 2 : close], values, _depth))
            i = close + 1
            continue
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
        if not m:
            out.append(c)
            i += 1
            continue
        out.append(values.get(m.group(0), ""))
        i += 1 + len(m.group(0))
    return "".join(out)


def _braced(inner: str, values: Mapping[str, str], depth: int) -> str:
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?$", inner, re.DOTALL)
    if not m:
        return ""
    name, op, word = m.group(1), m.group(2), m.group(3) or ""
    present = name in values
    value = values.get(name, "")
    if op is None:
        return value
    if op in (":-", ":?"):
        return value if value else (interpolate(word, values, depth + 1) if op == ":-" else "")
    if op in ("-", "?"):
        return value if present else (interpolate(word, values, depth + 1) if op == "-" else "")
    if op == ":+":
        return interpolate(word, values, depth + 1) if value else ""
    return interpolate(word, values, depth + 1) if present else ""


#: Services one compose file may declare: real fleets declare tens; each is loaded and audited in turn.
MAX_SERVICES = 250

#: Flow collections (``[`` / ``{``) nested deeper than this are refused before parsing; compose files nest a few.
MAX_FLOW_DEPTH = 100
_FLOW_TOKEN = re.compile(r"""'[^']*'|"(?:[^"\\]|\\.)*"|#[^\n]*|[\[\]{}\n]""")


def _too_deep_line(text: str) -> int:
    """The line where flow brackets (outside quotes and comments) first nest past ``MAX_FLOW_DEPTH``, or 0."""
    depth, line = 0, 1
    for m in _FLOW_TOKEN.finditer(text):
        token = m.group()
        if token == "\n":
            line += 1
        elif token in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return line
        elif token in "]}":
            depth = max(0, depth - 1)
        else:
            line += token.count("\n")
    return 0


def parse_compose_file(path: str | Path, environ: Mapping[str, str] | None = None) -> ComposeFile:
    """Parse a compose file; YAML errors raise ParseError (file:line), service problems stay per service."""
    p = Path(path)
    text = read_text(p, "compose file")
    deep = _too_deep_line(text)
    if deep:  # ruamel's parser slows down faster than the square of the flow depth: 1,000 deep took 20 s
        raise ParseError(f"{p}:{deep}: invalid YAML: nested too deeply (over {MAX_FLOW_DEPTH} levels of [ or {{)")
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 1
        raise ParseError(f"{p}:{line}: invalid YAML: {exc.problem}") from None
    except YAMLError as exc:
        raise ParseError(f"{p}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:  # ruamel's composer recurses per nesting level: a flow list 100,000 deep
        raise ParseError(f"{p}: invalid YAML: nested too deeply") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{p}:1: compose file is not a mapping")
    values = {**read_dotenv(p.parent / ".env"), **(environ if environ is not None else os.environ)}
    services = doc.get("services")
    if services is None:
        return ComposeFile(str(p), [], [f"{p}: no services"])
    if not isinstance(services, dict):
        raise ParseError(f"{p}:{_line(doc, 'services')}: services must be a mapping")
    if len(services) > MAX_SERVICES:
        raise ParseError(f"{p}:{_line(doc, 'services')}: {len(services):,} services, more than the limit of "
                         f"{MAX_SERVICES:,} (split the file, or audit a service's directory)")
    out: list[ComposeService] = []
    for name in services:
        out.append(parse_service(p, str(name), services, values))
    return ComposeFile(str(p), out)


def _line(node: Any, key: Any) -> int:
    try:
        return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


#: Values one service may hold once YAML aliases are expanded: real services hold hundreds; nine levels of
#: nine-fold aliases ("a billion laughs") would hold 387 million and never finish.
MAX_SERVICE_VALUES = 200_000


class _TooManyValues(Exception):
    pass


def _plain(node: Any, values: Mapping[str, str], budget: list[int]) -> Any:
    """ruamel nodes to plain Python, strings interpolated; ``budget[0]`` values at most (aliases expanded)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooManyValues
    if isinstance(node, dict):
        return {str(k): _plain(v, values, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, values, budget) for v in node]
    if isinstance(node, str):
        return interpolate(str(node), values)
    return node


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Short forms to mappings so ``extends`` merges them key by key, as Compose does."""
    if isinstance(data.get("build"), str):
        data["build"] = {"context": data["build"]}
    if isinstance(data.get("environment"), list):
        data["environment"] = _env(data["environment"])
    build = data.get("build")
    if isinstance(build, dict) and isinstance(build.get("args"), list):
        build["args"] = _env(build["args"])
    return data


def _merged(
    name: str, services: Any, values: Mapping[str, str], path: Path, seen: set[str]
) -> dict[str, Any]:
    """The service's mapping with ``extends`` (same file) applied: the extending service wins per key."""
    body = services.get(name)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ParseError(f"{path}:{_line(services, name)}: service {name!r} must be a mapping")
    try:
        data: dict[str, Any] = _normalise(_plain(body, values, [MAX_SERVICE_VALUES]))
    except _TooManyValues:
        raise ParseError(f"{path}:{_line(services, name)}: service {name!r} holds over {MAX_SERVICE_VALUES:,} "
                         "values once YAML aliases are expanded") from None
    ext = data.pop("extends", None)
    if ext is None:
        return data
    base_name = ext if isinstance(ext, str) else ext.get("service") if isinstance(ext, dict) else None
    if isinstance(ext, dict) and ext.get("file"):
        raise ParseError(f"{path}:{_line(body, 'extends')}: extends from another file is not supported")
    if not isinstance(base_name, str) or base_name not in services or base_name in seen:
        raise ParseError(f"{path}:{_line(body, 'extends')}: extends unknown or cyclic service {base_name!r}")
    base = _merged(base_name, services, values, path, seen | {name})
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def parse_service(path: Path, name: str, services: Any, values: Mapping[str, str]) -> ComposeService:
    """One service of a document already read (the fixers re-read their edited text with it)."""
    svc = ComposeService(name=name, line=_line(services, name))
    try:
        data = _merged(name, services, values, path, {name})
        _fill(svc, data, path, services.get(name))
    except ParseError as exc:
        svc.error = str(exc)
    return svc


def _as_command(value: Any) -> tuple[str, ...] | str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return str(value)


def _env(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    if isinstance(value, list):
        for item in value:
            key, _, val = str(item).partition("=")
            out[key] = val
    return out


def _fill(svc: ComposeService, data: dict[str, Any], path: Path, node: Any) -> None:
    base = path.parent
    where = f"{path}:{svc.line}"
    build = data.get("build")
    if isinstance(build, str):
        svc.build_context = str((base / build).resolve())
        svc.dockerfile = str(Path(svc.build_context) / "Dockerfile")
    elif isinstance(build, dict):
        ctx = str(build.get("context", "."))
        svc.build_context = ctx if "://" in ctx else str((base / ctx).resolve())
        dockerfile = str(build.get("dockerfile", "Dockerfile"))
        if not os.path.isabs(dockerfile):
            dockerfile = str(Path(svc.build_context) / dockerfile)
        svc.dockerfile = dockerfile
        svc.build_args = _env(build.get("args"))
        target = build.get("target")
        svc.target = str(target) if target is not None else None
    elif build is not None:
        raise ParseError(f"{where}: build must be a string or a mapping")
    image = data.get("image")
    svc.image = str(image) if image is not None else None
    svc.command = _as_command(data.get("command"))
    svc.entrypoint = _as_command(data.get("entrypoint"))
    env_files = data.get("env_file")
    files: list[str] = []
    for item in env_files if isinstance(env_files, list) else [env_files] if env_files else []:
        file = item.get("path") if isinstance(item, dict) else item
        if isinstance(file, str):
            files.append(str((base / file).resolve()))
    svc.env_files = files
    environment: dict[str, str] = {}
    for file in files:
        if not Path(file).is_file():
            svc.warnings.append(f"{where}: env_file {file} not found")
        environment.update(read_dotenv(file))
    environment.update(_env(data.get("environment")))
    svc.environment = environment
    _memory(svc, data, node, path)
    svc.gpu = _gpu(data, environment, node, path, svc.line)
    health = data.get("healthcheck")
    if isinstance(health, dict) and health.get("test") is not None:
        svc.healthcheck = _as_command(health.get("test"))
    profiles = data.get("profiles")
    if isinstance(profiles, list):
        svc.profiles = tuple(str(p) for p in profiles)


def _memory(svc: ComposeService, data: dict[str, Any], node: Any, path: Path) -> None:
    limits = _get(data, "deploy", "resources", "limits")
    candidates: list[tuple[Any, str]] = []
    if isinstance(limits, dict) and limits.get("memory") is not None:
        line = _deep_line(node, ("deploy", "resources", "limits", "memory"))
        candidates.append((limits["memory"], f"{path}:{line}"))
    if data.get("mem_limit") is not None:
        candidates.append((data["mem_limit"], f"{path}:{_deep_line(node, ('mem_limit',))}"))
    for value, evidence in candidates:  # deploy.resources.limits wins over mem_limit, as in Compose v2
        parsed = parse_memory(value)
        if parsed is None:
            svc.warnings.append(f"{evidence}: cannot parse memory limit {value!r}")
            continue
        svc.memory_limit_bytes = parsed
        svc.memory_evidence = evidence
        return


def _get(data: Any, *keys: str) -> Any:
    cur = data
    for key in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _deep_line(node: Any, keys: tuple[str, ...]) -> int:
    cur = node
    line = 0
    for key in keys:
        if not isinstance(cur, dict) or key not in cur:
            return line
        line = _line(cur, key) or line
        cur = cur[key]
    return line


def _gpu(data: dict[str, Any], env: Mapping[str, str], node: Any, path: Path, svc_line: int) -> GpuRequest:
    evidence: list[str] = []
    devices = _get(data, "deploy", "resources", "reservations", "devices")
    for dev in devices if isinstance(devices, list) else []:
        if not isinstance(dev, dict):
            continue
        raw_caps = dev.get("capabilities") or []
        if not isinstance(raw_caps, list):
            line = _deep_line(node, ("deploy", "resources", "reservations", "devices"))
            raise ParseError(f"{path}:{line}: deploy.resources.reservations.devices: capabilities must be a list")
        caps = [str(c).lower() for c in raw_caps]
        if str(dev.get("driver", "")).lower() == "nvidia" or "gpu" in caps:
            line = _deep_line(node, ("deploy", "resources", "reservations", "devices"))
            evidence.append(f"{path}:{line}: deploy.resources.reservations.devices requests a GPU")
            break
    if str(data.get("runtime", "")).lower() == "nvidia":
        evidence.append(f"{path}:{_deep_line(node, ('runtime',))}: runtime: nvidia")
    gpus = data.get("gpus")
    if gpus not in (None, "", [], 0, "0"):
        evidence.append(f"{path}:{_deep_line(node, ('gpus',))}: gpus: {gpus}")
    visible = env.get("NVIDIA_VISIBLE_DEVICES")
    if visible is not None and visible.strip().lower() not in ("", "none", "void"):
        evidence.append(f"{path}:{svc_line}: NVIDIA_VISIBLE_DEVICES={visible}")
    return GpuRequest(bool(evidence), tuple(evidence))
