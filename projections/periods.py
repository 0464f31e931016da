"""Reporting periods a reader names: ``2026``, ``2026-Q1`` or ``2026-03``, parsed into local-date bounds.

Pure. Which period an *instant* belongs to (the reporting time zone, the local
date of ``occurred_at``, its month, quarter and year) is defined once in the
core, :mod:`hub.reporting_time`; this module turns the text of a requested
period into a :class:`Period` whose inclusive bounds are local dates in that
zone, so ``Period.contains(local_date(moment))`` is the test for an event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from hub.errors import ValidationError
from hub.reporting_time import PeriodKind

# ASCII digits only: \d alone would take "٢٠٢٦" for 2026 and keep the foreign text as the period's value.
_YEAR: Final = re.compile(r"^(\d{4})$", re.ASCII)
_QUARTER: Final = re.compile(r"^(\d{4})-Q([1-4])$", re.ASCII)
_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)


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


def previous_period(period: Period) -> Period | None:
    """The period of the same kind just before ``period`` (None before year 1)."""
    if period.start == date.min:
        return None
    before = period.start - timedelta(days=1)
    if period.kind == "year":
        return parse_period(f"{before.year:04d}")
    if period.kind == "quarter":
        return parse_period(f"{before.year:04d}-Q{(before.month - 1) // 3 + 1}")
    return parse_period(f"{before.year:04d}-{before.month:02d}")


def months_of_year(period: Period) -> tuple[Period, ...]:
    """The twelve months of the year ``period`` starts in."""
    return tuple(parse_period(f"{period.start.year:04d}-{m:02d}") for m in range(1, 13))


__all__ = ["Period", "months_of_year", "parse_period", "previous_period"]
