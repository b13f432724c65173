"""How the report, its sentences, figures and scorecard write numbers and lists: one place, so a value
reads the same wherever it appears. Pure functions, no imports of the pipeline."""

from __future__ import annotations

MISSING = "—"  # an em dash for a value that is not there


def value_text(value) -> str:
    """A parameter value as people write it: 1e+06, not 1000000.0."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_g(value) -> str:
    """%.3g, or an em dash for a missing value."""
    if not _is_number(value):
        return MISSING
    return f"{value:.3g}"


def format_g_apart(a: float, b: float) -> tuple[str, str]:
    """a and b with enough significant digits (3 to 6) that unequal values read as unequal."""
    for digits in range(3, 7):
        ta, tb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if ta != tb or a == b:
            break
    return ta, tb


def format_number(value) -> str:
    """Times and memory: %.3g below 1000, whole numbers with thousands separators above."""
    if not _is_number(value):
        return MISSING
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def percent(value) -> str:
    """A fraction as a percentage, %.3g; an em dash for anything but a float (NaN included)."""
    return MISSING if not isinstance(value, float) or value != value else f"{value * 100:.3g}%"


def plural(n: int) -> str:
    """The 's' of '3 runs' (none for 1)."""
    return "" if n == 1 else "s"


def distinct(values) -> list:
    """The values in first-seen order, each once (works for unhashable values too)."""
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
