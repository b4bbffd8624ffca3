"""Line edits keep every byte outside the changed lines."""

from __future__ import annotations

import pytest

from deadweight.fixes.text import insert_lines, line_ending, replace_lines


def test_replace_keeps_crlf_and_the_other_lines() -> None:
    text = "a\r\nb  \r\nc\r\n"
    assert replace_lines(text, 2, 2, ["B"]) == "a\r\nB\r\nc\r\n"


def test_replace_last_line_without_newline_stays_without() -> None:
    assert replace_lines("a\nb", 2, 2, ["B", "C"]) == "a\nB\nC"


def test_delete_lines() -> None:
    assert replace_lines("a\nb\nc\n", 2, 2, []) == "a\nc\n"


def test_append_gives_the_last_line_a_newline() -> None:
    assert insert_lines("a\nb", 3, ["c"]) == "a\nb\nc\n"
    assert insert_lines("x\r\n", 1, ["w"]) == "w\r\nx\r\n"


def test_line_ending_follows_the_majority() -> None:
    assert line_ending("a\r\nb\r\nc\n") == "\r\n"
    assert line_ending("a\nb\n") == "\n"


def test_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError):
        replace_lines("a\n", 2, 2, [])
