"""Sizes, shares and money as people read them. Neutral ground: the model, rules and every report format
say "5.61 GB" the same way, so none of them imports another to borrow the wording."""

from __future__ import annotations

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
GB = 1000**3


def human_bytes(size: int | None, *, unknown: str = "unknown") -> str:
    """``5_610_000_000`` -> ``"5.61 GB"``: decimal units, three significant digits, like docker.

    ``None`` (a size nobody could measure) becomes ``unknown`` rather than a misleading zero.
    """
    if size is None:
        return unknown
    sign = "-" if size < 0 else ""
    value = float(abs(size))
    if value < 1000:
        return f"{sign}{int(value)} B"
    unit = 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    text = _three_digits(value)
    if text == "1000" and unit < len(_UNITS) - 1:  # 999.7 MB rounds up to the next unit
        unit += 1
        text = "1.00"
    return f"{sign}{text} {_UNITS[unit]}"


def _three_digits(value: float) -> str:
    if round(value, 2) < 10:
        return f"{value:.2f}"
    if round(value, 1) < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def percent(part: int | float, whole: int | float | None, *, unknown: str = "n/a") -> str:
    """``part / whole`` as ``"80.1%"``; ``unknown`` when the whole is unknown or zero.

    A share that is not zero never shows as ``0.0%`` (it shows ``<0.1%``), nor a partial one as ``100.0%``.
    """
    if not whole:
        return unknown
    return format_fraction(part / whole)


def format_fraction(fraction: float) -> str:
    """A ratio (0.801) as a percentage (``"80.1%"``), with the same edge rules as :func:`percent`."""
    pct = fraction * 100
    if 0 < pct < 0.05:
        return "<0.1%"
    if 99.95 <= pct < 100:
        return ">99.9%"
    return f"{pct:.1f}%"


def money(amount: float) -> str:
    """US dollars with cents; amounts under a cent show as ``<$0.01`` instead of ``$0.00``."""
    if 0 < amount < 0.005:
        return "<$0.01"
    return f"${amount:,.2f}"


def gigabytes(size: int) -> float:
    """Bytes in decimal GB (the unit registries and clouds bill in)."""
    return size / GB


def memory_bytes(size: int | None, *, unknown: str = "unknown") -> str:
    """``390_070_272`` -> ``"372 MiB"``: memory in binary units, as compose limits are written (``512m`` is
    512 MiB) and as ``docker stats`` shows it; three significant digits above 1 GiB."""
    if size is None:
        return unknown
    if size < 1 << 20:
        return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} B"
    if size < 1 << 30:
        return f"{size / (1 << 20):.0f} MiB"
    return f"{_three_digits(size / (1 << 30))} GiB"
