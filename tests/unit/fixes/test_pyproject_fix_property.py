"""The pyproject fixer's removal, generated: any layout of a ``dependencies`` array (one line or many, several
elements to a line, comments, blank lines, trailing commas or not, CRLF or LF) loses exactly the one element,
only that element's line(s) change, and removing it again is no change.

Derandomized with a small budget (``DEADWEIGHT_PROPERTY_EXAMPLES``, default 100) so CI runs the same cases;
``DEADWEIGHT_PROPERTY_RANDOM=1`` draws new ones.
"""

from __future__ import annotations

import difflib
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadweight.fixes import pyproject
from deadweight.project.pyproject import parse_pyproject
from tests.unit.fixes.pyproject_support import context, declared, pick, remove_edit

EXAMPLES = int(os.environ.get("DEADWEIGHT_PROPERTY_EXAMPLES", "100"))
NAMES = ["alpha", "beta-x", "Gamma_y", "delta.z", "eps1", "zeta", "eta-eta", "theta", "iota", "kappa"]


@st.composite
def requirement(draw: st.DrawFn, name: str) -> str:
    extras = draw(st.sampled_from(["", "[cli]", "[a,b]", " [x] "]))
    spec = draw(st.sampled_from(["", ">=1.0", "==2.*", "~=1.4,<2", " (>=1)", ">= 3"]))
    marker = draw(st.sampled_from(["", " ; python_version >= '3.11'", ';sys_platform == "linux"']))
    return name + extras + spec + marker


@dataclass
class Generated:
    text: str
    names: list[str]  # canonical, in order
    lines: list[int]  # the physical line of each element
    alone: list[bool]  # the element is the only thing on its line (but a comment)
    bracket_line: int  # the line of the closing "]"


@st.composite
def document(draw: st.DrawFn) -> Generated:
    count = draw(st.integers(1, 7))
    names = draw(st.permutations(NAMES))[:count]
    tokens = []
    for name in names:
        req = draw(requirement(name))
        quote = "'" if '"' in req else '"' if "'" in req else draw(st.sampled_from(['"', "'"]))
        tokens.append(quote + req + quote)
    trailing = draw(st.booleans())
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    out = ["# generated", "[build-system]", 'requires = ["hatchling"]  # x', "", "[project]", 'name = "gen"']
    lines: list[int] = []
    alone: list[bool] = []
    if draw(st.booleans()):  # one line
        body = ", ".join(tokens) + ("," if trailing else "")
        comment = draw(st.sampled_from(["", "  # all"]))
        out.append(f"dependencies = [{body}]{comment}")
        lines = [len(out)] * count
        alone = [False] * count
        bracket = len(out)
    else:
        out.append("dependencies = [")
        i = 0
        while i < count:
            for _ in range(draw(st.integers(0, 2))):
                out.append(draw(st.sampled_from(["", "    # a comment", "  #", "\t# tab"])))
            take = draw(st.integers(1, 3))
            group = list(range(i, min(count, i + take)))
            parts = [tokens[j] + ("," if j < count - 1 or trailing else "") for j in group]
            comment = draw(st.sampled_from(["", "  # why", " #"]))
            out.append(draw(st.sampled_from(["    ", "  ", "\t"])) + " ".join(parts) + comment)
            lines += [len(out)] * len(group)
            alone += [len(group) == 1] * len(group)
            i += len(group)
        if draw(st.booleans()) and not out[-1].rstrip().endswith(("#", "why")):
            out[-1] += "]"  # the closing bracket on the last element's line
            alone[-1] = alone[-1] and False
            bracket = len(out)
        else:
            out.append("]")
            bracket = len(out)
    out += ["", "[tool.other]", "keep = [ 'this',  ]   # as is"]
    text = eol.join(out) + (eol if draw(st.booleans()) else "")
    canonical = [parse_pyproject(text).requirements[k].name for k in range(count)]
    return Generated(text, canonical, lines, alone, bracket)


def _changed_lines(before: str, after: str) -> set[int]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    changed: set[int] = set()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "insert":
            changed.add(-1)
        elif tag != "equal":
            changed |= set(range(i1 + 1, i2 + 1))
    return changed


@settings(max_examples=EXAMPLES, derandomize=os.environ.get("DEADWEIGHT_PROPERTY_RANDOM") != "1", database=None,
          deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=document(), data=st.data())
def test_removing_one_element_changes_only_its_lines(doc: Generated, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(doc.names) - 1))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "pyproject.toml"
        path.write_bytes(doc.text.encode())
        edit = remove_edit(pick(path, doc.names[k]))
        ctx = context(root, declared(path))
        pyproject.remove(edit, ctx)
        after = ctx.workspace.text(path)
        before_deps = tomllib.loads(doc.text)["project"]["dependencies"]
        after_data = tomllib.loads(after)
        assert after_data["project"]["dependencies"] == before_deps[:k] + before_deps[k + 1:]
        want = {key: value for key, value in tomllib.loads(doc.text).items() if key != "project"}
        assert {key: value for key, value in after_data.items() if key != "project"} == want
        assert [r.name for r in parse_pyproject(after).requirements] == doc.names[:k] + doc.names[k + 1:]
        allowed = {doc.lines[k]}
        last = k == len(doc.names) - 1
        if last and k > 0 and not doc.alone[k]:  # "a",\n "b"]: the cut starts after the one before
            allowed |= set(range(doc.lines[k - 1], doc.lines[k] + 1))
        changed = _changed_lines(doc.text, after)
        assert changed <= allowed, (changed, allowed, doc.text, after)
        eol = "\r\n" if "\r\n" in doc.text else "\n"
        assert eol == "\r\n" or "\r" not in after
        if eol == "\r\n":
            assert "\n" not in after.replace("\r\n", "")
        # again: no change, no error
        pyproject.remove(edit, ctx)
        assert ctx.workspace.text(path) == after


@settings(max_examples=max(EXAMPLES // 2, 10), derandomize=os.environ.get("DEADWEIGHT_PROPERTY_RANDOM") != "1",
          database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=document(), data=st.data())
def test_renaming_one_element_changes_only_its_line(doc: Generated, data: st.DataObject) -> None:
    from tests.unit.fixes.pyproject_support import replace_edit

    k = data.draw(st.integers(0, len(doc.names) - 1))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "pyproject.toml"
        path.write_bytes(doc.text.encode())
        before = parse_pyproject(doc.text).requirements
        edit = replace_edit(pick(path, doc.names[k]), name="renamed-pkg")
        ctx = context(root, declared(path))
        pyproject.replace(edit, ctx)
        after = ctx.workspace.text(path)
        assert _changed_lines(doc.text, after) <= {doc.lines[k]}
        now = parse_pyproject(after).requirements
        assert [r.name for r in now] == [*doc.names[:k], "renamed-pkg", *doc.names[k + 1:]]
        assert [(r.specifier, r.extras, r.marker) for r in now] == [(r.specifier, r.extras, r.marker) for r in before]
        pyproject.replace(edit, ctx)
        assert ctx.workspace.text(path) == after
