from __future__ import annotations

import ast

from deadweight.model.usage import Confidence, EvidenceKind
from deadweight.usage.imports import import_evidence

SOURCE = """
import os, json as j
from google.cloud import storage
from . import sibling
from .pkg import thing
import importlib
from importlib import import_module
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from boto3_stubs import Client
else:
    import realthing
try:
    import simplejson
except ImportError:
    simplejson = None
def f(kind):
    import inner_mod
    importlib.import_module("lit.mod")
    import_module(".relative", "pkg")
    __import__("dunder")
    importlib.util.find_spec("probe")
    pydoc.locate("located.mod.Class")
    importlib.import_module(f"plugins.{kind}")
    importlib.import_module("backends." + kind)
    importlib.import_module(kind)
    importlib.import_module(CONST)
CONST = "from_constant"
"""


def _by_target() -> dict[str, tuple[EvidenceKind, Confidence, bool]]:
    found = import_evidence(ast.parse(SOURCE), "m.py")
    return {e.target: (e.kind, e.confidence, e.type_only) for e in found}


def test_static_imports_at_every_scope() -> None:
    got = _by_target()
    for module in ("os", "json", "google.cloud.storage", "simplejson", "inner_mod", "realthing"):
        assert got[module] == (EvidenceKind.IMPORT, Confidence.HIGH, False), module


def test_relative_imports_ignored() -> None:
    got = _by_target()
    assert not [t for t in got if "sibling" in t or t.split(".")[-1] == "thing" or "relative" in t]


def test_type_checking_imports_are_type_only() -> None:
    assert _by_target()["boto3_stubs.Client"][2] is True


def test_dynamic_literals_prefixes_and_unresolved() -> None:
    found = import_evidence(ast.parse(SOURCE), "m.py")
    got = {e.target: e for e in found}
    assert got["lit.mod"].kind is EvidenceKind.DYNAMIC_IMPORT
    assert got["dunder"].kind is EvidenceKind.DYNAMIC_IMPORT
    assert got["probe"].kind is EvidenceKind.DYNAMIC_IMPORT
    assert got["located.mod.Class"].confidence is Confidence.MEDIUM
    assert got["from_constant"].kind is EvidenceKind.DYNAMIC_IMPORT
    assert got["plugins."].kind is EvidenceKind.DYNAMIC_PREFIX
    assert got["backends."].kind is EvidenceKind.DYNAMIC_PREFIX
    unresolved = [e for e in found if e.kind is EvidenceKind.DYNAMIC_UNRESOLVED]
    assert len(unresolved) == 1 and "kind" in unresolved[0].detail
    assert got["lit.mod"].location == "m.py:19"


def test_reassigned_name_is_not_trusted_as_constant() -> None:
    src = 'NAME = "a"\ndef f(NAME):\n    import importlib\n    importlib.import_module(NAME)\n'
    kinds = [e.kind for e in import_evidence(ast.parse(src), "x.py") if e.target != "importlib"]
    assert kinds == [EvidenceKind.DYNAMIC_UNRESOLVED]
