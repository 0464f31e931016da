"""The reporting time zone and the period arithmetic of an instant: local date, month, quarter, year.

Pure. The hub reports in one time zone, Asia/Shanghai (Hong Kong and Macao use
UTC+8 too): an event belongs to the periods that hold its ``occurred_at`` as a
local date there, so an event at 2026-03-31T17:30Z is on 2026-04-01 locally:
month ``2026-04``, quarter ``2026-Q2``, year ``2026``. Agreements (the age band
of a crossing), projections (period columns of every fact row) and the demo data
all take the zone and these functions from here.

Which zone: :data:`REPORTING_TZ` is the tz database's ``Asia/Shanghai``
(:class:`zoneinfo.ZoneInfo`), not a fixed ``+08:00``. The two agree on every
instant the hub accepts ([1970-01-01, 2100-01-01), :mod:`hub.models`) except in
the daylight-saving summers of 1986–1991 (mid-April to mid-September, UTC+9),
where the zone gives the local date China actually used. No DST period ever
touched a year boundary, so anything that needs only the calendar year (the age
band of :mod:`hub.agreements.transforms`) gets the same answer from either;
``tests/test_reporting_time.py`` proves both statements hour by hour over the
whole accepted range.

:data:`STANDARD_OFFSET` is the zone's standard offset as a fixed ``+08:00``,
for writers of timestamps that must always carry ``+08:00`` (the demo data's
``occurred_at`` text); it never decides which period an instant belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from hub.errors import ValidationError

REPORTING_TZ_NAME: Final = "Asia/Shanghai"
REPORTING_TZ: Final = ZoneInfo(REPORTING_TZ_NAME)
"""The reporting time zone: every local date, month, quarter and year of the hub is taken here."""
STANDARD_OFFSET: Final = timezone(timedelta(hours=8))
"""Asia/Shanghai standard time (UTC+08:00) as a fixed offset, for writing ``+08:00`` timestamps."""

PeriodKind = Literal["month", "quarter", "year"]
PERIOD_KINDS: Final[tuple[PeriodKind, ...]] = get_args(PeriodKind)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LocalPeriods:
    """The local date of an instant and the period strings that hold it."""

    local_date: date
    month: str
    quarter: str
    year: str


def to_utc(moment: datetime | int) -> datetime:
    """An aware UTC datetime from an aware datetime or epoch milliseconds.

    A naive datetime, a boolean or anything else is a :class:`ValidationError` on the field ``occurred_at``.
    """
    if isinstance(moment, bool):
        raise ValidationError([("occurred_at", "must be a timestamp, not a boolean")])
    if isinstance(moment, int):
        return _EPOCH + timedelta(milliseconds=moment)
    if not isinstance(moment, datetime):
        raise ValidationError(
            [("occurred_at", f"must be a datetime or epoch milliseconds, not {type(moment).__name__}")]
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError([("occurred_at", "must be timezone-aware (UTC), not a naive datetime")])
    return moment.astimezone(UTC)


def local_date(moment: datetime | int) -> date:
    """The calendar date of ``moment`` (aware datetime or epoch milliseconds) in Asia/Shanghai."""
    return to_utc(moment).astimezone(REPORTING_TZ).date()


def month_of(day: date) -> str:
    """``2026-03`` for any day of March 2026."""
    return f"{day.year:04d}-{day.month:02d}"


def quarter_of(day: date) -> str:
    """``2026-Q1`` for any day of January to March 2026."""
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def year_of(day: date) -> str:
    """``2026`` for any day of 2026."""
    return f"{day.year:04d}"


def period_of(day: date, kind: PeriodKind) -> str:
    """The period of ``kind`` that holds the local date ``day``."""
    if kind == "month":
        return month_of(day)
    if kind == "quarter":
        return quarter_of(day)
    if kind == "year":
        return year_of(day)
    raise ValidationError([("period_kind", f"unknown period kind {kind!r}; expected one of {', '.join(PERIOD_KINDS)}")])


def periods_of(moment: datetime | int) -> LocalPeriods:
    """Local date, month, quarter and year of an instant (aware datetime or epoch ms)."""
    day = local_date(moment)
    return LocalPeriods(local_date=day, month=month_of(day), quarter=quarter_of(day), year=year_of(day))


__all__ = [
    "PERIOD_KINDS",
    "REPORTING_TZ",
    "REPORTING_TZ_NAME",
    "STANDARD_OFFSET",
    "LocalPeriods",
    "PeriodKind",
    "local_date",
    "month_of",
    "period_of",
    "periods_of",
    "quarter_of",
    "to_utc",
    "year_of",
]
