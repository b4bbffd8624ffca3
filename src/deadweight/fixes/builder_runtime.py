"""Is the toolchain used at runtime? Then the builder-stage split would break the service, and is refused.

Looked at: what stays in the runtime stage (RUN, CMD, ENTRYPOINT, HEALTHCHECK) and the compose command and
entrypoint, for compilers and for the system interpreter's paths the venv moves away from; the declared and
locked packages, for those known to compile C at runtime; the service's Python code, for pyximport, cffi's
runtime compilation, torch.compile and compilers run through subprocess; the shell scripts CMD or ENTRYPOINT
start, for compilers.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.builder_shell import compiler_words, instruction_scripts, site_paths
from deadweight.model.project import Instruction

__all__ = ["RUNTIME_COMPILERS", "check_runtime"]

# packages that run a C/C++ compiler (or make) while the service runs
RUNTIME_COMPILERS = frozenset({
    "pytensor", "aesara", "theano", "theano-pymc", "pymc", "pymc3", "pystan", "cmdstanpy", "pythran", "cppyy",
    "weave", "scipy-weave", "pyopencl", "pycuda", "tvm", "apache-tvm", "cupy",
})  # fmt: skip
_CODE_PATTERNS = (
    (re.compile(r"^\s*(import|from)\s+pyximport\b", re.M), "pyximport (compiles .pyx at import)"),
    (re.compile(r"\bffi\.(verify|compile)\s*\("), "cffi compiling at runtime (ffi.verify/ffi.compile)"),
    (re.compile(r"\btorch\.compile\s*\("), "torch.compile (its CPU backend runs a C++ compiler)"),
    (re.compile(r"\bdistutils\.ccompiler\b|\bnew_compiler\s*\("), "a distutils C compiler"),
    (re.compile(r"""\b(subprocess\.\w+|os\.system|os\.popen)\s*\(\s*\[?\s*(f?["'])\s*(gcc|cc|g\+\+|c\+\+|clang|"""
                r"""make|cmake|gfortran)\b"""), "a compiler run through subprocess"),
)
_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", "build",
                        "dist", "site-packages"})
_MAX_FILES = 2000
_MAX_BYTES = 1 << 20


def check_runtime(kept: Iterable[Instruction], ctx: FixContext, *, venv: bool = True) -> None:
    """``FixRefused`` when anything that stays in the runtime image needs the toolchain, or (``venv``: the
    packages move to a venv) names the system interpreter's paths."""
    kept = list(kept)
    copied = _copied_scripts(kept)
    for ins in kept:
        if venv and ins.keyword in ("COPY", "ADD") and _SITE_DIR.search(ins.args):
            raise FixRefused(f"the {ins.keyword} at line {ins.start_line} puts files in the system site-packages, "
                             "which the venv's Python does not read first: split it by hand")
        if ins.keyword not in ("RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK"):
            continue
        scripts = instruction_scripts(ins)
        used = compiler_words(scripts)
        if used:
            raise FixRefused(f"the {ins.keyword} at line {ins.start_line} runs {used[0]}, which needs the "
                             "toolchain in the image that runs")
        paths = [p for p in site_paths(scripts) if p not in copied] if venv else []
        if paths:
            raise FixRefused(f"the {ins.keyword} at line {ins.start_line} names {paths[0]}, which the venv "
                             "moves: split it by hand")
    for label, value in (("command", ctx.service.command), ("entrypoint", ctx.service.entrypoint)):
        if value is None:
            continue
        script = value if isinstance(value, str) else " ".join(value)
        used = compiler_words([script])
        if used:
            raise FixRefused(f"the service's {label} runs {used[0]}, which needs the toolchain at runtime")
        paths = [p for p in site_paths([script]) if p not in copied] if venv else []
        if paths:
            raise FixRefused(f"the service's {label} names {paths[0]}, which the venv moves")
    names = {r.name for r in ctx.service.requirements} | {p.name for p in ctx.service.locked}
    compiling = sorted(names & RUNTIME_COMPILERS)
    if compiling:
        raise FixRefused(f"{compiling[0]} compiles C/C++ while the service runs: it needs the toolchain in the "
                         "image that runs")
    started = {posixpath.basename(w) for ins in kept if ins.keyword in ("CMD", "ENTRYPOINT")
               for script in instruction_scripts(ins) for w in script.split()}
    for value in (ctx.service.command, ctx.service.entrypoint):
        if value is not None:
            started.update(posixpath.basename(w) for w in (value.split() if isinstance(value, str) else value))
    found = _code_use(ctx.service.context_dir, started)
    if found:
        where, what = found
        raise FixRefused(f"{where} uses {what}: it needs the toolchain in the image that runs")


_SITE_DIR = re.compile(r"site-packages|dist-packages|/usr/local/lib/python|/usr/lib/python")


def _copied_scripts(kept: list[Instruction]) -> set[str]:
    """``/usr/local/bin/X`` paths the stage itself COPYs in (an entrypoint script): not the venv's business."""
    out: set[str] = set()
    for ins in kept:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        words = [w for w in ins.args.split() if not w.startswith("--")]
        if len(words) < 2 or not words[-1].startswith("/usr/local/bin/"):
            continue
        dest = words[-1]
        names = [posixpath.basename(w.rstrip("/")) for w in words[:-1]] if dest.endswith("/") else [
            posixpath.basename(dest)]
        out.update(f"/usr/local/bin/{n}" for n in names if not re.match(r"(python|pip)", n))
    return out


def _files(root: Path) -> Iterator[Path]:
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith((".py", ".pyx", ".sh")) and name != "setup.py":
                count += 1
                if count > _MAX_FILES:
                    return
                yield Path(dirpath) / name


def _code_use(context_dir: str | None, started: set[str]) -> tuple[str, str] | None:
    """The first file of the build context that compiles at runtime, and how (read only, never written): Python
    code anywhere, shell scripts only when CMD or ENTRYPOINT names them (``started``)."""
    if not context_dir or not Path(context_dir).is_dir():
        return None
    root = Path(context_dir)
    for path in _files(root):
        if path.suffix == ".sh" and path.name not in started:
            continue
        try:
            if path.stat().st_size > _MAX_BYTES or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        rel = str(path.relative_to(root))
        if path.suffix == ".sh":
            lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
            used = compiler_words(lines)
            if used:
                return rel, used[0]
            continue
        for pattern, what in _CODE_PATTERNS:
            if pattern.search(text):
                return rel, what
    return None
