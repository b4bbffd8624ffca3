"""requirements*.txt: includes, options, every requirement form, per-line ignores, warnings."""

from __future__ import annotations

from pathlib import Path

from deadweight.project.requirements import logical_lines, parse_requirements_file


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_forms_lines_ignores_and_options(tmp_path: Path) -> None:
    req = _write(
        tmp_path / "requirements.txt",
        "# top comment\n"
        "--index-url https://pypi.org/simple\n"
        "--extra-index-url=${EXTRA}\n"
        "--find-links /wheels\n"
        "--trusted-host example.com\n"
        "torch==2.1.0 \\\n"
        "    --hash=sha256:abc \\\n"
        "    --hash=sha256:def\n"
        'numpy>=1.2 ; python_version >= "3.9"  # deadweight: ignore[DW201, dw501]\n'
        "Requests[socks,security]\n"
        "mypkg @ https://example.com/mypkg-1.0.tar.gz\n"
        "git+https://github.com/org/repo.git@v1#egg=Repo_Name\n"
        "./wheels/foo_bar-1.0-py3-none-any.whl\n"
        "pinned==${VERSION}  # deadweight: ignore\n",
    )
    res = parse_requirements_file(req, env={"EXTRA": "https://extra.example/simple", "VERSION": "1.0"})
    by = {r.name: r for r in res.requirements}
    assert list(by) == ["torch", "numpy", "requests", "mypkg", "repo-name", "foo-bar", "pinned"]
    torch = by["torch"]
    assert (torch.specifier, torch.line, torch.end_line) == ("==2.1.0", 6, 8)
    assert torch.pinned
    assert by["numpy"].marker == 'python_version >= "3.9"'
    assert by["numpy"].ignores == ("DW201", "DW501")
    assert by["numpy"].line == 9 and not by["numpy"].pinned
    assert by["requests"].extras == ("security", "socks")
    assert by["mypkg"].url == "https://example.com/mypkg-1.0.tar.gz"
    assert by["repo-name"].url == "git+https://github.com/org/repo.git@v1#egg=Repo_Name"
    assert by["foo-bar"].url == "./wheels/foo_bar-1.0-py3-none-any.whl"
    assert by["pinned"].specifier == "==1.0" and by["pinned"].ignores == ("*",)
    assert by["pinned"].raw == "pinned==${VERSION}"  # raw keeps what the file says, for edits
    opts = [(o.name, o.value, o.line) for o in res.options]
    assert opts == [
        ("--index-url", "https://pypi.org/simple", 2),
        ("--extra-index-url", "https://extra.example/simple", 3),
        ("--find-links", "/wheels", 4),
        ("--trusted-host", "example.com", 5),
    ]
    assert res.warnings == []


def test_includes_are_relative_and_cycle_safe(tmp_path: Path) -> None:
    _write(tmp_path / "reqs" / "base.txt", "fastapi\n-r ../requirements.txt\n-c ../constraints.txt\n")
    _write(tmp_path / "constraints.txt", "fastapi<1\n")
    top = _write(tmp_path / "requirements.txt", "-r reqs/base.txt\nuvicorn\n")
    res = parse_requirements_file(top, env={})
    assert [(r.name, Path(r.source_file).name, r.line) for r in res.requirements] == [
        ("fastapi", "base.txt", 1),
        ("uvicorn", "requirements.txt", 2),
    ]
    assert [(c.name, c.specifier) for c in res.constraints] == [("fastapi", "<1")]
    assert [Path(f).name for f in res.files] == ["requirements.txt", "base.txt", "constraints.txt"]


def test_editable_local_project_gets_its_name(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", '[project]\nname = "My.App"\n')
    req = _write(tmp_path / "requirements.txt", "-e .\n--editable=./sub\n")
    res = parse_requirements_file(req, env={})
    first, second = res.requirements
    assert (first.name, first.editable, first.url) == ("my-app", True, ".")
    assert (second.name, second.url) == ("", "./sub")  # unknown local project: no name, still recorded


def test_bad_lines_warn_with_file_and_line_and_the_rest_continues(tmp_path: Path) -> None:
    req = _write(tmp_path / "requirements.txt", "good==1\nthis is not valid !!\n--weird-option\n-r missing.txt\nok\n")
    res = parse_requirements_file(req, env={})
    assert [r.name for r in res.requirements] == ["good", "ok"]
    assert res.warnings == [
        f"{req}:2: cannot parse requirement 'this is not valid !!'",
        f"{req}:3: unknown option --weird-option",
        f"{req}:4: cannot read requirements file {tmp_path / 'missing.txt'}: No such file or directory",
    ]


def test_missing_top_file_is_a_warning(tmp_path: Path) -> None:
    res = parse_requirements_file(tmp_path / "nope.txt", env={})
    assert res.requirements == [] and "cannot read requirements file" in res.warnings[0]


def test_logical_lines_comment_ends_continuation() -> None:
    lines = logical_lines("a \\\n# note\nb\n")
    assert [(ll.text, ll.line) for ll in lines] == [("a", 1), ("b", 3)]
