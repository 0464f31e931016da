"""Realistic SHARED records for projection tests: raw JSON doc -> validate_event -> agreements.apply.

So the rules and the store are tested on exactly what the gateway emits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, Final

from hub.agreements import Agreement, Crossing, apply, default_agreements_dir, load_agreements
from hub.validation import validate_event
from projections.fx import FxTable, parse_rates
from projections.rules import ProjectionContext, RowChange, project
from projections.store import SourceRecord
from tests.factories import valid_event_doc

TEST_KEY: Final = b"projection-tests-hmac-key-0123456789"
HK: Final[dict[str, Any]] = {"region": "HK", "district": "hk-sham-shui-po", "station": None}
MO: Final[dict[str, Any]] = {"region": "MO", "district": "mo-sao-lourenco", "station": None}
TINGHU: Final[dict[str, Any]] = {"region": "JS", "district": "yancheng-tinghu", "station": None}

#: Rates of the tests (not the shipped file, which may change): CNY per unit.
TEST_RATES: Final = {
    "base": "CNY",
    "source": "test rates",
    "rates": {
        "HKD": [{"valid_from": "2020-01-01", "rate": "0.90"}, {"valid_from": "2026-04-01", "rate": "0.92"}],
        "MOP": [{"valid_from": "2020-01-01", "rate": "0.85"}],
    },
}
HKD_Q1: Final = Decimal("0.90")
HKD_FROM_APRIL: Final = Decimal("0.92")
MOP_RATE: Final = Decimal("0.85")
APRIL_1: Final = date(2026, 4, 1)


@cache
def agreements() -> dict[str, Agreement]:
    return load_agreements(default_agreements_dir())


@cache
def fx_table() -> FxTable:
    return parse_rates(TEST_RATES, origin="test rates")


def context(reporting_currency: str = "CNY") -> ProjectionContext:
    return ProjectionContext(reporting_currency=reporting_currency, fx=fx_table())


def crossing(event_type: str, **overrides: Any) -> Crossing:
    """The gateway's crossing of a valid raw event of ``event_type`` (factory values plus ``overrides``)."""
    validated = validate_event(valid_event_doc(event_type, **overrides))
    return apply(agreements()[validated.region], TEST_KEY, event_type, validated.record)


def changes(c: Crossing, zone: str = "gba", ctx: ProjectionContext | None = None) -> list[RowChange]:
    return project(zone, c.event_type, c.shared_record, ctx or context())


def records(
    crossings: list[Crossing],
    *,
    zone: str = "gba",
    topic: str = "shared.gba.test",
    partition: int = 0,
    first_offset: int = 0,
    ctx: ProjectionContext | None = None,
) -> list[SourceRecord]:
    """One source record per crossing, at consecutive offsets of one partition."""
    return [
        SourceRecord(topic, partition, first_offset + i, changes(c, zone, ctx), timestamp_ms=1_770_000_000_000 + i)
        for i, c in enumerate(crossings)
    ]
