"""Deployment manifests that say whether a service gets a GPU: Kubernetes workloads and ECS task definitions.

Why: DW101 only calls a CUDA torch dead weight when neither the code nor the deployment wants a GPU. Compose
is one place a GPU is requested; Kubernetes (``nvidia.com/gpu`` limits/requests) and ECS
(``resourceRequirements`` of type GPU) are the others. Signals are tied to services by image name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from deadweight.infile import read_bounded_text

_SKIP_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", "site-packages", ".tox", ".mypy_cache", ".cache"}
)
_MAX_BYTES = 2 * 1024 * 1024
_WORKLOAD_KINDS = frozenset(
    {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
)
_GPU_RESOURCE_RE = re.compile(r"(^|/)gpu$|^nvidia\.com/|^amd\.com/gpu|^gpu\.intel\.com/", re.IGNORECASE)
_K8S_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:[eE]\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E|m)?\s*$")
_K8S_MULT = {
    "": 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6,
    "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5, "E": 1000**6, "m": 0.001,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeploymentSignal:
    """One container of a deployment manifest, with its GPU request and memory limit."""

    source: str  # "kubernetes" | "ecs"
    file: str
    line: int
    workload: str  # "Deployment/api", "task:family"
    container: str
    image: str | None
    gpu: bool
    evidence: str  # "k8s/api.yaml:31: resources.limits nvidia.com/gpu=1"
    memory_limit_bytes: int | None = None


def parse_k8s_quantity(value: object) -> int | None:
    """Kubernetes resource quantity to bytes: ``512Mi``, ``1Gi``, ``1G``, ``129e6``, plain integers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    m = _K8S_MEM_RE.match(value)
    if not m:
        return None
    return int(float(m.group(1)) * _K8S_MULT[m.group(2) or ""])


def find_deployment_signals(root: str | Path) -> tuple[list[DeploymentSignal], list[str]]:
    """Scan YAML/JSON files under ``root`` (skipping venvs, .git, node_modules) for workloads; never fails."""
    signals: list[DeploymentSignal] = []
    warnings: list[str] = []
    for path in _candidate_files(Path(root)):
        name = path.name.lower()
        if name.endswith((".yaml", ".yml")):
            signals.extend(_k8s_file(path, warnings))
        elif name.endswith(".json"):
            signals.extend(_ecs_file(path))
    return signals, warnings


def _candidate_files(root: Path) -> Iterator[Path]:
    stack = [root]
    while stack:
        cur = stack.pop()
        try:
            entries = list(os.scandir(cur))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP_DIRS:
                        stack.append(Path(entry.path))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                if not entry.name.lower().endswith((".yaml", ".yml", ".json")):
                    continue
                if entry.stat(follow_symlinks=False).st_size > _MAX_BYTES:
                    continue
            except OSError:
                continue
            yield Path(entry.path)


def _k8s_file(path: Path, warnings: list[str]) -> list[DeploymentSignal]:
    try:
        text = read_bounded_text(path)
    except (OSError, UnicodeDecodeError):
        return []
    if "kind" not in text or "containers" not in text:
        return []
    yaml = YAML(typ="rt")
    try:
        docs = list(yaml.load_all(text))
    except YAMLError:
        if "{{" not in text:  # Helm templates are expected not to parse
            warnings.append(f"{path}: not valid YAML, skipped for deployment signals")
        return []
    out: list[DeploymentSignal] = []
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") not in _WORKLOAD_KINDS:
            continue
        kind = str(doc["kind"])
        meta = doc.get("metadata")
        name = str(meta.get("name", "?")) if isinstance(meta, dict) else "?"
        pod = _pod_spec(doc)
        if not isinstance(pod, dict):
            continue
        node_gpu = _node_gpu_hint(pod)
        for key in ("containers", "initContainers"):
            containers = pod.get(key)
            if not isinstance(containers, list):
                continue
            for container in containers:
                if isinstance(container, dict):
                    out.append(_k8s_container(path, f"{kind}/{name}", container, node_gpu))
    return out


def _pod_spec(doc: dict[str, Any]) -> Any:
    spec = doc.get("spec")
    if doc.get("kind") == "Pod":
        return spec
    if doc.get("kind") == "CronJob":
        spec = _dig(spec, "jobTemplate", "spec")
    return _dig(spec, "template", "spec")


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _line_of(node: Any, key: str | None = None) -> int:
    try:
        if key is not None:
            return int(node.lc.key(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _node_gpu_hint(pod: dict[str, Any]) -> str | None:
    runtime = pod.get("runtimeClassName")
    if isinstance(runtime, str) and "nvidia" in runtime.lower():
        return f"runtimeClassName: {runtime}"
    selector = pod.get("nodeSelector")
    if isinstance(selector, dict):
        for key in selector:
            if "gpu" in str(key).lower() or "accelerator" in str(key).lower():
                return f"nodeSelector {key}={selector[key]}"
    return None


def _k8s_container(
    path: Path, workload: str, container: dict[str, Any], node_gpu: str | None
) -> DeploymentSignal:
    line = _line_of(container)
    resources = container.get("resources")
    evidence = ""
    gpu = False
    memory = None
    if isinstance(resources, dict):
        for section in ("limits", "requests"):
            table = resources.get(section)
            if not isinstance(table, dict):
                continue
            for res_name, value in table.items():
                if _GPU_RESOURCE_RE.search(str(res_name)) and _positive(value):
                    gpu = True
                    evidence = f"{path}:{_line_of(table, res_name)}: resources.{section} {res_name}={value}"
            if section == "limits" and table.get("memory") is not None:
                memory = parse_k8s_quantity(table.get("memory"))
    if not gpu and node_gpu:
        gpu = True
        evidence = f"{path}:{line}: {node_gpu}"
    image = container.get("image")
    return DeploymentSignal(
        source="kubernetes",
        file=str(path),
        line=line,
        workload=workload,
        container=str(container.get("name", "")),
        image=str(image) if image is not None else None,
        gpu=gpu,
        evidence=evidence or f"{path}:{line}: no GPU requested",
        memory_limit_bytes=memory,
    )


def _positive(value: object) -> bool:
    try:
        return float(str(value)) > 0
    except ValueError:
        return False


def _ecs_file(path: Path) -> list[DeploymentSignal]:
    try:
        text = read_bounded_text(path)
    except (OSError, UnicodeDecodeError):
        return []
    if "containerDefinitions" not in text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    task = data.get("taskDefinition", data) if isinstance(data, dict) else None
    if not isinstance(task, dict) or not isinstance(task.get("containerDefinitions"), list):
        return []
    family = str(task.get("family", path.stem))
    lines = text.splitlines()
    out: list[DeploymentSignal] = []
    for container in task["containerDefinitions"]:
        if not isinstance(container, dict):
            continue
        name = str(container.get("name", ""))
        line = _json_line(lines, '"name"', name)
        gpu = False
        evidence = f"{path}:{line}: no GPU requested"
        for req in container.get("resourceRequirements") or []:
            if not isinstance(req, dict):
                continue
            if str(req.get("type", "")).upper() == "GPU" and _positive(req.get("value")):
                gpu = True
                gline = _json_line(lines, '"type"', "GPU", start=line)
                evidence = f"{path}:{gline}: resourceRequirements GPU={req.get('value')}"
        memory = container.get("memory")
        image = container.get("image")
        out.append(
            DeploymentSignal(
                source="ecs",
                file=str(path),
                line=line,
                workload=f"task:{family}",
                container=name,
                image=str(image) if image is not None else None,
                gpu=gpu,
                evidence=evidence,
                memory_limit_bytes=int(memory) * 1024 * 1024 if isinstance(memory, int) else None,
            )
        )
    return out


def _json_line(lines: list[str], key: str, value: str, start: int = 1) -> int:
    needle = re.compile(re.escape(key) + r"\s*:\s*\"" + re.escape(value) + '"')
    for i in range(max(start - 1, 0), len(lines)):
        if needle.search(lines[i]):
            return i + 1
    return start if start > 1 else 0


def image_key(ref: str) -> str:
    """Repository path of an image reference without registry host, tag or digest (``org/api``)."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts).lower()


def images_match(a: str, b: str) -> bool:
    """Same repository, ignoring registry and tag; or the same last path component when one side is short."""
    ka, kb = image_key(a), image_key(b)
    if ka == kb:
        return True
    return ka.rsplit("/", 1)[-1] == kb.rsplit("/", 1)[-1] and ("/" not in ka or "/" not in kb)
