"""Kubernetes and ECS GPU signals, and matching them to services by image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deadweight.project.deployment import find_deployment_signals, image_key, images_match, parse_k8s_quantity

K8S = """\
apiVersion: v1
kind: Service
metadata: {name: api}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: shop/api:1.0
      containers:
        - name: api
          image: registry.example.com/shop/api:1.0
          resources:
            requests:
              nvidia.com/gpu: "1"
            limits:
              memory: 512Mi
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  jobTemplate:
    spec:
      template:
        spec:
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-tesla-t4
          containers:
            - name: job
              image: shop/trainer
---
kind: StatefulSet
metadata: {name: cpu}
spec:
  template:
    spec:
      containers:
        - name: db
          image: postgres:16
          resources:
            limits: {nvidia.com/gpu: 0, memory: 1G}
"""


def test_kubernetes_workloads(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "all.yaml").write_text(K8S)
    signals, warnings = find_deployment_signals(tmp_path)
    assert warnings == []
    got = [(s.workload, s.container, s.image, s.gpu, s.memory_limit_bytes) for s in signals]
    assert got == [
        ("Deployment/api", "api", "registry.example.com/shop/api:1.0", True, 512 * 1024**2),
        ("Deployment/api", "migrate", "shop/api:1.0", False, None),
        ("CronJob/nightly", "job", "shop/trainer", True, None),
        ("StatefulSet/cpu", "db", "postgres:16", False, 10**9),
    ]
    path = tmp_path / "k8s" / "all.yaml"
    assert signals[0].evidence == f"{path}:20: resources.requests nvidia.com/gpu=1"
    assert "nodeSelector cloud.google.com/gke-accelerator=nvidia-tesla-t4" in signals[2].evidence


def test_ecs_task_definition_and_skipped_dirs(tmp_path: Path) -> None:
    task = {
        "taskDefinition": {
            "family": "trainer",
            "containerDefinitions": [
                {"name": "cpu", "image": "shop/cpu", "memory": 512},
                {"name": "gpu", "image": "shop/gpu", "resourceRequirements": [{"type": "GPU", "value": "1"}]},
            ],
        }
    }
    (tmp_path / "task.json").write_text(json.dumps(task, indent=2))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "k8s.yaml").write_text(K8S)  # never scanned
    (tmp_path / "chart.yaml").write_text("kind: Deployment\ncontainers: {{ .Values.x }}\n: :\n")  # helm
    (tmp_path / "broken.yaml").write_text("kind: Deployment\ncontainers: [\n")
    signals, warnings = find_deployment_signals(tmp_path)
    assert [(s.source, s.workload, s.container, s.gpu, s.memory_limit_bytes) for s in signals] == [
        ("ecs", "task:trainer", "cpu", False, 512 * 1024**2),
        ("ecs", "task:trainer", "gpu", True, None),
    ]
    assert signals[1].evidence.startswith(f"{tmp_path / 'task.json'}:")
    assert "resourceRequirements GPU=1" in signals[1].evidence
    assert warnings == [f"{tmp_path / 'broken.yaml'}: not valid YAML, skipped for deployment signals"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("512Mi", 512 * 1024**2), ("1Gi", 1024**3), ("1G", 10**9), ("129e6", 129 * 10**6), (1024, 1024), ("x", None)],
)
def test_k8s_quantities(value: object, expected: int | None) -> None:
    assert parse_k8s_quantity(value) == expected


def test_image_matching() -> None:
    assert image_key("registry.example.com:5000/shop/api:1.0") == "shop/api"
    assert image_key("docker.io/library/python:3.11@sha256:abc") == "python"
    assert image_key("localhost/app") == "app"
    assert images_match("ghcr.io/shop/api:2", "shop/api:1")
    assert images_match("shop/api", "api")  # a bare service name matches the last component
    assert not images_match("shop/api", "other/api")
    assert not images_match("shop/api", "shop/worker")
