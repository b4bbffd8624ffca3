"""Hostile image inputs, generated: every one ends in exit 0, 2 or 3, one line on stderr, no traceback, in time.

One hypothesis test per image form (docker-archive legacy and OCI form, OCI layout directory and tar), each
drawing what to break (a JSON document, a layer, the archive, a file turned special; see ``mutations``) and
the layer compression (plain, gzip, zstd). Derandomized, so CI runs the same cases every time; the budget is
small (``DEADWEIGHT_FUZZ_EXAMPLES`` per form, default 25). ``bench/fuzz.py`` is the long run.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Sequence
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.mutations import FORMS, KINDS, RandomDraw, make_case
from tests.fuzz.runner import run_in_process, run_subprocess

T = TypeVar("T")
EXAMPLES = int(os.environ.get("DEADWEIGHT_FUZZ_EXAMPLES", "25"))
#: In process, one case takes well under a second; anything near this is a hang.
CASE_SECONDS = 20.0


class HypothesisDraw:
    """The ``Draw`` of ``mutations`` over hypothesis's data, so failures shrink to a small case."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data

    def integer(self, lo: int, hi: int) -> int:
        return self._data.draw(st.integers(lo, hi))

    def choice(self, options: Sequence[T]) -> T:
        return self._data.draw(st.sampled_from(list(options)))


def _check(argv: list[str], description: str) -> None:
    outcome = run_in_process(argv, timeout=CASE_SECONDS)
    problems = outcome.problems()
    assert not problems, f"{description}\n" + "\n".join(problems)


@pytest.mark.parametrize("form", FORMS)
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_hostile_image_keeps_the_exit_contract(form: str, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        case = make_case(HypothesisDraw(data), workdir, form=form)
        if os.environ.get("DEADWEIGHT_FUZZ_SHOW"):
            print(case.describe())
        _check(case.argv, case.describe())


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_image_through_a_subprocess(kind: str, tmp_path: object) -> None:
    """A few cases the way users run it: the console entry point in its own process, memory measured."""
    with tempfile.TemporaryDirectory() as workdir:
        case = make_case(RandomDraw(random.Random(f"subprocess-{kind}")), workdir, kind=kind)
        outcome = run_subprocess(case.argv, timeout=60)
        problems = outcome.problems()
        assert not problems, f"{case.describe()}\n" + "\n".join(problems)
        assert outcome.max_rss_kb is not None
        assert outcome.max_rss_kb < 500 * 1024, f"{case.describe()}: peak RSS {outcome.max_rss_kb} KB"
