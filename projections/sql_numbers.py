"""How a number read from SQL becomes an exact Decimal, on SQLite and PostgreSQL alike.

Pure (no I/O): a conversion of values a query returned. PostgreSQL returns
NUMERIC as Decimal; SQLite returns NUMERIC sums as floats, whose shortest
``repr`` is the decimal SQLite computed, so that is what is kept. ``None`` (the
sum of no rows) is 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def as_decimal(value: Any) -> Decimal:
    """``value`` (a SQL number or NULL) as an exact Decimal; NULL is 0."""
    if value is None:
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))  # SQLite returns NUMERIC sums as floats: keep their shortest form
    return Decimal(value)


__all__ = ["as_decimal"]
