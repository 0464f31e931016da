"""Reporting periods: calendar month, quarter and year in the reporting time zone (Asia/Shanghai).

Pure. An event belongs to the period that holds its ``occurred_at`` as a local
date in Asia/Shanghai (Hong Kong and Macao share UTC+8), so an event at
2026-03-31T17:30Z is on 2026-04-01 locally: month ``2026-04``, quarter
``2026-Q2``, year ``2026``. Projections store these strings on every fact row
so that SQL can group by them without dialect-specific date functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from hub.errors import ValidationError

REPORTING_TZ: Final = ZoneInfo("Asia/Shanghai")

PeriodKind = Literal["month", "quarter", "year"]
PERIOD_KINDS: Final[tuple[PeriodKind, ...]] = get_args(PeriodKind)

_YEAR: Final = re.compile(r"^(\d{4})$")
_QUARTER: Final = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class LocalPeriods:
    """The local date of an instant and the period strings that hold it."""

    local_date: date
    month: str
    quarter: str
    year: str


@dataclass(frozen=True)
class Period:
    """A parsed period: its kind, canonical text and inclusive local-date bounds."""

    kind: PeriodKind
    value: str
    start: date
    end: date

    def contains(self, day: date) -> bool:
        """Whether the local date ``day`` falls in this period."""
        return self.start <= day <= self.end


def to_utc(moment: datetime | int) -> datetime:
    """An aware UTC datetime from an aware datetime or epoch milliseconds (naive datetimes are refused)."""
    if isinstance(moment, bool):
        raise ValidationError([("occurred_at", "must be a timestamp, not a boolean")])
    if isinstance(moment, int):
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=moment)
    if not isinstance(moment, datetime):
        raise ValidationError(
            [("occurred_at", f"must be a datetime or epoch milliseconds, not {type(moment).__name__}")]
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError([("occurred_at", "must be timezone-aware (UTC), not a naive datetime")])
    return moment.astimezone(UTC)


def local_date(moment: datetime | int) -> date:
    """The calendar date of ``moment`` in Asia/Shanghai."""
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


def parse_period(text: str) -> Period:
    """Parse ``2026``, ``2026-Q1`` or ``2026-03`` into a :class:`Period`.

    Raises :class:`ValidationError` on the field ``period`` naming the accepted forms.
    """
    if not isinstance(text, str):
        raise ValidationError(
            [("period", f"must be a string such as 2026, 2026-Q1 or 2026-03, not {type(text).__name__}")]
        )
    value = text.strip()
    if match := _YEAR.match(value):
        year = _year(int(match.group(1)))
        return Period("year", value, date(year, 1, 1), date(year, 12, 31))
    if match := _QUARTER.match(value):
        year, quarter = _year(int(match.group(1))), int(match.group(2))
        first = date(year, 3 * quarter - 2, 1)
        return Period("quarter", value, first, _month_end(year, 3 * quarter))
    if match := _MONTH.match(value):
        year, month = _year(int(match.group(1))), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValidationError([("period", f"month must be 01..12 in {value!r}")])
        return Period("month", value, date(year, month, 1), _month_end(year, month))
    raise ValidationError(
        [("period", f"unrecognised period {text!r}; expected a year (2026), a quarter (2026-Q1) or a month (2026-03)")]
    )


def _year(year: int) -> int:
    if year < 1:
        raise ValidationError([("period", f"year must be 0001 or later, got {year:04d}")])
    return year


def _month_end(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)
