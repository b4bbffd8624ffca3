"""Imports found in Python source, at every scope, including dynamic imports with literal names.

Why an AST walk and not a regex: imports hide in functions, ``try/except ImportError`` fallbacks and
conditionals, and ``if TYPE_CHECKING:`` imports never run. Dynamic imports (``importlib.import_module``,
``__import__``, ``find_spec``, ``pydoc.locate``, Django's ``import_string``) name modules in strings; a
non-literal argument is reported as ``dynamic-unresolved`` so verdicts can say "unknown" instead of
"unused".
"""

from __future__ import annotations

import ast

from deadweight.model.usage import Confidence, EvidenceKind, UsageEvidence

# Callables whose first argument is a module (or dotted object path) name.
_DYNAMIC_CALLS: dict[str, str] = {
    "importlib.import_module": "module",
    "import_module": "module",
    "__import__": "module",
    "importlib.__import__": "module",
    "importlib.util.find_spec": "spec",
    "util.find_spec": "spec",
    "find_spec": "spec",
    "pkgutil.find_loader": "spec",
    "pkgutil.get_loader": "spec",
    "pkgutil.resolve_name": "object",
    "resolve_name": "object",
    "pydoc.locate": "object",
    "locate": "object",
    "import_string": "object",
    "module_loading.import_string": "object",
    "django.utils.module_loading.import_string": "object",
    "werkzeug.utils.import_string": "object",
    "utils.import_string": "object",
    "symbol_by_name": "object",  # kombu/celery
    "kombu.utils.imports.symbol_by_name": "object",
}


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for Name/Attribute chains, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_type_checking(test: ast.expr) -> bool:
    name = dotted_name(test)
    return name is not None and name.split(".")[-1] == "TYPE_CHECKING"


def _object_to_module(path: str) -> str:
    """``pkg.mod:Class`` or ``pkg.mod.Class`` → a module-ish dotted name (mapping uses the longest prefix)."""
    return path.replace(":", ".").strip(".")


class _Visitor(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.evidence: list[UsageEvidence] = []
        self.type_only_depth = 0
        self.constants: dict[str, str] = {}

    # -- helpers -------------------------------------------------------------------------------------
    def _loc(self, node: ast.AST) -> str:
        return f"{self.path}:{getattr(node, 'lineno', 0)}"

    def _add(self, kind: EvidenceKind, detail: str, node: ast.AST, target: str, conf: Confidence) -> None:
        self.evidence.append(
            UsageEvidence(kind, detail, self._loc(node), target, conf, type_only=self.type_only_depth > 0)
        )

    # -- scopes --------------------------------------------------------------------------------------
    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_only_depth += 1
            for stmt in node.body:
                self.visit(stmt)
            self.type_only_depth -= 1
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    # -- static imports ------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(EvidenceKind.IMPORT, f"import {alias.name}", node, alias.name, Confidence.HIGH)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return  # relative imports name the project's own code
        for alias in node.names:
            target = node.module if alias.name == "*" else f"{node.module}.{alias.name}"
            self._add(
                EvidenceKind.IMPORT, f"from {node.module} import {alias.name}", node, target, Confidence.HIGH
            )

    # -- dynamic imports -----------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        name = dotted_name(node.func)
        mode = _DYNAMIC_CALLS.get(name or "")
        if mode is not None and name is not None and node.args:
            self._dynamic(node, name, mode, node.args[0])
        self.generic_visit(node)

    def _dynamic(self, node: ast.Call, func: str, mode: str, arg: ast.expr) -> None:
        literal = self._literal(arg)
        if literal is not None:
            if literal.startswith("."):
                return  # relative to a package argument: the project's own code
            target = _object_to_module(literal) if mode == "object" else literal
            conf = Confidence.HIGH if mode == "module" else Confidence.MEDIUM
            self._add(EvidenceKind.DYNAMIC_IMPORT, f"{func}({literal!r})", node, target, conf)
            return
        prefix = _literal_prefix(arg)
        if prefix:
            self._add(
                EvidenceKind.DYNAMIC_PREFIX, f"{func}() with name starting {prefix!r}", node, prefix,
                Confidence.LOW,
            )
            return
        self._add(
            EvidenceKind.DYNAMIC_UNRESOLVED, f"{func}() with a computed name: {_unparse(arg)}", node, "",
            Confidence.LOW,
        )

    def _literal(self, arg: ast.expr) -> str | None:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
        if isinstance(arg, ast.Name) and arg.id in self.constants:
            return self.constants[arg.id]
        return None


def _literal_prefix(arg: ast.expr) -> str | None:
    """The literal start of an f-string, ``"a." + x``, ``"a.%s" % x`` or ``"a.{}".format(x)``."""
    if isinstance(arg, ast.JoinedStr) and arg.values:
        first = arg.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value or None
        return None
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add | ast.Mod):
        left = arg.left
        if isinstance(left, ast.Constant) and isinstance(left.value, str):
            text = left.value.split("%", 1)[0] if isinstance(arg.op, ast.Mod) else left.value
            return text or None
        return _literal_prefix(left) if isinstance(arg.op, ast.Add) else None
    if (
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr == "format"
        and isinstance(arg.func.value, ast.Constant)
        and isinstance(arg.func.value.value, str)
    ):
        return arg.func.value.value.split("{", 1)[0] or None
    return None


def _unparse(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def import_evidence(tree: ast.Module, path: str) -> list[UsageEvidence]:
    """Every import (static and literal dynamic) in ``tree``; ``path`` is used in locations."""
    visitor = _Visitor(path)
    visitor.constants = _single_assignment_constants(tree)
    visitor.visit(tree)
    return visitor.evidence


def _single_assignment_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "literal"`` bound nowhere else in the file (so ``import_module(NAME)`` resolves).

    A name bound twice (or used as a parameter) is left out: guessing its value could hide a dynamic import.
    """
    stores: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            stores[node.id] = stores.get(node.id, 0) + 1
        elif isinstance(node, ast.arg):
            stores[node.arg] = stores.get(node.arg, 0) + 2
        elif isinstance(node, ast.alias):
            bound = node.asname or node.name.split(".")[0]
            stores[bound] = stores.get(bound, 0) + 2
    constants: dict[str, str] = {}
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)):
            for tgt in stmt.targets:
                if isinstance(tgt, ast.Name) and stores.get(tgt.id) == 1:
                    constants[tgt.id] = stmt.value.value
    return constants
