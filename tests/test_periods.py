"""Reporting periods in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ValidationError
from projections.periods import (
    Period,
    local_date,
    parse_period,
    period_of,
    periods_of,
    to_utc,
)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 3, 31, 17, 30, tzinfo=UTC), (date(2026, 4, 1), "2026-04", "2026-Q2", "2026")),
        (datetime(2026, 3, 31, 15, 59, 59, 999000, tzinfo=UTC), (date(2026, 3, 31), "2026-03", "2026-Q1", "2026")),
        (datetime(2025, 12, 31, 16, 0, tzinfo=UTC), (date(2026, 1, 1), "2026-01", "2026-Q1", "2026")),
        (
            datetime(2026, 9, 30, 23, 0, tzinfo=timezone(timedelta(hours=8))),
            (date(2026, 9, 30), "2026-09", "2026-Q3", "2026"),
        ),
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), (date(2027, 1, 1), "2027-01", "2027-Q1", "2027")),
    ],
)
def test_periods_of_an_instant_are_local_to_asia_shanghai(
    moment: datetime, expected: tuple[date, str, str, str]
) -> None:
    p = periods_of(moment)
    assert (p.local_date, p.month, p.quarter, p.year) == expected


def test_epoch_milliseconds_and_datetimes_agree() -> None:
    moment = datetime(2026, 3, 31, 17, 30, tzinfo=UTC)
    millis = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1000
    assert periods_of(millis) == periods_of(moment)
    assert to_utc(millis) == moment


def test_naive_and_non_timestamp_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="occurred_at: must be timezone-aware"):
        local_date(datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="occurred_at"):
        local_date("2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="boolean"):
        local_date(True)


# China has kept UTC+8 without daylight saving since 1992 (1986-1991 had DST).
@given(st.datetimes(min_value=datetime(1992, 1, 1), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)))
def test_local_date_is_utc_plus_eight(moment: datetime) -> None:
    assert local_date(moment) == (moment + timedelta(hours=8)).date()


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
