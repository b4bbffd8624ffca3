"""Dockerfile parsing: every construct Docker accepts, with exact positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import ParseError
from deadweight.project.dockerfile import (
    parse_dockerfile,
    parse_dockerfile_file,
    parse_exec_or_shell,
    split_flags,
)
from deadweight.project.shellwords import expand_vars

MULTI = """\
# syntax=docker/dockerfile:1.7
# check=skip=all
ARG PY=3.11
ARG BASE=python:${PY:-3.9}-slim
FROM --platform=$BUILDPLATFORM ${BASE} AS Builder
ARG PY
ENV A=1 B="two words" \\
    C=$A
# a comment between instructions
RUN pip install \\
    # a comment inside the continuation
    torch==2.1 \\

    numpy
COPY --chown=app:app --link requirements.txt /src/
FROM builder
WORKDIR app
USER 1000:1000
EXPOSE 8000/tcp
LABEL org.opencontainers.image.title="api svc" version=1
HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1
ENTRYPOINT ["python"]
CMD ["-m", "app"]
FROM python:3.11-slim AS final
COPY --from=builder /src /src
CMD python -m app
"""


def test_stages_names_bases_and_inheritance() -> None:
    df = parse_dockerfile(MULTI, "Dockerfile")
    assert [s.name for s in df.stages] == ["builder", None, "final"]
    assert df.stages[0].base == "python:3.11-slim"  # global ARG with ${PY:-3.9} substituted
    assert df.stages[0].platform == "$BUILDPLATFORM"  # builder-provided ARG kept as written
    assert df.stages[1].base == "builder"
    assert df.stages[1].base_stage == 0
    assert df.stages[2].base_stage is None
    assert df.final_stage().index == 2
    assert df.final_stage("builder").index == 0
    assert df.final_stage("1").index == 1
    assert [s.index for s in df.chain(df.stages[1])] == [1, 0]
    with pytest.raises(ParseError, match="build target 'nope'"):
        df.final_stage("nope")


def test_directives_and_global_args() -> None:
    df = parse_dockerfile(MULTI)
    assert df.directives == (("syntax", "docker/dockerfile:1.7"), ("check", "skip=all"))
    assert df.global_args == {"PY": "3.11", "BASE": "python:3.11-slim"}
    assert df.stages[0].args == {"PY": "3.11"}  # redeclared ARG takes the global default


def test_env_semantics_use_values_from_before_the_instruction() -> None:
    df = parse_dockerfile(MULTI)
    # Docker: "ENV A=1 C=$A" sees the *previous* A (unset here), so C is empty
    assert df.stages[0].env == {"A": "1", "B": "two words", "C": ""}
    assert df.stages[1].env == df.stages[0].env  # inherited through FROM builder


def test_continuations_comments_and_blank_lines_keep_positions() -> None:
    df = parse_dockerfile(MULTI)
    run = df.stages[0].of("RUN")[0]
    assert run.args == "pip install torch==2.1 numpy"
    assert (run.start_line, run.end_line) == (10, 14)
    assert run.original.splitlines()[0] == "RUN pip install \\"
    assert run.original.splitlines()[-1] == "    numpy"
    env = df.stages[0].of("ENV")[0]
    assert (env.start_line, env.end_line) == (7, 8)


def test_flags_workdir_user_cmd_entrypoint() -> None:
    df = parse_dockerfile(MULTI)
    copy = df.stages[0].of("COPY")[0]
    assert copy.flags == (("chown", "app:app"), ("link", ""))
    assert copy.flag("chown") == "app:app"
    assert copy.args == "requirements.txt /src/"
    s1 = df.stages[1]
    assert s1.workdir == "/app"
    assert s1.user == "1000:1000"
    assert s1.entrypoint is not None and s1.entrypoint.exec_form == ("python",)
    assert s1.cmd is not None and s1.cmd.exec_form == ("-m", "app")
    hc = s1.of("HEALTHCHECK")[0]
    assert hc.flag("interval") == "30s"
    assert hc.args.startswith("CMD curl")
    final = df.stages[2]
    assert final.of("COPY")[0].flag("from") == "builder"
    assert final.cmd is not None and final.cmd.shell == "python -m app" and final.cmd.exec_form is None


def test_entrypoint_resets_inherited_cmd() -> None:
    df = parse_dockerfile('FROM a AS x\nCMD ["run"]\nFROM x\nENTRYPOINT ["tini"]\n')
    assert df.stages[0].cmd is not None
    assert df.stages[1].cmd is None


def test_heredocs_run_and_copy() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM alpine\n"
        "RUN <<EOF\n"
        "pip install a\n"
        "pip install b\n"
        "EOF\n"
        "COPY <<-EOT /app/conf.txt\n"
        "\thello\n"
        "\tEOT\n"
        "RUN <<'A' bash\n"
        "echo $HOME\n"
        "A\n"
        "CMD x\n"
    )
    df = parse_dockerfile(text)
    run, copy, run2, cmd = df.stages[0].instructions
    assert run.heredocs[0].name == "EOF"
    assert run.heredocs[0].body == "pip install a\npip install b\n"
    assert (run.start_line, run.end_line) == (3, 6)
    assert copy.heredocs[0].strip_tabs and copy.heredocs[0].body == "hello\n"
    assert (copy.start_line, copy.end_line) == (7, 9)
    assert run2.heredocs[0].quoted
    assert cmd.start_line == 13


def test_unterminated_heredoc_names_line() -> None:
    with pytest.raises(ParseError, match=r"Dockerfile:2: unterminated heredoc <<EOF"):
        parse_dockerfile("FROM a\nRUN <<EOF\necho hi\n")


def test_escape_directive_backtick() -> None:
    text = "# escape=`\nFROM mcr.microsoft.com/windows\nCOPY testfile.txt c:\\ `\n    d:\\dir\\\nRUN dir c:\\\n"
    df = parse_dockerfile(text)
    assert df.escape == "`"
    copy, run = df.stages[0].instructions
    assert copy.args == "testfile.txt c:\\ d:\\dir\\"  # backslashes are literal, backtick continues
    assert (copy.start_line, copy.end_line) == (3, 4)
    assert run.args == "dir c:\\"


def test_directive_after_comment_is_a_comment() -> None:
    df = parse_dockerfile("# about\n# escape=`\nFROM a\nRUN echo \\\n  hi\n")
    assert df.directives == ()
    assert df.escape == "\\"
    assert df.stages[0].instructions[0].args == "echo hi"


def test_build_args_override_defaults() -> None:
    df = parse_dockerfile("ARG V=1\nFROM img:${V}\nARG V\nARG W=x\n", build_args={"V": "2", "W": "y"})
    assert df.stages[0].base == "img:2"
    assert df.stages[0].args == {"V": "2", "W": "y"}


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^Dockerfile:2: unknown instruction FORM$"):
        parse_dockerfile("FROM a\nFORM b\n")
    with pytest.raises(ParseError, match=r"Dockerfile:1: RUN before the first FROM"):
        parse_dockerfile("RUN x\nFROM a\n")
    with pytest.raises(ParseError, match="no FROM"):
        parse_dockerfile("# only a comment\nARG X=1\n")
    with pytest.raises(ParseError, match="cannot read Dockerfile"):
        parse_dockerfile_file(tmp_path / "missing")


def test_crlf_and_lowercase_keywords(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"from python:3.11\r\nrun pip install \\\r\n  flask\r\n")
    df = parse_dockerfile_file(path)
    run = df.stages[0].instructions[0]
    assert run.keyword == "RUN"
    assert run.args == "pip install flask"
    assert run.original == "run pip install \\\r\n  flask\r\n"


def test_expand_vars_forms() -> None:
    values = {"A": "1", "E": ""}
    assert expand_vars("$A ${A} ${B:-d} ${E:-d} ${E-d} ${A:+set} ${B:+set}", values) == "1 1 d d  set "
    assert expand_vars("\\$A", values) == "$A"
    assert expand_vars("'$A' \"$A\"", values) == "'$A' \"1\""
    assert expand_vars("$HOME/x ${A}", values, keep_unknown=True) == "$HOME/x 1"


def test_split_flags_and_exec_form() -> None:
    flags, rest = split_flags('--mount=type=cache,target=/root/.cache --network=host pip install x')
    assert flags == (("mount", "type=cache,target=/root/.cache"), ("network", "host"))
    assert rest == "pip install x"
    assert parse_exec_or_shell('["a", "b c"]').exec_form == ("a", "b c")
    assert parse_exec_or_shell("[not json").shell == "[not json"
