"""The reporting time zone and the periods of an instant (hub.reporting_time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ValidationError
from hub.models import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from hub.reporting_time import REPORTING_TZ, STANDARD_OFFSET, local_date, periods_of, to_utc


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


@pytest.fixture(scope="module")
def offsets_by_hour() -> list[tuple[datetime, timedelta]]:
    """Every whole UTC hour the hub accepts and the zone's UTC offset then.

    Asia/Shanghai changes offset only on whole UTC hours (checked at each change), so within each hour
    the offset is the one at its start, and these samples describe every instant of the range.
    """
    out: list[tuple[datetime, timedelta]] = []
    hour = EARLIEST_TIMESTAMP
    previous: timedelta | None = None
    while hour < LATEST_TIMESTAMP:
        offset = REPORTING_TZ.utcoffset(hour)
        assert offset is not None
        if previous is not None and offset != previous:
            assert REPORTING_TZ.utcoffset(hour - timedelta(microseconds=1)) == previous, hour
        out.append((hour, offset))
        previous = offset
        hour += timedelta(hours=1)
    return out


def test_the_zone_is_the_fixed_offset_except_in_the_dst_summers_of_1986_to_1991(
    offsets_by_hour: list[tuple[datetime, timedelta]],
) -> None:
    """Over the whole accepted range the zone is STANDARD_OFFSET except mid-April..mid-September 1986-1991."""
    standard = STANDARD_OFFSET.utcoffset(None)
    other = [(hour, offset) for hour, offset in offsets_by_hour if offset != standard]
    assert other, "the tz database lost the DST of 1986-1991: this test would prove nothing"
    assert {offset for _, offset in other} == {timedelta(hours=9)}
    assert {hour.year for hour, _ in other} == set(range(1986, 1992))
    assert all(4 <= hour.month <= 9 for hour, _ in other)


def test_local_years_never_depend_on_zone_or_fixed_offset(offsets_by_hour: list[tuple[datetime, timedelta]]) -> None:
    """What the age band needs, the calendar year of the local date, is the same either way for every instant."""
    standard = STANDARD_OFFSET.utcoffset(None)
    assert standard is not None
    for hour, offset in offsets_by_hour:
        last = hour + timedelta(hours=1, microseconds=-1)  # the offset holds for the whole hour
        for instant in (hour, last):
            assert (instant + offset).year == (instant + standard).year, instant
    for hour, offset in offsets_by_hour[:: 24 * 97]:  # and local_date is that zone: spot checks across the range
        assert local_date(hour) == (hour + offset).date()


def test_timestamps_written_with_the_standard_offset_read_back_as_the_same_instant() -> None:
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=STANDARD_OFFSET)
    assert moment.isoformat() == "2026-03-02T09:30:00+08:00"
    assert to_utc(datetime.fromisoformat(moment.isoformat())) == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    assert local_date(moment) == date(2026, 3, 2)
