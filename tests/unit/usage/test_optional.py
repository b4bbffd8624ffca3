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


ML_AND_LLM = '''\
from transformers import Trainer, TrainingArguments
import datasets, evaluate
from langchain_community.vectorstores import FAISS
from langchain_openai import ChatOpenAI

rouge = datasets.load_metric("rouge")
bleu = evaluate.load('sacrebleu')
args = TrainingArguments(output_dir="out")
store = FAISS.from_texts(["a"], embedding=None)
'''


def test_calls_and_strings_trigger_what_a_library_imports_for_you() -> None:
    """The issue-9 triggers: Trainer -> accelerate, load_metric("rouge") -> rouge_score, langchain's FAISS
    wrapper -> faiss; each only through its consumer (the verdict counts it when the consumer is used)."""
    found = {(e.target, e.consumer, e.location) for e in optional_evidence(ML_AND_LLM, "app.py", "python")}
    assert ("accelerate", "transformers", "app.py:8") in found  # the call, not the import on line 1
    assert ("accelerate", "transformers", "app.py:1") not in found
    assert ("rouge-score", "datasets", "app.py:6") in found
    assert ("sacrebleu", "evaluate", "app.py:7") in found
    assert {("faiss-cpu", "langchain-community"), ("faiss-gpu", "langchain-community")} <= {
        (t, c) for t, c, _ in found}
    # another metric, or transformers without a Trainer, triggers nothing
    assert optional_evidence("import datasets\nm = datasets.load_metric('accuracy')\n", "a.py", "python") == []
    assert optional_evidence("from transformers import AutoModel\n", "a.py", "python") == []
