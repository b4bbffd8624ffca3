"""Remedies: each edit kind renders the one hint line users read, from its own fields."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deadweight.model import remedy
from deadweight.model.remedy import (
    AddCleanup,
    AddDockerignore,
    AddInstallFlag,
    Edit,
    RemoveRequirement,
    ReplaceBase,
    ReplaceRequirement,
    SetIndex,
    SetMemoryLimit,
    SplitBuilderStage,
    describe,
    describe_remedy,
)


@pytest.mark.parametrize(("edit", "text"), [
    (RemoveRequirement("requests", file="api/requirements.txt", line=3, original="requests==2.32.3"),
     "Remove requests from api/requirements.txt:3."),
    (RemoveRequirement("requests", file="pyproject.toml"), "Remove requests from pyproject.toml."),
    (RemoveRequirement("jax-cuda12-plugin", reason="the CPU build of jax needs no plugin"),
     "Remove jax-cuda12-plugin: the CPU build of jax needs no plugin."),
    (ReplaceRequirement("onnxruntime-gpu", name="onnxruntime"), "Depend on onnxruntime instead of onnxruntime-gpu."),
    (ReplaceRequirement("requests", specifier="==2.32.3", file="r.txt", line=1), "Pin it: requests==2.32.3"),
    (SetIndex("torch", "https://download.pytorch.org/whl/cpu", "2.5.1"),
     "pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu"),
    (AddInstallFlag("apt-get", "install", "--no-install-recommends", file="Dockerfile", line=2),
     "Add --no-install-recommends to the apt-get install in line 2."),
    (AddInstallFlag("pip", "install", "--no-cache-dir", env="PIP_NO_CACHE_DIR=1"),
     "Add --no-cache-dir to pip install (or set PIP_NO_CACHE_DIR=1)."),
    (AddCleanup("apt-get", "rm -rf /var/lib/apt/lists/*"), "End the apt-get RUN with: rm -rf /var/lib/apt/lists/*"),
    (AddCleanup("apt-get", "apt-get clean", file="Dockerfile", line=4),
     "End the apt-get RUN in line 4 with: apt-get clean"),
    (ReplaceBase("python:3.11", "python:3.11-slim", file="Dockerfile", line=1), "Use FROM python:3.11-slim."),
    (ReplaceBase("python:3.11", "python:3.11-slim", builder=True),
     "Use FROM python:3.11-slim for the final stage and compile in a builder stage."),
    (ReplaceBase("python:3.12", "python:3.12-slim", alternative="python:3.12-alpine"),
     "Use FROM python:3.12-slim. python:3.12-alpine would also work and is smaller still (test it: musl is not "
     "glibc)."),
    (AddDockerignore(("**/.venv", ".git")), "Add to .dockerignore: **/.venv, .git"),
    (SplitBuilderStage(("gcc", "libpq-dev")),
     "Compile in a builder stage (FROM ... AS build) and COPY only the built wheels or venv."),
    (SetMemoryLimit("api", 1408 << 20, 1 << 30), "Raise mem_limit to 1408m."),
    (SetMemoryLimit("api", 192 << 20, 2 << 30), "Lower mem_limit to 192m."),
])
def test_describe(edit: Edit, text: str) -> None:
    assert describe(edit) == text


def test_a_remedy_reads_each_distinct_line_once_in_order() -> None:
    flag = AddInstallFlag("pip", "install", "--no-cache-dir", env="PIP_NO_CACHE_DIR=1")
    first = RemoveRequirement("a", file="r.txt", line=1)
    second = RemoveRequirement("b", file="r.txt", line=2)
    assert describe_remedy([first, flag, flag, second]) == (
        "Remove a from r.txt:1. Add --no-cache-dir to pip install (or set PIP_NO_CACHE_DIR=1). Remove b from r.txt:2."
    )
    assert describe_remedy([]) == ""


def test_every_kind_is_distinct_and_the_module_stands_alone() -> None:
    kinds = [cls.kind for cls in (RemoveRequirement, ReplaceRequirement, SetIndex, AddInstallFlag, AddCleanup,
                                  ReplaceBase, AddDockerignore, SplitBuilderStage, SetMemoryLimit)]
    assert len(set(kinds)) == len(kinds)
    tree = ast.parse(Path(remedy.__file__).read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [m for m in imported if m.startswith("deadweight")]
