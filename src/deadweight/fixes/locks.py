"""Lock files regenerated after an edit of pyproject.toml: ``uv lock``, ``poetry lock``, ``pdm lock``.

The tool runs in a scratch copy of the project holding the workspace's edited text, never in the user's
directory, and the new lock is read back into the workspace, so nothing on disk changes before the
transaction writes everything at once.

The scratch copy is the project directory minus what no lock needs (.git, virtual environments, caches,
node_modules), bounded in files and bytes: uv and PDM build a project that has a ``[build-system]`` to read
its metadata, so its sources must be there. Each tool is run the way that keeps every other pin: ``uv lock``
(keeps the locked versions it can), ``poetry lock`` (Poetry 2 no longer re-resolves unless ``--regenerate``),
``pdm update --no-sync --update-eager <the changed packages>``. After the tool, the new lock must hold no
CUDA build for Linux: no ``nvidia-*``, ``cuda-*`` or ``triton`` package and no ``+cu`` version; otherwise
the fix is refused (and the planner puts the workspace back).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path

from deadweight.fixes.base import FixContext, FixRefused

__all__ = ["LOCK_TIMEOUT_S", "cuda_entries", "lock_command", "lock_file_of", "regenerate", "run_tool"]

LOCK_TIMEOUT_S = 600.0
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
                        ".mypy_cache", ".pytest_cache", ".ruff_cache", "dist", "build", ".pdm-build"})
_MAX_FILES = 20_000
_MAX_BYTES = 256 << 20
_CUDA_NAMES = frozenset({"triton", "pytorch-triton"})
_TOOLS = {"uv.lock": "uv", "poetry.lock": "poetry", "pdm.lock": "pdm"}


def lock_file_of(project_dir: Path) -> Path | None:
    """The lock file next to ``pyproject.toml`` (uv.lock, poetry.lock, pdm.lock), if there is one."""
    for name in ("uv.lock", "poetry.lock", "pdm.lock"):
        if (project_dir / name).is_file():
            return project_dir / name
    return None


def lock_command(lock_name: str, executable: str, packages: Sequence[str] = ()) -> list[str]:
    """The command that regenerates ``lock_name`` keeping the other locked versions. uv and Poetry re-resolve
    a package whose source changed by themselves; PDM keeps a locked version that still satisfies the
    specifier whatever its source, so the changed ``packages`` are updated by name (``--update-eager``: their
    own dependencies too, so CUDA's wheels leave the lock with the CUDA torch)."""
    tool = _TOOLS[lock_name]
    if tool == "uv":
        return [executable, "lock"]
    if tool == "poetry":
        return [executable, "lock", "--no-interaction"]
    if packages:
        return [executable, "update", "--no-sync", "--update-eager", *packages]
    return [executable, "lock", "--update-reuse"]


def regenerate(project_dir: Path, ctx: FixContext, packages: Sequence[str] = ()) -> None:
    """Regenerate the lock of the project at ``project_dir`` from the workspace's pyproject text; ``packages``
    are the ones whose declaration changed.

    No lock file: nothing to do. ``ctx.settings.lock`` False (--no-lock): a note that the lock must be
    regenerated. The tool missing or failing: ``FixRefused`` naming it.
    """
    lock = lock_file_of(project_dir)
    if lock is None:
        return
    tool = _TOOLS[lock.name]
    if not ctx.settings.lock:
        ctx.notes.append(f"{ctx.workspace.display(lock)} must be regenerated ({tool} lock)")
        return
    if ctx.settings.offline:
        shown = " ".join(lock_command(lock.name, tool, packages))
        raise FixRefused(f"{lock.name} must be regenerated and {tool} needs the index for it: run without "
                         f"--offline, or pass --no-lock and run `{shown}`")
    executable = shutil.which(tool)
    if executable is None:
        raise FixRefused(f"{tool} is not installed: the lock must be regenerated (or pass --no-lock)")
    pyproject = project_dir / "pyproject.toml"
    with tempfile.TemporaryDirectory(prefix="deadweight-lock-") as tmp:
        scratch = Path(tmp) / project_dir.name
        _copy_project(project_dir, scratch)
        (scratch / "pyproject.toml").write_bytes(ctx.workspace.text(pyproject).encode("utf-8"))
        (scratch / lock.name).write_bytes(ctx.workspace.text(lock).encode("utf-8"))
        command = lock_command(lock.name, executable, packages)
        shown = " ".join([tool, *command[1:]])
        started = time.monotonic()
        output = run_tool(command, scratch, shown)
        elapsed = time.monotonic() - started
        ctx.commands.append(f"{shown}  (in a scratch copy, {elapsed:.1f}s)")
        try:
            new = (scratch / lock.name).read_text(encoding="utf-8")
        except OSError as exc:
            raise FixRefused(f"{shown} left no {lock.name}: {exc.strerror or exc}; {output}") from None
    bad = cuda_entries(new)
    if bad:
        raise FixRefused(f"the regenerated {lock.name} still holds CUDA builds for Linux ({', '.join(bad[:4])}): "
                         "route them to the CPU index by hand")
    ctx.workspace.set(lock, new)


def run_tool(command: Sequence[str], cwd: Path, shown: str, timeout: float = LOCK_TIMEOUT_S) -> str:
    """Run a locking tool (uv, poetry, pdm, pip-compile) in ``cwd``, a scratch copy: its output, or
    ``FixRefused`` saying it could not run, did not finish in ``timeout`` seconds, or failed (its last lines)."""
    env = dict(os.environ)
    env.setdefault("UV_NO_PROGRESS", "1")
    env["POETRY_NO_INTERACTION"] = "1"
    env.setdefault("PDM_NON_INTERACTIVE", "1")
    env.pop("VIRTUAL_ENV", None)  # the tools must not take deadweight's own environment for the project's
    try:
        done = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FixRefused(f"{shown} did not finish within {timeout:.0f}s") from None
    except OSError as exc:
        raise FixRefused(f"cannot run {shown}: {exc.strerror or exc}") from None
    output = (done.stderr or done.stdout).strip()
    if done.returncode != 0:
        last = " | ".join(line.strip() for line in output.splitlines()[-4:] if line.strip())
        raise FixRefused(f"{shown} failed (exit {done.returncode}): {last[:600]}")
    return output


def _copy_project(source: Path, dest: Path) -> None:
    """The project tree minus VCS data, environments and caches; refused when it is too big to copy."""
    files = 0
    size = 0
    for root, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")
                         and not Path(root, d).is_symlink())
        rel = Path(root).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in names:
            path = Path(root, name)
            if not path.is_file() or path.is_symlink():
                continue
            files += 1
            size += path.stat().st_size
            if files > _MAX_FILES or size > _MAX_BYTES:
                raise FixRefused(f"{source} is too big to copy for the lock regeneration ({_MAX_FILES} files / "
                                 f"{_MAX_BYTES >> 20} MiB at most): pass --no-lock and run the lock yourself")
            shutil.copy2(path, dest / rel / name)


def cuda_entries(lock_text: str) -> list[str]:
    """Packages of a uv/Poetry/PDM lock that belong to a CUDA build: ``nvidia-*`` and ``cuda-*`` (torch 2.10+
    pulls ``cuda-toolkit`` and ``cuda-bindings``), ``triton`` and ``pytorch-triton``, and any ``+cu`` version.
    Any platform counts: a CPU-only service's lock has no business with them."""
    try:
        data = tomllib.loads(lock_text)
    except tomllib.TOMLDecodeError:
        return ["<unreadable lock>"]
    entries = data.get("package")
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name", "")).lower().replace("_", "-")
        version = str(entry.get("version", ""))
        if name.startswith(("nvidia-", "cuda-")) or name in _CUDA_NAMES or "+cu" in version:
            out.append(f"{name} {version}".strip())
    return out
