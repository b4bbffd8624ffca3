""".dockerignore semantics, checked against the cases Docker documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import ParseError
from deadweight.project.dockerignore import IgnoreMatcher, find_dockerignore, load_matcher


def _m(*lines: str) -> IgnoreMatcher:
    return IgnoreMatcher.from_lines(list(lines))


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        # the examples of Docker's documentation
        (["*/temp*"], "somedir/temporary.txt", True),
        (["*/temp*"], "somedir/temp", True),
        (["*/temp*"], "temporary.txt", False),
        (["*/temp*"], "a/b/temporary.txt", False),
        (["*/*/temp*"], "somedir/subdir/temporary.txt", True),
        (["temp?"], "tempa", True),
        (["temp?"], "tempab", False),
        (["temp?"], "dir/tempa", False),
        (["**/*.go"], "main.go", True),
        (["**/*.go"], "a/b/c.go", True),
        # *.md only matches at the root; ! re-includes; later rules win
        (["*.md", "!README.md"], "CHANGES.md", True),
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README.md"], "docs/guide.md", False),
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
        (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
        (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
        # directories exclude everything below them
        (["**/__pycache__"], "__pycache__/x.pyc", True),
        (["**/__pycache__"], "pkg/sub/__pycache__/m.cpython-311.pyc", True),
        (["**/__pycache__"], "pkg/__pycache__x/m.pyc", False),
        (["/data"], "data/big.bin", True),
        (["/data"], "src/data/x", False),
        (["data/**/cache"], "data/cache/f", True),
        (["data/**/cache"], "data/a/b/cache/f", True),
        (["data/**/cache"], "other/data/cache/f", False),
        (["data/**"], "data/x", True),
        (["data/**"], "data", False),
        (["./build/../dist/"], "dist/app.whl", True),  # cleaned like filepath.Clean
        ([".git"], ".git/HEAD", True),
        (["*"], "anything/at/all", True),
        (["*", "!src"], "src/main.py", False),
        (["src", "!src/keep.py"], "src/keep.py", False),
        (["src", "!src/keep.py"], "src/drop.py", True),
        (["[a-c].txt"], "b.txt", True),
        (["[^a-c].txt"], "b.txt", False),
        (["[^a-c].txt"], "d.txt", True),
        (["\\*.txt"], "*.txt", True),
        (["\\*.txt"], "a.txt", False),
        (["a.b"], "axb", False),  # "." is literal
    ],
)
def test_docker_semantics(patterns: list[str], path: str, excluded: bool) -> None:
    assert _m(*patterns).excluded(path) is excluded


def test_file_reading_comments_blank_lines_and_bom(tmp_path: Path) -> None:
    path = tmp_path / ".dockerignore"
    path.write_text("\ufeff# comment\n\n   *.log   \n  # not a comment after whitespace\n!keep.log\n")
    matcher = IgnoreMatcher.from_file(path)
    assert [(p.text, p.exclusion, p.line) for p in matcher.patterns] == [
        ("*.log", False, 3),
        ("# not a comment after whitespace", False, 4),
        ("keep.log", True, 5),
    ]
    assert matcher.excluded("a.log") and not matcher.excluded("keep.log")


def test_lone_bang_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / ".dockerignore"
    path.write_text("a\n!\n")
    with pytest.raises(ParseError, match=r"\.dockerignore:2: illegal exclusion pattern"):
        IgnoreMatcher.from_file(path)


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    dockerfile = tmp_path / "api.Dockerfile"
    dockerfile.write_text("FROM x\n")
    assert find_dockerignore(tmp_path, dockerfile) == tmp_path / ".dockerignore"
    (tmp_path / "api.Dockerfile.dockerignore").write_text("b\n")
    assert find_dockerignore(tmp_path, dockerfile) == tmp_path / "api.Dockerfile.dockerignore"
    assert load_matcher(tmp_path, dockerfile).excluded("b")
    assert not load_matcher(tmp_path / "nowhere").excluded("b")


def test_may_reinclude_under() -> None:
    assert not _m("data").may_reinclude_under("data")
    assert _m("data", "!data/keep").may_reinclude_under("data")
    assert not _m("data", "!other/keep").may_reinclude_under("data")
    assert _m("data", "!**/keep").may_reinclude_under("data")
