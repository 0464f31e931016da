"""Reporting periods a reader names (2026, 2026-Q1, 2026-03) and their local-date bounds in Asia/Shanghai.

The periods of an instant (local date, month, quarter, year) are tested with their module in
tests/test_reporting_time.py.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ValidationError
from hub.reporting_time import period_of
from projections.periods import Period, parse_period


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-12", "month", date(2026, 12, 1), date(2026, 12, 31)),
        (" 2026-03 ", "month", date(2026, 3, 1), date(2026, 3, 31)),
    ],
)
def test_parse_period(text: str, kind: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.kind, period.value, period.start, period.end) == (kind, text.strip(), start, end)
    assert period.contains(start) and period.contains(end)
    assert not period.contains(start - timedelta(days=1)) and not period.contains(end + timedelta(days=1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "month must be 01..12"),
        ("2026-00", "month must be 01..12"),
        ("2026-Q5", "unrecognised period"),
        ("26", "unrecognised period"),
        ("2026/03", "unrecognised period"),
        ("", "unrecognised period"),
        ("0000", "year must be 0001 or later"),
    ],
)
def test_bad_periods_name_the_field_and_the_forms(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_period(text)
    assert caught.value.errors[0][0] == "period"
    assert message in caught.value.errors[0][1]


def test_a_non_string_period_is_refused() -> None:
    with pytest.raises(ValidationError, match="period: must be a string"):
        parse_period(2026)  # type: ignore[arg-type]


@given(st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 12, 31)))
def test_every_day_is_in_exactly_its_own_periods(day: date) -> None:
    for kind in ("month", "quarter", "year"):
        value = period_of(day, kind)  # type: ignore[arg-type]
        period: Period = parse_period(value)
        assert period.kind == kind and period.contains(day)


@pytest.mark.parametrize("text", ["٢٠٢٦", "２０２６-Q1", "2026-٠٣", "２０２６"])
def test_a_period_in_other_digits_than_ascii_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_period(text)
    assert raised.value.errors[0][0] == "period"
