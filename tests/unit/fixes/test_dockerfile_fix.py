"""The Dockerfile editor on real files: golden diffs, refusals, idempotence, and a property test on generated
Dockerfiles (adding a flag changes only that instruction's lines, and adding it again changes nothing).

Golden diffs live next to each fixture (``tests/fixtures/fix/dockerfile/<case>/expected.diff``); regenerate
them with ``DW_UPDATE_GOLDEN=1`` and read the diff before committing.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadweight.fixes import dockerfile as fixer
from deadweight.fixes.base import FixContext, FixRefused, FixSettings
from deadweight.fixes.registry import apply_edit
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding, Severity
from deadweight.model.project import Dockerfile, Instruction, Project, Service
from deadweight.model.remedy import (
    AddCleanup,
    AddInstallFlag,
    Edit,
    RemoveRequirement,
    ReplaceBase,
    ReplaceRequirement,
)
from deadweight.project.dockerfile import parse_dockerfile
from deadweight.project.installs import extract_installs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fix" / "dockerfile"
APT_LISTS = "rm -rf /var/lib/apt/lists/*"

EditMaker = Callable[[Dockerfile, str], Edit]


def _at(dockerfile: Dockerfile, line: int) -> Instruction:
    for stage in dockerfile.stages:
        for ins in (stage.from_instruction, *stage.instructions):
            if ins.start_line == line:
                return ins
    raise AssertionError(f"no instruction at line {line}")


def flag(tool: str, action: str, value: str, line: int) -> EditMaker:
    """The edit DW302/DW304 make for the RUN at ``line`` (its exact text as ``original``)."""

    def make(df: Dockerfile, path: str) -> Edit:
        ins = _at(df, line)
        return AddInstallFlag(tool, action, value, file=path, line=line, end_line=ins.end_line, original=ins.original)

    return make


def cleanup(line: int, command: str = APT_LISTS, tool: str = "apt-get") -> EditMaker:
    def make(df: Dockerfile, path: str) -> Edit:
        ins = _at(df, line)
        return AddCleanup(tool, command, file=path, line=line, end_line=ins.end_line, original=ins.original)

    return make


def base(old: str, new: str, line: int, builder: bool = False) -> EditMaker:
    def make(df: Dockerfile, path: str) -> Edit:
        ins = _at(df, line)
        return ReplaceBase(old, new, builder=builder, file=path, line=line, end_line=ins.end_line,
                           original=ins.original)

    return make


def remove(package: str, written: str, line: int) -> EditMaker:
    """DW202's edit: the package as the RUN writes it."""
    return lambda df, path: RemoveRequirement(package, file=path, line=line, end_line=_at(df, line).end_line,
                                              original=written)


def replace(package: str, written: str, line: int, name: str | None = None, specifier: str | None = None) -> EditMaker:
    return lambda df, path: ReplaceRequirement(package, name=name, specifier=specifier, file=path, line=line,
                                               end_line=_at(df, line).end_line, original=written)


class Run:
    """Edits applied one after the other to one Dockerfile in one workspace, as the planner applies them."""

    def __init__(self, root: Path, name: str = "Dockerfile", text: str | None = None) -> None:
        self.root = root
        self.path = root / name
        if text is not None:
            self.path.write_bytes(text.encode())
        self.before = self.path.read_bytes().decode()
        self.workspace = Workspace(root)
        self.notes: list[str] = []

    @property
    def text(self) -> str:
        return self.workspace.text(self.path)

    def apply(self, make: EditMaker, build_args: dict[str, str] | None = None) -> str:
        """Make the edit the audit recorded on the original text, in the text the edits so far left."""
        edit = make(parse_dockerfile(self.before, str(self.path), build_args), str(self.path))
        df = parse_dockerfile(self.text, str(self.path), build_args)
        service = Service("svc", str(self.root), df, None, build_args=build_args or {})
        ctx = FixContext(service=service, project=Project(str(self.root), (service,)),
                         finding=Finding("DW000", "test", "svc", Severity.LOW, remedy=(edit,)),
                         settings=FixSettings(), workspace=self.workspace)
        apply_edit(edit, ctx)
        self.notes.extend(ctx.notes)
        return self.text

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True), self.text.splitlines(keepends=True),
                                            "a/Dockerfile", "b/Dockerfile"))


def _golden(case: str, edits: Sequence[EditMaker]) -> Run:
    run = Run(FIXTURES / case)
    for make in edits:
        run.apply(make)
    diff = run.diff()
    golden = FIXTURES / case / "expected.diff"
    if os.environ.get("DW_UPDATE_GOLDEN"):
        golden.write_bytes(diff.encode())
    assert diff == golden.read_bytes().decode(), diff
    again = run.text
    for make in edits:  # every edit again: no change, no error
        run.apply(make)
    assert run.text == again
    assert (FIXTURES / case / "Dockerfile").read_bytes().decode() == run.before  # nothing written to disk
    return run


CASES: dict[str, list[EditMaker]] = {
    "single-line": [flag("apt-get", "install", "--no-install-recommends", 4), cleanup(4),
                    flag("pip", "install", "--no-cache-dir", 8)],
    "continuation-comments": [flag("apt-get", "install", "--no-install-recommends", 2), cleanup(2),
                              flag("pip", "install", "--no-cache-dir", 9)],
    "trailing-and": [flag("apt-get", "install", "--no-install-recommends", 2), cleanup(2)],
    "crlf": [flag("apt-get", "install", "--no-install-recommends", 2), cleanup(2),
             flag("pip", "install", "--no-cache-dir", 4), base("python:3.11", "python:3.11-slim", 1)],
    "escape-backtick": [flag("apt-get", "install", "--no-install-recommends", 3), cleanup(3),
                        flag("pip", "install", "--no-cache-dir", 7)],
    "heredoc": [flag("apt-get", "install", "--no-install-recommends", 3), cleanup(3),
                flag("pip", "install", "--no-cache-dir", 3)],
    "heredoc-no-set-e": [cleanup(2), flag("apt-get", "install", "--no-install-recommends", 2)],
    "exec-form": [flag("pip", "install", "--no-cache-dir", 3), flag("pip", "install", "--no-cache-dir", 4)],
    "multi-stage": [flag("pip", "install", "--no-cache-dir", 6),
                    base("python:3.11", "python:3.11-slim", 4, builder=True)],
    "arg-from": [base("python:3.11", "python:3.11-slim", 2), flag("pip", "install", "--no-cache-dir", 3)],
    "lowercase": [base("python:3.11.9-bookworm", "python:3.11.9-slim", 1),
                  flag("apt-get", "install", "--no-install-recommends", 2), cleanup(2),
                  flag("pip", "install", "--no-cache-dir", 3)],
    "remove-package": [remove("numpy", "numpy", 2), replace("opencv-python", "opencv-python==4.9.0.80", 2,
                                                            name="opencv-python-headless"),
                       remove("matplotlib", "matplotlib", 7), remove("scipy", "scipy", 11),
                       remove("pandas", "pandas", 12)],
    "poetry": [flag("poetry", "install", "--no-cache", 4)],
    "several-installs": [flag("pip", "install", "--no-cache-dir", 2), flag("uv", "install", "--no-cache", 2),
                         flag("apt-get", "install", "--no-install-recommends", 2), cleanup(2)],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_diff(case: str) -> None:
    _golden(case, CASES[case])


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(CASES)


def test_crlf_and_the_escape_directive_are_kept(tmp_path: Path) -> None:
    run = _golden("crlf", CASES["crlf"])
    assert "\n" not in run.text.replace("\r\n", "")
    run = _golden("escape-backtick", CASES["escape-backtick"])
    assert run.text.startswith("# escape=`\n")
    assert "C:\\site\\packages" in run.text


def test_multi_stage_edits_only_the_named_stage() -> None:
    run = _golden("multi-stage", CASES["multi-stage"])
    df = parse_dockerfile(run.text)
    assert df.stages[0].from_instruction.original == "FROM python:3.11 AS build\n"
    assert [c.no_cache for c in extract_installs(df)] == [False, False, True, True]
    assert df.stages[1].base == "python:3.11-slim"


def test_buildkit_note_and_poetry_note() -> None:
    run = _golden("heredoc", CASES["heredoc"])
    assert any("--mount=type=cache,target=/root/.cache/pip" in note for note in run.notes)
    run = _golden("poetry", CASES["poetry"])
    assert any("POETRY_VIRTUALENVS_CREATE" in note for note in run.notes)
    run = _golden("single-line", CASES["single-line"])
    assert run.notes == []  # no BuildKit: no cache-mount suggestion


def _refused(text: str, make: EditMaker, tmp_path: Path, match: str, build_args: dict[str, str] | None = None) -> None:
    run = Run(tmp_path, text=text)
    with pytest.raises(FixRefused, match=match):
        run.apply(make, build_args)
    assert run.text == text


def test_digest_pinned_base_is_refused(tmp_path: Path) -> None:
    _refused("FROM python:3.11@sha256:" + "a" * 64 + "\nRUN true\n",
             base("python:3.11@sha256:" + "a" * 64, "python:3.11-slim", 1), tmp_path,
             "digest in .* pins the full image")


def test_builder_base_is_refused_while_the_final_stage_compiles(tmp_path: Path) -> None:
    _refused("FROM python:3.11\nRUN pip install --no-binary :all: psycopg2\n",
             base("python:3.11", "python:3.11-slim", 1, builder=True), tmp_path, r"needs a builder stage \(DW301\)")


def test_arg_that_carries_the_variant_is_refused(tmp_path: Path) -> None:
    _refused("ARG PY=3.11-bookworm\nFROM python:${PY}\n", base("python:3.11-bookworm", "python:3.11-slim", 2),
             tmp_path, "comes from an ARG")


def test_build_args_are_those_of_the_service(tmp_path: Path) -> None:
    run = Run(tmp_path, text="ARG PY=3.11\nFROM python:${PY}\n")
    run.apply(base("python:3.12", "python:3.12-slim", 2), {"PY": "3.12"})
    assert run.text == "ARG PY=3.11\nFROM python:${PY}-slim\n"


def test_onbuild_is_refused(tmp_path: Path) -> None:
    _refused("FROM python:3.11\nONBUILD RUN pip install flask\n", flag("pip", "install", "--no-cache-dir", 2),
             tmp_path, "ONBUILD")


def test_changed_instruction_is_refused(tmp_path: Path) -> None:
    run = Run(tmp_path, text="FROM python:3.11\nRUN pip install flask\n")
    recorded = AddInstallFlag("pip", "install", "--no-cache-dir", file=str(run.path), line=2,
                              original="RUN pip install django\n")
    with pytest.raises(FixRefused, match="changed since the audit"):
        run.apply(lambda df, path: recorded)


def test_nested_shell_is_refused(tmp_path: Path) -> None:
    _refused("FROM python:3.11\nRUN sh -c 'pip install flask'\n", flag("pip", "install", "--no-cache-dir", 2),
             tmp_path, "nested sh -c")


def test_exec_form_cleanup_is_refused(tmp_path: Path) -> None:
    _refused('FROM debian\nRUN ["apt-get", "install", "-y", "curl"]\n', cleanup(2), tmp_path, "exec-form")


def test_env_equivalent_is_no_change(tmp_path: Path) -> None:
    text = "FROM python:3.11\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n"
    run = Run(tmp_path, text=text)
    run.apply(flag("pip", "install", "--no-cache-dir", 3))
    assert run.text == text


def test_lines_shifted_by_an_earlier_fix(tmp_path: Path) -> None:
    text = "FROM python:3.11\nRUN apt-get update \\\n    && apt-get install -y curl\nRUN pip install flask\n"
    run = Run(tmp_path, text=text)
    df = parse_dockerfile(text, str(run.path))
    later = flag("pip", "install", "--no-cache-dir", 4)(df, str(run.path))
    run.apply(cleanup(2))
    run.apply(lambda df, path: later)  # recorded at line 4, now at line 5
    assert run.text.endswith("    && rm -rf /var/lib/apt/lists/*\nRUN pip install --no-cache-dir flask\n")


def test_only_the_edits_tool_in_a_chain(tmp_path: Path) -> None:
    run = Run(tmp_path, text="FROM python:3.11\nRUN apt-get install -y gcc && pip install flask; pip install x\n")
    run.apply(flag("pip", "install", "--no-cache-dir", 2))
    assert run.text.splitlines()[1] == ("RUN apt-get install -y gcc && pip install --no-cache-dir flask; "
                                        "pip install --no-cache-dir x")


def test_replace_keeps_quotes_and_extras(tmp_path: Path) -> None:
    run = Run(tmp_path, text="FROM python:3.11\nRUN pip install 'uvicorn[standard]>=0.20' flask\n")
    run.apply(replace("uvicorn", "uvicorn[standard]>=0.20", 2, specifier="==0.30.1"))
    assert run.text.splitlines()[1] == "RUN pip install 'uvicorn[standard]==0.30.1' flask"


def test_fixers_are_the_registry_entries() -> None:
    assert fixer.__all__ == ["add_cleanup", "add_install_flag", "remove_package", "replace_base",
                             "replace_package"]


# --- property: random Dockerfiles from a grammar of instruction kinds ----------------------------------------

_EXAMPLES = int(os.environ.get("DW_FIX_EXAMPLES", "150"))  # more for a long local run
_PACKAGES = st.sampled_from(["flask", "numpy", "requests==2.32.3", "'uvicorn[standard]'", '"pydantic>=2"'])
_BLANKS = st.sampled_from(["", "   ", "\t"])


@st.composite
def _pip_run(draw: st.DrawFn, esc: str) -> str:
    """A RUN holding one pip install: one line, continuation lines (with comments between), a chain, a heredoc."""
    pkgs = draw(st.lists(_PACKAGES, min_size=1, max_size=3))
    pip = draw(st.sampled_from(["pip install", "pip3 install", "python -m pip install", "pip install -U"]))
    kw = draw(st.sampled_from(["RUN", "run", "Run"]))
    form = draw(st.sampled_from(["line", "continued", "chain", "heredoc"] if esc == "\\" else
                                ["line", "continued", "chain"]))
    if form == "line":
        return f"{kw} {pip} {' '.join(pkgs)}"
    if form == "continued":
        sep = f" {esc}\n    "
        comment = draw(st.sampled_from(["", f"# note{esc}\n", "\n"]))
        return f"{kw} {pip}{sep}" + f"{sep}{comment}".join(pkgs)
    if form == "chain":
        return f"{kw} echo start {esc}\n    && {pip} {' '.join(pkgs)} {esc}\n    && echo done"
    return f"{kw} <<EOF\nset -e\necho start\n{pip} {' '.join(pkgs)}\nEOF"


@st.composite
def _apt_run(draw: st.DrawFn, esc: str) -> str:
    """A RUN holding apt-get update and install: one line, ``&&`` leading or trailing continuation lines (with
    comments and blank lines between), a heredoc with or without ``set -e``."""
    pkgs = " ".join(draw(st.lists(st.sampled_from(["curl", "gcc", "libpq-dev"]), min_size=1, max_size=3)))
    kw = draw(st.sampled_from(["RUN", "run"]))
    indent = draw(st.sampled_from(["    ", "  ", "\t"]))
    between = draw(st.sampled_from(["", f"{indent}# why{esc}\n", "\n"]))
    form = draw(st.sampled_from(["line", "leading", "trailing", "heredoc", "heredoc-e"] if esc == "\\" else
                                ["line", "leading", "trailing"]))
    if form == "line":
        return f"{kw} apt-get update && apt-get install -y {pkgs}"
    if form == "leading":
        return f"{kw} apt-get update {esc}\n{between}{indent}&& apt-get install -y {esc}\n{indent}{indent}{pkgs}"
    if form == "trailing":
        return f"{kw} apt-get update && {esc}\n{between}{indent}apt-get install -y {pkgs}"
    set_e = "set -e\n" if form == "heredoc-e" else ""
    return f"{kw} <<EOF\n{set_e}apt-get update\napt-get install -y {pkgs}\nEOF"


@st.composite
def _dockerfile(draw: st.DrawFn, kind: str = "pip") -> tuple[str, int]:
    """A Dockerfile text and the first line of the RUN to edit (a pip install, or with ``kind="apt"`` an apt one)."""
    esc = draw(st.sampled_from(["\\", "`"]))
    others = st.sampled_from([
        "ENV A=1", "WORKDIR /app", "COPY . .", "# a comment", "", "LABEL x=y", "ARG V=1",
        f"RUN apt-get update {esc}\n    && apt-get install -y curl", "EXPOSE 8000", 'CMD ["python", "app.py"]',
        "RUN echo $V > /v", 'RUN ["pip", "install", "httpx"]',
    ])
    lines: list[str] = ["# escape=`"] if esc == "`" else []
    lines.append(draw(st.sampled_from(["FROM python:3.11", "FROM python:3.11-slim AS app", "from debian"])))
    runs = []
    target_run = _apt_run(esc) if kind == "apt" else _pip_run(esc)
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            runs.append(len(lines))
            lines.append(draw(target_run))
        else:
            lines.append(draw(others))
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["FROM python:3.11 AS next", "FROM debian"])))
    if not runs:
        runs.append(len(lines))
        lines.append(draw(target_run))
    target = draw(st.sampled_from(runs))
    first_line = 1 + sum(element.count("\n") + 1 for element in lines[:target])
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(x.replace("\n", eol) for x in lines) + draw(st.sampled_from([eol, ""]))
    return text, first_line


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_dockerfile())
def test_adding_a_flag_changes_only_that_instruction(case: tuple[str, int], tmp_path: Path) -> None:
    text, line = case
    target = _at(parse_dockerfile(text), line)
    assert target.keyword == "RUN"
    run = Run(tmp_path, text=text)
    run.apply(flag("pip", "install", "--no-cache-dir", line))
    before, after = text.splitlines(keepends=True), run.text.splitlines(keepends=True)
    assert len(before) == len(after)
    changed = [k + 1 for k, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed and all(target.start_line <= k <= target.end_line for k in changed)
    new_installs = [c for c in extract_installs(parse_dockerfile(run.text)) if c.line == line and c.tool == "pip"]
    assert new_installs and all(c.no_cache for c in new_installs)
    edited = run.text
    run.apply(flag("pip", "install", "--no-cache-dir", line))
    assert run.text == edited  # again: no change


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_dockerfile(kind="apt"))
def test_adding_the_apt_cleanup_changes_only_that_instruction(case: tuple[str, int], tmp_path: Path) -> None:
    text, line = case
    target = _at(parse_dockerfile(text), line)
    run = Run(tmp_path, text=text)
    run.apply(cleanup(line))
    before, after = text.splitlines(keepends=True), run.text.splitlines(keepends=True)
    added = len(after) - len(before)
    assert added in (0, 1)
    assert after[: target.start_line - 1] == before[: target.start_line - 1]
    assert after[target.end_line + added:] == before[target.end_line:]
    installs = [c for c in extract_installs(parse_dockerfile(run.text)) if c.line == line]
    assert installs and all("apt-lists" in c.cleanups for c in installs)
    edited = run.text
    run.apply(cleanup(line))
    run.apply(flag("apt-get", "install", "--no-install-recommends", line))
    run.apply(flag("apt-get", "install", "--no-install-recommends", line))
    assert all(c.no_install_recommends for c in extract_installs(parse_dockerfile(run.text)) if c.line == line)
    assert len(run.text) == len(edited) + len(" --no-install-recommends") * len(installs)


def test_identical_runs_each_get_their_own_edit(tmp_path: Path) -> None:
    run = Run(tmp_path, text="FROM python:3.11\nRUN pip install flask\nRUN pip install flask\n")
    run.apply(flag("pip", "install", "--no-cache-dir", 2))
    run.apply(flag("pip", "install", "--no-cache-dir", 2))
    assert run.text == "FROM python:3.11\nRUN pip install --no-cache-dir flask\nRUN pip install flask\n"
    run.apply(flag("pip", "install", "--no-cache-dir", 3))
    assert run.text.count("--no-cache-dir") == 2


def test_edit_after_an_earlier_fix_removed_a_run(tmp_path: Path) -> None:
    run = Run(tmp_path, text="FROM python:3.11\nRUN pip install scipy\nRUN apt-get install -y curl\n")
    run.apply(remove("scipy", "scipy", 2))
    run.apply(flag("apt-get", "install", "--no-install-recommends", 3))
    assert run.text == "FROM python:3.11\nRUN apt-get install --no-install-recommends -y curl\n"
    assert any("installing scipy was all it did" in note for note in run.notes)
    run.apply(remove("scipy", "scipy", 2))  # the RUN is gone: nothing to do
    assert run.text == "FROM python:3.11\nRUN apt-get install --no-install-recommends -y curl\n"


@pytest.mark.parametrize(("text", "edit", "want"), [
    ("FROM alpine\nRUN apk add curl\n", flag("apk", "add", "--no-cache", 2), "RUN apk add --no-cache curl"),
    ("FROM python:3.11\nRUN uv sync --frozen\n", flag("uv", "sync", "--no-cache", 2),
     "RUN uv sync --no-cache --frozen"),
    ("FROM python:3.11\nRUN apt-get install -o APT::Install-Recommends=false -y curl\n",
     flag("apt-get", "install", "--no-install-recommends", 2),
     "RUN apt-get install -o APT::Install-Recommends=false -y curl"),
    ("FROM python:3.11\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask\n",
     flag("pip", "install", "--no-cache-dir", 2), "RUN --mount=type=cache,target=/root/.cache/pip pip install flask"),
    ("FROM python:3.11\nRUN apt-get install -y curl && apt-get clean\n", cleanup(2, "apt-get clean"),
     "RUN apt-get install -y curl && apt-get clean"),
    ("FROM python:3.11\nRUN apt-get install -y curl\n", cleanup(2, "apt-get clean"),
     "RUN apt-get install -y curl && apt-get clean"),
    ("FROM python\n", base("python", "python:slim", 1), "FROM python:slim"),
    ("FROM docker.io/library/python:3.12 AS app\n", base("python:3.12", "python:3.12-slim", 1),
     "FROM docker.io/library/python:3.12-slim AS app"),
])
def test_one_edit(text: str, edit: EditMaker, want: str, tmp_path: Path) -> None:
    run = Run(tmp_path, text=text)
    run.apply(edit)
    assert run.text.splitlines()[-1] == want
