"""The demo year: its window (1 January to :data:`DATA_AS_OF`) and minutes mapped to ``+08:00`` timestamps.

Pure. Every ``occurred_at`` of the demo is written with Asia/Shanghai's
standard offset (:data:`hub.reporting_time.STANDARD_OFFSET`, ``+08:00``; Hong
Kong and Macao share it), between 1 January and 28 November of the demo year, so
a year or quarter report of that year covers the whole stream.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Final

from hub.errors import ValidationError
from hub.reporting_time import STANDARD_OFFSET

DATA_AS_OF: Final = (11, 28)
"""(month, day): no event of the demo year is later than this day."""
MIN_YEAR: Final = 1971
MAX_YEAR: Final = 2099


def check_year(year: int) -> None:
    """A :class:`ValidationError` on the field ``year`` unless MIN_YEAR <= ``year`` <= MAX_YEAR."""
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError([("year", f"must be an integer between {MIN_YEAR} and {MAX_YEAR}, got {year!r}")])


class Calendar:
    """Minutes since 1 January 00:00 (+08:00) of ``year`` -> ISO-8601 text."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.start = datetime(year, 1, 1, tzinfo=STANDARD_OFFSET)
        self.last_day = (date(year, *DATA_AS_OF) - date(year, 1, 1)).days

    def stamp(self, minute: int) -> str:
        return (self.start + timedelta(minutes=minute)).isoformat()

    def day_of(self, month: int, day: int) -> int:
        return (date(self.year, month, day) - date(self.year, 1, 1)).days

    def iso_date(self, day: int) -> str:
        return (date(self.year, 1, 1) + timedelta(days=day)).isoformat()

    def at(self, rng: random.Random, day: int, first_hour: int = 8, last_hour: int = 18) -> int:
        """A minute of ``day`` between ``first_hour``:00 and ``last_hour``:00."""
        return day * 1440 + rng.randrange(first_hour * 60, last_hour * 60)


__all__ = ["DATA_AS_OF", "MAX_YEAR", "MIN_YEAR", "Calendar", "check_year"]
