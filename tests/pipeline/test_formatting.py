"""How numbers and lists are written (nst_pipeline.formatting), one case per rule each function states."""

from __future__ import annotations

import pytest

from nst_pipeline.formatting import distinct, format_g, format_g_apart, format_number, percent, plural, value_text


@pytest.mark.parametrize(("value", "text"), [(1e6, "1e+06"), (0.5, "0.5"), (3, "3"), ([1.0, 2e6], "[1, 2e+06]")])
def test_value_text_writes_values_as_people_do(value, text):
    assert value_text(value) == text


@pytest.mark.parametrize(("value", "text"), [(123456.0, "1.23e+05"), (None, "—"), (True, "—"), ("x", "—")])
def test_format_g(value, text):
    assert format_g(value) == text


def test_format_g_apart_adds_digits_until_unequal_values_read_unequal():
    assert format_g_apart(1.0001, 1.0002) == ("1.0001", "1.0002")
    assert format_g_apart(2.0, 2.0) == ("2", "2")
    assert format_g_apart(1.5, 2.5) == ("1.5", "2.5")


@pytest.mark.parametrize(("value", "text"), [(1234.4, "1,234"), (999.4, "999"), (0.01234, "0.0123"), (None, "—")])
def test_format_number_separates_thousands_above_1000(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(("value", "text"), [(0.1234, "12.3%"), (float("nan"), "—"), (1, "—"), (None, "—")])
def test_percent(value, text):
    assert percent(value) == text


def test_plural_and_distinct():
    assert [plural(n) for n in (0, 1, 2)] == ["s", "", "s"]
    assert distinct([3, [1], 3, [1], 2]) == [3, [1], 2]  # first-seen order, unhashable values too
