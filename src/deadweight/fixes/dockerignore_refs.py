"""Private helper of ``fixes/dockerignore.py``: the context paths a service names at run time.

The usage scan records modules, not the files code opens, so this reads them here: every string literal of
the shipped Python code (``open("data/model.pkl")``, ``Path("data") / "x"``, ``os.path.join("data", "x")``,
the literal head of an f-string), the path-like words of shipped settings files (YAML, JSON, TOML, INI,
``.env``), and of the service's environment, command and entrypoint. A word counts when it names a path in
the build context: relative to the WORKDIR, to the code file's own directory, or an absolute image path a
COPY put there. Deliberately generous: a false reference keeps a pattern out of .dockerignore (and says so),
a missed one would ship an image without a file it opens.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from deadweight.errors import ParseError
from deadweight.model.project import ShippedFile
from deadweight.project.files import read_text

__all__ = ["Reference", "references"]

_SETTINGS_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".conf", ".env", ".properties")
_WORD_RE = re.compile(r"/?[\w.@+~-]+(?:/[\w.@+~-]+)*/?")
_MAX_SCAN_BYTES = 2 << 20
_THIRD_PARTY = frozenset({"site-packages", "dist-packages", "node_modules"})


@dataclass(frozen=True)
class Reference:
    path: str  # context-relative, posix
    where: str  # "app.py:12", "environment MODEL_PATH"
    text: str  # the literal as written


class _Resolver:
    def __init__(self, listing: Iterable[str], shipped: Iterable[ShippedFile], workdir: str) -> None:
        self.listing = set(listing)
        self.tops = {p.split("/", 1)[0] for p in self.listing}
        self.shipped = list(shipped)
        self.workdir = workdir.rstrip("/") or "/"

    def resolve(self, text: str, base_dir: str = "") -> set[str]:
        """The context paths ``text`` may name ("" for the context root is never returned)."""
        text = text.strip()
        if not text or len(text) > 400 or "\n" in text or "://" in text or "\x00" in text:
            return set()
        out: set[str] = set()
        if text.startswith("/"):
            image = posixpath.normpath(text)
            prefix = self.workdir + "/" if self.workdir != "/" else "/"
            if image.startswith(prefix):
                out |= self._relative(image[len(prefix):])
            out |= self._image(image)
        else:
            out |= self._relative(text)
            if base_dir:
                out |= self._relative(posixpath.join(base_dir, text))
        return out

    def _relative(self, rel: str) -> set[str]:
        rel = posixpath.normpath(rel)
        if rel in (".", "") or rel.startswith("../") or rel == "..":
            return set()
        rel = rel.removeprefix("./")
        return {rel} if rel.split("/", 1)[0] in self.tops else set()

    def _image(self, image: str) -> set[str]:
        out: set[str] = set()
        for f in self.shipped:
            if f.from_stage is not None:
                continue
            if f.image_path == image:
                out.add(f.context_path)
            elif f.image_path.startswith(image.rstrip("/") + "/"):
                rest = f.image_path[len(image.rstrip("/")):]
                if f.context_path.endswith(rest) and len(f.context_path) > len(rest):
                    out.add(f.context_path[: len(f.context_path) - len(rest)])
        return {p for p in out if p not in ("", ".")}


def references(
    *,
    context_dir: Path,
    files: Iterable[str],
    listing: Iterable[str],
    shipped: Iterable[ShippedFile],
    workdir: str,
    words: Mapping[str, str],
    cache: dict[str, list[tuple[int, str]]] | None = None,
) -> list[Reference]:
    """References from the code and settings ``files`` (context paths) and from ``words`` (where -> text).

    Third-party code (``site-packages``, ``dist-packages``, ``node_modules``) is not read: what it opens is
    not the project's. ``cache`` keeps each file's literals between calls.
    """
    resolver = _Resolver(listing, shipped, workdir)
    cache = {} if cache is None else cache
    out: list[Reference] = []
    for where, text in words.items():
        for word in _WORD_RE.findall(text):
            out.extend(Reference(p, where, word) for p in sorted(resolver.resolve(word)))
    for rel in files:
        lower = rel.lower()
        if not (lower.endswith(".py") or lower.endswith(_SETTINGS_SUFFIXES)) or _THIRD_PARTY & set(rel.split("/")):
            continue
        if rel not in cache:
            cache[rel] = _literals(context_dir / rel, python=lower.endswith(".py"))
        base = posixpath.dirname(rel)
        for line, literal in cache[rel]:
            out.extend(Reference(p, f"{rel}:{line}", literal) for p in sorted(resolver.resolve(literal, base)))
    return out


def _literals(path: Path, *, python: bool) -> list[tuple[int, str]]:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_SCAN_BYTES:
            return []
        text = read_text(path, "file")
    except (OSError, ParseError):
        return []
    return list(_python_literals(text) if python else _words(text))


def _words(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        for word in _WORD_RE.findall(line):
            yield number, word


def _python_literals(text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of the string literals that may name a path: not docstrings, dict keys or subscripts."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        yield from _words(text)  # not Python we can parse: every path-like word counts
        return
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        elif isinstance(node, ast.Dict):
            skip.update(id(k) for k in node.keys if k is not None)
        elif isinstance(node, ast.Subscript):
            skip.add(id(node.slice))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            joined = _joined(node.args)
            if joined:
                yield node.lineno, joined
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            joined = _joined(_div_parts(node))
            if joined:
                yield node.lineno, joined
        elif isinstance(node, ast.JoinedStr):
            head = ""
            for value in node.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    head += value.value
                else:
                    break
            if "/" in head:
                yield node.lineno, head.rsplit("/", 1)[0]
            for value in node.values:
                skip.add(id(value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def _div_parts(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return [*_div_parts(node.left), *_div_parts(node.right)]
    return [node]


def _joined(parts: list[ast.expr]) -> str:
    """``"data", "x.csv"`` -> ``data/x.csv``: the leading run of string literals joined as a path."""
    words: list[str] = []
    for part in parts:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            words.append(part.value)
        elif words:
            break
        else:
            continue
    return posixpath.join(*words) if len(words) > 1 else ""
