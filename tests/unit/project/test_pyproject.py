"""pyproject.toml: PEP 621, Poetry, PDM, uv and dependency groups, with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import ParseError
from deadweight.project.pyproject import parse_pyproject, parse_pyproject_file, poetry_to_pep440

PEP621 = """\
[project]
name = "My_App"
dependencies = [
  "fastapi>=0.100",
  "torch==2.1.0 ; sys_platform == 'linux'",  # deadweight: ignore[DW101]
  'requests[socks]',
]

[project.optional-dependencies]
dev = ["pytest>=8"]
gpu = ["cupy"]

[project.scripts]
app = "myapp.cli:main"

[tool.uv]
dev-dependencies = ["ruff"]

[tool.pdm.dev-dependencies]
lint = ["flake8"]

[dependency-groups]
test = ["coverage", {include-group = "lint"}]
"""


def test_pep621_uv_pdm_groups() -> None:
    res = parse_pyproject(PEP621, "pyproject.toml")
    assert res.name == "my-app"
    assert res.scripts == {"app": "myapp.cli:main"}
    main = [(r.name, r.specifier, r.line, r.origin) for r in res.requirements]
    assert main == [
        ("fastapi", ">=0.100", 4, "pyproject"),
        ("torch", "==2.1.0", 5, "pyproject"),
        ("requests", "", 6, "pyproject"),
    ]
    assert res.requirements[1].marker == 'sys_platform == "linux"'
    assert res.requirements[1].ignores == ("DW101",)
    assert res.requirements[2].extras == ("socks",)
    optional = [(r.name, r.group, r.origin, r.line) for r in res.optional]
    assert optional == [
        ("pytest", "dev", "pyproject", 10),
        ("cupy", "gpu", "pyproject", 11),
        ("flake8", "lint", "pdm", 20),
        ("ruff", "dev", "uv", 17),
        ("coverage", "test", "dependency-groups", 23),
    ]


POETRY = """\
[tool.poetry]
name = "svc"

[tool.poetry.dependencies]
python = "^3.11"
numpy = "^1.26"
pandas = {version = "~2.1", extras = ["excel"], optional = true}
mylib = {git = "https://github.com/org/mylib.git", branch = "main"}
"uvicorn" = ">=0.20,<1"  # deadweight: ignore[DW501]

[tool.poetry.group.test.dependencies]
pytest = "*"

[tool.poetry.dev-dependencies]
black = "23.1.0"

[tool.poetry.scripts]
svc = "svc.main:run"
"""


def test_poetry_tables() -> None:
    res = parse_pyproject(POETRY, "pyproject.toml")
    assert res.name == "svc"
    assert res.scripts == {"svc": "svc.main:run"}
    main = [(r.name, r.specifier, r.line) for r in res.requirements]
    assert main == [("numpy", ">=1.26,<2.0", 6), ("mylib", "", 8), ("uvicorn", ">=0.20,<1", 9)]
    assert res.requirements[1].url == "https://github.com/org/mylib.git"
    assert res.requirements[2].ignores == ("DW501",)
    assert res.requirements[0].raw == 'numpy = "^1.26"'
    optional = [(r.name, r.specifier, r.group, r.extras) for r in res.optional]
    assert optional == [
        ("pandas", ">=2.1,<2.2", "optional", ("excel",)),
        ("black", "==23.1.0", "dev", ()),
        ("pytest", "", "test", ()),
    ]


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        (">=1,<2", ">=1,<2"),
        ("1.*", "==1.*"),
        ("*", ""),
        ("~=1.4", "~=1.4"),
    ],
)
def test_poetry_constraints(poetry: str, pep440: str) -> None:
    assert poetry_to_pep440(poetry) == pep440


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\ndependencies = [\n  "a",\n  oops\n]\n')
    with pytest.raises(ParseError, match=rf"^{path}:5: invalid TOML"):
        parse_pyproject_file(path)


def test_a_string_in_two_arrays_of_one_table_has_each_its_own_line() -> None:
    text = """\
[project]
name = "app"
optional-dependencies = { dev = ["requests"] }
dependencies = [
  "requests",
]

# the inline table above is read before the dependencies array

[tool.pdm.dev-dependencies]
lint = ["pytest"]
test = ["pytest"]

[dependency-groups]
ci = ["coverage"]
test = [
  "coverage",
]

[tool.uv]
override-dependencies = ["ruff"]
dev-dependencies = ["ruff"]
"""
    res = parse_pyproject(text)
    assert [(r.name, r.line) for r in res.requirements] == [("requests", 5)]
    optional = [(r.name, r.group, r.origin, r.line) for r in res.optional]
    assert optional == [
        ("requests", "dev", "pyproject", 3),
        ("pytest", "lint", "pdm", 11),
        ("pytest", "test", "pdm", 12),
        ("ruff", "dev", "uv", 22),
        ("coverage", "ci", "dependency-groups", 15),
        ("coverage", "test", "dependency-groups", 17),
    ]
