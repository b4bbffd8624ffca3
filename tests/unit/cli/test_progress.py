"""optimize's progress display: nothing when quiet, one plain line per step when stderr is not a terminal, and on
a terminal a live board with each service's latest step."""

from __future__ import annotations

from io import StringIO

import pytest
from rich.console import Console

from deadweight.cli.progress import _Board, service_progress


def test_quiet_gives_no_callback() -> None:
    with service_progress(quiet=True) as progress:
        assert progress is None


def test_plain_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with service_progress() as progress:
        assert progress is not None
        progress("api", "building the after image (cold)")
        progress("worker", "checking: imports")
    err = capsys.readouterr().err.splitlines()
    assert [line.split("] ", 1)[1] for line in err] == [
        "api: building the after image (cold)",
        "worker: checking: imports",
    ]
    assert all(line.startswith("[") and "s] " in line for line in err)


def test_board_shows_the_latest_step_per_service() -> None:
    board = _Board()
    board.update("api", "building the before image")
    board.update("worker", "waiting on the engine")
    board.update("api", "checking: pip check")
    console = Console(file=StringIO(), width=100, color_system=None, markup=False)
    console.print(board)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "checking: pip check" in text and "building the before image" not in text
    assert "worker" in text and "waiting on the engine" in text
    assert text.index("api") < text.index("worker")  # in the order they started
