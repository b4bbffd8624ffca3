"""DW301's fix: the builder-stage split, golden before/after Dockerfiles and the refusals."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from deadweight.fixes.base import FixContext, FixSettings
from deadweight.fixes.builder_libs import runtime_for_installed, soname_package
from deadweight.fixes.builder_shell import and_segments, compiler_words
from deadweight.fixes.builder_stage import split
from deadweight.fixes.refused import FixRefused
from deadweight.fixes.workspace import Workspace
from deadweight.inventory.ospackages import is_toolchain
from deadweight.model.finding import Finding, Severity
from deadweight.model.remedy import SplitBuilderStage
from deadweight.pipeline.fix import fix
from deadweight.project.dockerfile import parse_dockerfile
from deadweight.project.loader import load_project
from deadweight.project.stages import final_chain, shipped_installs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fix" / "builder"


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns("expected.Dockerfile", "refused.txt"))
    return target


def context_for(root: Path, *, estimated: bool = True) -> tuple[SplitBuilderStage, FixContext]:
    """The DW301 edit for the project at ``root`` (as the rule makes it) and a fresh fix context."""
    project = load_project(str(root), scan_deployments=False)
    service = project.services[0]
    assert service.dockerfile is not None
    installs = [c for c in shipped_installs(service)
                if c.tool in ("apt-get", "apt", "apk") and any(is_toolchain(p.split("=")[0]) for p in c.packages)]
    packages = tuple(dict.fromkeys(p for c in installs for p in c.packages if is_toolchain(p.split("=")[0])))
    start = final_chain(service)[0].from_instruction
    edit = SplitBuilderStage(packages, tuple(c.line for c in installs), file=service.dockerfile.path,
                             line=start.start_line, end_line=start.end_line, original=start.original)
    finding = Finding(rule="DW301", title="Build toolchain installed in the final stage", service=service.name,
                      severity=Severity.MEDIUM, estimated=estimated, remedy=(edit,))
    ctx = FixContext(service=service, project=project, finding=finding, settings=FixSettings(),
                     workspace=Workspace(project.root))
    return edit, ctx


def run_split(root: Path) -> tuple[str, FixContext]:
    """The fixed Dockerfile text (``FixRefused`` propagates) and the context, for its notes."""
    edit, ctx = context_for(root)
    split(edit, ctx)
    assert edit.file is not None
    return ctx.workspace.text(edit.file), ctx


GOLDEN = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.Dockerfile").is_file())
REFUSED = sorted(p.name for p in FIXTURES.iterdir() if (p / "refused.txt").is_file())


def _project(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "Dockerfile").write_bytes(dockerfile.encode())
    for name, text in {"requirements.txt": "psycopg2\n", **(files or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_fixture_set_covers_both_outcomes() -> None:
    assert {"legacy-api", "worker", "args", "multistage", "split-run"} <= set(GOLDEN)
    assert len(REFUSED) >= 3


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(name: str, tmp_path: Path) -> None:
    root = copy_fixture(name, tmp_path)
    text, ctx = run_split(root)
    assert text == (FIXTURES / name / "expected.Dockerfile").read_text()
    assert (root / "Dockerfile").read_text() == (FIXTURES / name / "Dockerfile").read_text()  # nothing written
    assert any("-dev → runtime table (debian bookworm)" in note for note in ctx.notes)


@pytest.mark.parametrize("name", REFUSED)
def test_refused(name: str, tmp_path: Path) -> None:
    root = copy_fixture(name, tmp_path)
    edit, ctx = context_for(root)
    before = ctx.workspace.text(str(root / "Dockerfile"))
    with pytest.raises(FixRefused) as exc:
        split(edit, ctx)
    assert str(exc.value) == (FIXTURES / name / "refused.txt").read_text().strip()
    assert ctx.workspace.text(str(root / "Dockerfile")) == before


@pytest.mark.parametrize("name", GOLDEN)
def test_a_second_run_changes_nothing(name: str, tmp_path: Path) -> None:
    root = copy_fixture(name, tmp_path)
    (root / "Dockerfile").write_text((FIXTURES / name / "expected.Dockerfile").read_text())
    edit, ctx = context_for(root)
    split(edit, ctx)
    assert ctx.workspace.changes() == ()


def test_legacy_api_structure(tmp_path: Path) -> None:
    root = copy_fixture("legacy-api", tmp_path)
    text, _ctx = run_split(root)
    old = parse_dockerfile((root / "Dockerfile").read_text())
    new = parse_dockerfile(text)
    assert [s.name for s in new.stages] == ["build", None]
    build, runtime = new.stages
    assert build.base == runtime.base == "python:3.11-slim"
    kept = [i.original for i in old.stages[0].instructions if not i.original.startswith("RUN ")]
    assert [i.original for i in runtime.instructions if i.original in kept] == kept
    assert not any("gcc" in i.original for i in runtime.instructions)
    assert "libpq5" in runtime.instructions[0].original


def test_crlf_endings_and_bytes_around_the_final_stage_are_kept(tmp_path: Path) -> None:
    head = "# escape=\\\r\nARG BASE=python:3.11-slim\r\n\r\nFROM node:20 AS assets\r\nRUN npm ci\r\n\r\n"
    body = ("FROM ${BASE}\r\nRUN apt-get update && apt-get install -y gcc libpq-dev\r\nCOPY requirements.txt .\r\n"
            "RUN pip install -r requirements.txt\r\nCOPY --from=assets /dist /static\r\n"
            "CMD [\"python\", \"-m\", \"app\"]\r\n")
    tail = "# the end\r\n"
    root = _project(tmp_path, head + body + tail)
    text, _ = run_split(root)
    assert text.startswith(head) and text.endswith(tail)
    assert "\n" not in text.replace("\r\n", "")
    assert "FROM ${BASE} AS build\r\n" in text
    assert "COPY --from=assets /dist /static\r\n" in text.split("FROM ${BASE}\r\n")[1]


def test_platform_is_kept_and_a_taken_name_avoided(tmp_path: Path) -> None:
    df = ("FROM alpine AS build\nRUN true\n"
          "FROM --platform=linux/amd64 python:3.11-slim AS web\nRUN apt-get update && apt-get install -y gcc\n"
          "RUN pip install psycopg2\nCMD [\"python\"]\n")
    text, _ = run_split(_project(tmp_path, df))
    assert "FROM --platform=linux/amd64 python:3.11-slim AS builder\n" in text
    assert "FROM --platform=linux/amd64 python:3.11-slim AS web\n" in text
    assert "COPY --from=builder /opt/venv /opt/venv\n" in text


def test_a_prior_single_line_fix_is_moved_as_it_now_reads(tmp_path: Path) -> None:
    root = copy_fixture("legacy-api", tmp_path)
    edit, ctx = context_for(root)
    assert edit.file is not None
    current = ctx.workspace.text(edit.file).replace("install -y gcc", "install -y --no-install-recommends gcc")
    ctx.workspace.set(edit.file, current)
    split(edit, ctx)
    build = ctx.workspace.text(edit.file).split("\nFROM python:3.11-slim\n")[0]
    assert "RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev python3-dev\n" in build


def test_alpine(tmp_path: Path) -> None:
    df = ("FROM python:3.11-alpine\nRUN apk add --no-cache gcc musl-dev postgresql-dev\n"
          "RUN pip install psycopg2\nCMD [\"python\"]\n")
    text, _ = run_split(_project(tmp_path, df))
    assert "RUN apk add --no-cache libgcc libpq\n" in text


def test_an_unknown_dev_package_stays_with_a_note(tmp_path: Path) -> None:
    df = "FROM python:3.11-slim\nRUN apt-get install -y gcc libfoo-dev\nRUN pip install foo\nCMD [\"foo\"]\n"
    text, ctx = run_split(_project(tmp_path, df))
    assert "apt-get install -y --no-install-recommends libfoo-dev &&" in text
    assert any("libfoo-dev: kept" in n for n in ctx.notes)


@pytest.mark.parametrize(("dockerfile", "reason"), [
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nENV PATH=/usr/local/bin:/usr/bin:/bin\n"
     "RUN pip install x\n", "sets PATH without $PATH"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nUSER app\nRUN pip install x\n", "runs as USER app"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nUSER app\nRUN pip install x\nUSER root\nRUN pip install y\n",
     "line 4 runs as USER app"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN uv pip install --system x\n", "with uv"),
    ("FROM python:3.11-slim AS base\nRUN apt-get install -y gcc\nRUN pip install x\nFROM base\nCMD [\"x\"]\n",
     "built FROM"),
    ("FROM python:3.11-slim\nSHELL [\"/bin/bash\", \"-c\"]\nRUN apt-get install -y gcc\nRUN pip install x\n",
     "sets SHELL"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nCMD [\"make\", \"run\"]\n", "runs make"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nCOPY x.c .\nRUN gcc -o x x.c\nCMD [\"./x\"]\n",
     "runs gcc"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN pip install x\nCMD [\"/usr/local/bin/x\"]\n",
     "names /usr/local/bin/x"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN pip install x; python -m x.setup\n"
     "CMD [\"x\"]\n", "mixes the toolchain or pip install with other work"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc && cd /src && useradd app\nRUN pip install x\n",
     "changes directory"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN python -m venv /v\nRUN pip install x\n",
     "already makes a virtual environment"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN pip install -e .\n", "uses -e"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN sudo pip install x\n", "through sudo"),
    ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN /usr/local/bin/pip install x\n",
     "runs /usr/local/bin/pip, not the venv's"),
    ("FROM python:3.11-slim AS b\nRUN true\nFROM python:3.11-slim\nRUN apt-get install -y gcc\n"
     "RUN pip install x\nCOPY --from=b /usr/local/lib/python3.11/site-packages/ /usr/local/lib/python3.11/\n",
     "system site-packages"),
])  # fmt: skip
def test_refusals(tmp_path: Path, dockerfile: str, reason: str) -> None:
    edit, ctx = context_for(_project(tmp_path, dockerfile))
    with pytest.raises(FixRefused, match=re.escape(reason)):
        split(edit, ctx)
    assert ctx.workspace.changes() == ()


def test_independent_work_in_a_pip_run_is_split_off(tmp_path: Path) -> None:
    df = "FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN pip install x && python -m x.init\nCMD [\"x\"]\n"
    text, _ = run_split(_project(tmp_path, df))
    build, runtime = text.split("\nFROM python:3.11-slim\n")
    assert "RUN pip install x\n" in build
    assert runtime.endswith('ENV PATH="/opt/venv/bin:$PATH"\nRUN python -m x.init\nCMD ["x"]\n')


def test_an_entrypoint_script_copied_to_usr_local_bin_is_fine(tmp_path: Path) -> None:
    df = ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN pip install x\n"
          "COPY entrypoint.sh /usr/local/bin/\nENTRYPOINT [\"/usr/local/bin/entrypoint.sh\"]\n")
    text, _ = run_split(_project(tmp_path, df))
    assert text.endswith('COPY entrypoint.sh /usr/local/bin/\nENTRYPOINT ["/usr/local/bin/entrypoint.sh"]\n')


def test_packages_the_user_named_keep_their_recommends(tmp_path: Path) -> None:
    df = "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc curl\nRUN pip install x\n"
    text, _ = run_split(_project(tmp_path, df))
    assert "RUN apt-get update && apt-get install -y curl && apt-get clean && rm -rf /var/lib/apt/lists/*\n" in text


def test_a_user_switched_back_to_root_before_the_pip_install_is_fine(tmp_path: Path) -> None:
    df = "FROM python:3.11-slim\nRUN apt-get install -y gcc\nUSER app\nRUN id\nUSER root\nRUN pip install x\n"
    text, _ = run_split(_project(tmp_path, df))
    build = text.split("\n\nFROM python:3.11-slim\n")[0]
    assert build.endswith("USER app\nRUN id\nUSER root\nRUN python3 -m venv --system-site-packages /opt/venv\n"
                          'ENV PATH="/opt/venv/bin:$PATH"\nRUN pip install x')


def test_a_heredoc_pip_install_moves(tmp_path: Path) -> None:
    df = "FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN <<EOF\npip install y\nEOF\nCMD [\"y\"]\n"
    text, _ = run_split(_project(tmp_path, df))
    assert "RUN <<EOF\npip install y\nEOF\n\nFROM python:3.11-slim\n" in text


def test_an_entrypoint_script_that_compiles_is_refused_and_other_scripts_are_not_read(tmp_path: Path) -> None:
    df = ("FROM python:3.11-slim\nRUN apt-get install -y gcc\nCOPY . /app\nRUN pip install x\n"
          "ENTRYPOINT [\"/app/start.sh\"]\n")
    root = _project(tmp_path, df, {"start.sh": "#!/bin/sh\n# make sure\nmake -C native\nexec x\n",
                                   "scripts/release.sh": "make dist\n"})
    edit, ctx = context_for(root)
    with pytest.raises(FixRefused, match=r"start\.sh uses make"):
        split(edit, ctx)
    (root / "start.sh").write_text("#!/bin/sh\nexec x\n")
    edit, ctx = context_for(root)
    split(edit, ctx)
    assert ctx.workspace.changes()


def test_refused_when_a_package_compiles_at_runtime(tmp_path: Path) -> None:
    root = _project(tmp_path, "FROM python:3.11-slim\nRUN apt-get install -y g++\nCOPY requirements.txt .\n"
                              "RUN pip install -r requirements.txt\n", {"requirements.txt": "pystan==3.10\n"})
    edit, ctx = context_for(root)
    with pytest.raises(FixRefused, match="pystan compiles"):
        split(edit, ctx)


def test_refused_when_the_final_stage_moved_since_the_audit(tmp_path: Path) -> None:
    root = copy_fixture("legacy-api", tmp_path)
    edit, ctx = context_for(root)
    assert edit.file is not None
    ctx.workspace.set(edit.file, ctx.workspace.text(edit.file).replace("FROM python:3.11-slim", "FROM python:3.12"))
    with pytest.raises(FixRefused, match="no longer"):
        split(edit, ctx)


def test_runtime_packages_from_the_tables() -> None:
    libs = runtime_for_installed(["gcc-12", "libpq-dev=15.*", "python3-dev", "curl", "libgeos-dev", "g++"], "debian")
    assert libs.packages == ("libpq5", "libgeos-c1v5", "libstdc++6")
    assert libs.kept == ()
    assert "gcc-12" in libs.dropped and "python3-dev" in libs.dropped
    assert runtime_for_installed(["libnope-dev"], "debian").kept == ("libnope-dev",)
    assert runtime_for_installed(["postgresql-dev", "musl-dev", "libxml2-dev"], "alpine").packages == (
        "libpq", "libxml2")
    assert runtime_for_installed(["default-libmysqlclient-dev"], "debian").packages == ("libmariadb3",)
    assert soname_package("libpq.so.5", "debian") == "libpq5"
    assert soname_package("libgomp.so.1", "alpine") == "libgomp"
    assert soname_package("libjpeg.so.62", "debian") == "libjpeg62-turbo"
    assert soname_package("libnothing.so.9", "debian") is None


def test_and_segments() -> None:
    assert and_segments("a && b 'x && y' && c") == ["a", "b 'x && y'", "c"]
    assert and_segments("a && b; c") is None
    assert and_segments("a || b") is None
    assert and_segments("a && $(b)") is None
    assert and_segments("a | b") is None


def test_compiler_words() -> None:
    assert compiler_words(["cd x && make -j4"]) == ["make"]
    assert compiler_words(["sh -c 'gcc-12 -o a a.c'"]) == ["gcc-12"]
    assert compiler_words(["python setup.py build_ext"]) == ["python setup.py"]
    assert compiler_words(["gunicorn app:app", "echo make"]) == []


def test_through_the_planner_offline(tmp_path: Path) -> None:
    """``deadweight fix --only DW301`` on legacy-api: the audit's own edit, planned in the shared workspace."""
    root = copy_fixture("legacy-api", tmp_path)
    plan = fix(root, offline=True, only=["DW301"])
    [row] = [f for f in plan.fixes if f.rule == "DW301"]
    assert row.status == "planned", row.reason
    assert plan.changed_files == ("Dockerfile",)
    assert (root / "Dockerfile").read_text() == (FIXTURES / "legacy-api" / "Dockerfile").read_text()
    assert plan.files[0].after == (FIXTURES / "legacy-api" / "expected.Dockerfile").read_text()
    assert "libpq5" in row.reason
