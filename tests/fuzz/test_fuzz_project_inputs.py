"""Hostile project inputs, generated: ``audit``, ``fix`` and ``guard`` on a project with one file made hostile
(see ``project_mutations``) keep the exit contract, print no credential back and change no file.

Derandomized, so CI runs the same cases every time; the budget is ``DEADWEIGHT_FUZZ_EXAMPLES`` per family
(default 25). ``bench/fuzz.py --family project`` is the long run. Offline: only the on-disk index cache is
read, so the cases need no network and test the parsers, the planner and the reporters.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.project_mutations import FAMILIES, SECRET, make_project_case, snapshot
from tests.fuzz.runner import run_in_process
from tests.fuzz.test_fuzz_image_inputs import CASE_SECONDS, EXAMPLES, HypothesisDraw

#: Exit codes each command may give (docs/exit-codes.md): findings are 1, fix's refusals 4.
ALLOWED = {"audit": frozenset({0, 1, 2, 3}), "guard": frozenset({0, 1, 2, 3}), "fix": frozenset({0, 1, 2, 3, 4})}


@pytest.mark.parametrize("family", FAMILIES)
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_hostile_project_keeps_the_contract(family: str, data: st.DataObject, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.getbasetemp() / "fuzz-cache"
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(cache))
    with tempfile.TemporaryDirectory() as workdir:
        case = make_project_case(HypothesisDraw(data), workdir, family=family)
        if os.environ.get("DEADWEIGHT_FUZZ_SHOW"):
            print(case.describe())
        before = snapshot(case.root)
        outcome = run_in_process(case.argv, timeout=CASE_SECONDS)
        problems = outcome.problems(ALLOWED[case.command])
        if SECRET in outcome.stdout or SECRET in outcome.stderr:
            problems.append("the planted credential was printed back")
        if snapshot(case.root) != before:
            problems.append("a project file changed (no --write was given)")
        assert not problems, f"{case.describe()}\n" + "\n".join(problems)
