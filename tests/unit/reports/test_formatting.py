"""Shared presentation helpers: docker-style decimal sizes, percentages, money, Markdown escaping."""

from __future__ import annotations

import pytest

from deadweight.model.cost import CostModel, monthly_cost
from deadweight.reports.formatting import md_code, md_escape, md_table
from deadweight.units import format_fraction, human_bytes, money, percent


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.00 kB"),
        (1234, "1.23 kB"),
        (241_000_000, "241 MB"),
        (5_610_000_000, "5.61 GB"),  # the lab's CUDA torch image, as `docker images` shows it
        (1_120_000_000, "1.12 GB"),
        (12_345_678, "12.3 MB"),
        (999_700_000, "1.00 GB"),  # rounds up into the next unit, never "1000 MB"
        (99_960_000, "100 MB"),
        (2 * 1000**4, "2.00 TB"),
        (-45_000_000, "-45.0 MB"),
    ],
)
def test_human_bytes_is_decimal_with_three_significant_digits(size: int, text: str) -> None:
    assert human_bytes(size) == text


def test_human_bytes_unknown_is_not_zero() -> None:
    assert human_bytes(None) == "unknown"
    assert human_bytes(None, unknown="-") == "-"


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (4_740_000_000, 5_610_000_000, "84.5%"),
        (0, 241_000_000, "0.0%"),
        (1, 10_000_000, "<0.1%"),
        (9_999_999, 10_000_000, ">99.9%"),
        (5, 5, "100.0%"),
        (5, 0, "n/a"),
        (5, None, "n/a"),
    ],
)
def test_percent(part: int, whole: int | None, text: str) -> None:
    assert percent(part, whole) == text


def test_format_fraction() -> None:
    assert format_fraction(0.7034) == "70.3%"


def test_money_never_shows_a_nonzero_amount_as_zero() -> None:
    assert money(1234.5) == "$1,234.50"
    assert money(0) == "$0.00"
    assert money(0.001) == "<$0.01"


def test_monthly_cost_arithmetic() -> None:
    model = CostModel(storage_per_gb_month=0.10, transfer_per_gb=0.09, pulls_per_month=100)
    cost = monthly_cost(5_000_000_000, model)
    assert cost.storage == pytest.approx(0.50)  # 5 GB x $0.10
    assert cost.transfer == pytest.approx(45.0)  # 5 GB x 100 pulls x $0.09
    assert cost.total == pytest.approx(45.50)
    assert monthly_cost(-1, CostModel()).total == 0


def test_md_escape_neutralises_inline_markdown() -> None:
    assert md_escape("a|b") == r"a\|b"
    assert md_escape("[x](http://e) *y* _z_ <b> `c` ~d~ $e$") == (
        r"\[x\](http://e) \*y\* \_z\_ \<b\> \`c\` \~d\~ \$e\$"
    )
    assert md_escape("back\\slash") == r"back\\slash"
    # ordinary technical text stays readable
    assert md_escape("torch-2.5.1 (cpu), 12.3 MB.") == "torch-2.5.1 (cpu), 12.3 MB."
    assert md_escape("line one\nline two") == "line one line two"


def test_md_code_survives_backticks_and_pipes() -> None:
    assert md_code("Dockerfile:9") == "`Dockerfile:9`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("a|b") == r"`a\|b`"


def test_md_table_shape_and_alignment() -> None:
    lines = md_table(["A", "B"], [["1", "2"], ["3", "4"]], "lr")
    assert lines == ["| A | B |", "|---|---:|", "| 1 | 2 |", "| 3 | 4 |"]
    with pytest.raises(ValueError, match="2 cells, expected 3"):
        md_table(["A", "B", "C"], [["1", "2"]])
