from __future__ import annotations

import pytest

from deadweight.errors import ParseError
from deadweight.usage.optional import optional_evidence, optional_table, parse_table


def test_packaged_table_loads_and_has_docs() -> None:
    table = optional_table()
    assert len(table.entries) > 30
    assert all(e.why and e.docs.startswith("https://") for e in table.entries)
    assert table.plugin_groups["pytest11"] == ("pytest",)


def test_fastapi_form_triggers_multipart() -> None:
    src = "from fastapi import Form\n\ndef f(x: str = Form(...)): ...\n"
    evs = optional_evidence(src, "a.py", "python")
    assert [(e.target, e.consumer, e.location) for e in evs] == [("python-multipart", "fastapi", "a.py:3")]


def test_where_restricts_text_kind() -> None:
    assert optional_evidence("uvicorn app:app --reload", "D", "command")[0].target == "watchfiles"
    assert optional_evidence("df = pd.read_parquet('x')", "a.py", "command") == []
    targets = {e.target for e in optional_evidence("df = pd.read_parquet('x')", "a.py", "python")}
    assert targets == {"pyarrow", "fastparquet"}


def test_bad_table_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="entry 1"):
        parse_table('[[optional]]\nconsumer = "a"\nprovides = ["b"]\nwhen = "sometimes"\nwhy = "x"\n', "t.toml")
    with pytest.raises(ParseError, match=r"t\.toml"):
        parse_table("[[optional]\n", "t.toml")
