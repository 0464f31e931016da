"""Realistic SHARED records for projection tests: raw JSON doc -> validate_event -> agreements.apply.

So the rules and the store are tested on exactly what the gateway emits. Also
the read models in a real, migrated database, and ways to read them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
from sqlalchemy import Engine, delete, select

from hub.agreements import Agreement, Crossing, apply, default_agreements_dir, load_agreements
from hub.sql import make_engine
from hub.validation import validate_event
from projections import migrations
from projections.fx import FxTable, parse_rates
from projections.rules import ProjectionContext, RowChange, project
from projections.store import SourceRecord
from projections.tables import DATA_TABLES, TABLES, projection_offsets, tables_for
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


# -- the read models in a real database ------------------------------------------------------------
#: ``params`` of an ``engine`` fixture that runs a test on SQLite and on PostgreSQL.
DIALECTS: Final = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def read_models_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of dialect ``request.param``, migrated from nothing by the real Alembic revisions."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/db/read-models.db"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    migrations.upgrade(url)
    eng = make_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()


def row(engine: Engine, table: str, **key: Any) -> dict[str, Any]:
    t = TABLES[table]
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(*(t.c[k] == v for k, v in key.items()))).mappings().all()
    assert len(rows) == 1, f"{table} {key}: expected one row, found {len(rows)}"
    return dict(rows[0])


def count(engine: Engine, table: str, suffix: str = "") -> int:
    t = tables_for(suffix)[table]
    with engine.connect() as conn:
        return len(conn.execute(select(t)).all())


def reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for name in DATA_TABLES:
            conn.execute(delete(TABLES[name]))
        conn.execute(delete(projection_offsets))


def case_story() -> list[Crossing]:
    """Two cases of Nanshan: A opened, visited twice (one home visit), closed; B opened and visited once."""
    return [
        crossing("CaseOpened", case_id="NS-A", occurred_at="2026-01-05T09:00:00+08:00"),
        crossing(
            "VisitMade", case_id="NS-A", visit_id="V-A1", visit_type="HOME", occurred_at="2026-01-10T10:00:00+08:00"
        ),
        crossing(
            "VisitMade", case_id="NS-A", visit_id="V-A2", visit_type="PHONE", occurred_at="2026-02-01T10:00:00+08:00"
        ),
        crossing("CaseClosed", case_id="NS-A", outcome="GOAL_MET", occurred_at="2026-03-20T16:00:00+08:00"),
        crossing("CaseOpened", case_id="NS-B", risk_level="HIGH", occurred_at="2026-02-11T09:00:00+08:00"),
        crossing(
            "VisitMade", case_id="NS-B", visit_id="V-B1", visit_type="HOME", occurred_at="2026-02-12T09:00:00+08:00"
        ),
    ]
