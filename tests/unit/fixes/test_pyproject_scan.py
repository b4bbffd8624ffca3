"""fixes/pyproject_scan's insertions: where an entry added to a table goes, read from the scanner's
positions (a multi-line string holding ``[table]`` text is no header, a quoted header is its key)."""

from __future__ import annotations

import tomllib

from deadweight.fixes.pyproject_scan import add_aot_entry, add_table_entries, scan, toml_string

TEXT = '''[project]
name = "web"
description = """
[tool.uv.sources]
not a header
"""

[tool.uv.sources]
httpx = { git = "https://example.com/httpx" }
deps = [
  "a",
]
# trailing comment of the table

[[tool.uv.index]]
name = "one"
url = "https://one.example/simple"

[tool."uv".extra]
x = 1
'''


def test_an_entry_goes_after_the_last_value_of_the_table_and_before_its_trailing_comment() -> None:
    new = add_table_entries(TEXT, ("tool", "uv", "sources"), ['torch = { index = "cpu" }'])
    assert new.splitlines()[11:14] == ["]", 'torch = { index = "cpu" }', "# trailing comment of the table"]
    data = tomllib.loads(new)
    assert data["tool"]["uv"]["sources"]["torch"] == {"index": "cpu"}
    assert data["project"]["description"] == tomllib.loads(TEXT)["project"]["description"]


def test_a_quoted_header_is_found_by_its_key() -> None:
    new = add_table_entries(TEXT, ("tool", "uv", "extra"), ["y = 2"])
    assert new.endswith("x = 1\ny = 2\n")


def test_a_missing_table_is_appended_after_a_blank_line_and_crlf_is_kept() -> None:
    crlf = TEXT.replace("\n", "\r\n")
    new = add_table_entries(crlf, ("tool", "poetry", "dependencies"), ['torch = { source = "cpu" }'])
    assert new.endswith('x = 1\r\n\r\n[tool.poetry.dependencies]\r\ntorch = { source = "cpu" }\r\n')


def test_an_array_of_tables_entry_goes_after_the_last_one() -> None:
    new = add_aot_entry(TEXT, ("tool", "uv", "index"), ['name = "two"', f"url = {toml_string('https://t/')}"])
    assert [i["name"] for i in tomllib.loads(new)["tool"]["uv"]["index"]] == ["one", "two"]
    lines = new.splitlines()
    at = lines.index('name = "two"')
    assert lines[at - 3 : at] == ['url = "https://one.example/simple"', "", "[[tool.uv.index]]"]


def test_table_at_and_table_end_line() -> None:
    scanned = scan(TEXT)
    assert scanned.table_at(4) is not None and scanned.table_at(4).path == ("project",)
    sources = scanned.table_at(9)
    assert sources is not None and sources.path == ("tool", "uv", "sources")
    assert scanned.table_end_line(sources) == 12
    assert toml_string('a"b\\c') == '"a\\"b\\\\c"'
