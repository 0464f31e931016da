"""The indicators table, on SQLite and PostgreSQL: every indicator of a generated stream is exactly right.

The stream goes through the real path (raw JSON -> validate_event ->
agreements.apply -> rules.project -> store.apply_batch) in shuffled order;
the expected values are computed from the raw documents by
``tests/indicator_stream.expected``, independently of the hub's SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from hub.errors import ProjectionError
from hub.sql import make_engine
from projections import fact_queries, indicator_store, store
from projections.indicator_store import MARKER_KIND, refresh_indicators, stale_zones
from projections.indicators import ALL, INDICATORS, splits
from projections.periods import parse_period
from projections.tables import SHADOW_SUFFIX, TABLES
from tests.indicator_stream import PLACES, Key, all_periods, expected, known_stream, load
from tests.shared_events import DIALECTS, crossing, read_models_engine, records

P = "read_models"


@pytest.fixture(params=DIALECTS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the given dialect, migrated by the real Alembic revisions."""
    yield from read_models_engine(request, tmp_path)


def table_values(engine: Engine, zone: str) -> dict[Key, Decimal]:
    return {
        (v.region, v.district, v.period_kind, v.period, v.indicator): v.value
        for v in indicator_store.read_values(engine, zone)
    }


def test_every_indicator_of_a_known_stream_is_exact(engine: Engine) -> None:
    docs = known_stream()
    load(engine, docs)
    summary = refresh_indicators(engine)
    assert summary.zones == ("gba", "mainland")
    for zone in ("gba", "mainland"):
        want = expected(docs, zone)
        got = table_values(engine, zone)
        missing = {k: v for k, v in want.items() if k not in got}
        extra = {k: v for k, v in got.items() if k not in want}
        wrong = {k: (got[k], v) for k, v in want.items() if k in got and got[k] != v}
        assert (missing, extra, wrong) == ({}, {}, {}), zone
    assert summary.rows == sum(len(expected(docs, z)) for z in ("gba", "mainland"))


def test_the_parts_of_every_split_sum_to_their_total_in_every_district_and_period(engine: Engine) -> None:
    docs = known_stream()
    load(engine, docs)
    refresh_indicators(engine)
    totals = sorted({spec.part_of for spec in INDICATORS if spec.part_of})
    checked: set[str] = set()
    for zone in ("gba", "mainland"):
        got = table_values(engine, zone)
        districts = [(region, d) for d, (region, _, _, zones) in PLACES.items() if zone in zones]
        scopes = [*districts, *{(region, ALL) for region, _ in districts}, (ALL, ALL)]
        for region, district in scopes:
            for kind, period in all_periods():
                for total in totals:
                    value = got.get((region, district, kind, period, total), Decimal(0))
                    for split, parts in splits(total).items():
                        summed = sum(
                            (got.get((region, district, kind, period, p), Decimal(0)) for p in parts), Decimal(0)
                        )
                        assert summed == value, (zone, region, district, period, total, split)
                        if value and sum(1 for p in parts if (region, district, kind, period, p) in got) > 1:
                            checked.add(f"{total}/{split}")
    # Not vacuous: every split has a scope and period with a non-zero total over two or more non-zero parts.
    assert checked == {f"{t}/{s}" for t in totals for s in splits(t)}


def test_the_result_does_not_depend_on_order_or_batching(engine: Engine) -> None:
    docs = known_stream(seed=11)
    load(engine, docs, seed=None, batch=500)
    refresh_indicators(engine)
    first = {z: table_values(engine, z) for z in ("gba", "mainland")}
    store.create_shadow(engine)
    # The same stream again, other order and batches, in the shadow tables of a rebuild.
    again = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        load(again, docs, seed=99, batch=13, suffix=SHADOW_SUFFIX)
        refresh_indicators(again, suffix=SHADOW_SUFFIX)
        store.swap_shadow(again, require_caught_up=False)
    finally:
        again.dispose()
    assert stale_zones(engine) == ["gba", "mainland"]  # the swap moved the offsets: recompute
    refresh_indicators(engine)
    assert {z: table_values(engine, z) for z in ("gba", "mainland")} == first


def test_refresh_replaces_the_zone_and_tracks_staleness(engine: Engine) -> None:
    assert stale_zones(engine) == []
    store.apply_batch(engine, P, records([crossing("CaseOpened", case_id="NS-1")]))
    assert stale_zones(engine) == ["gba"]
    first = refresh_indicators(engine)
    assert stale_zones(engine) == [] and first.stamp.offsets == 1
    assert indicator_store.ensure_fresh(engine) is None
    year = [v for v in indicator_store.read_values(engine, "gba", period="2026") if v.district == "*"]
    assert {(v.region, v.indicator, v.value) for v in year} >= {("*", "cases_opened", Decimal(1))}
    # A second case arrives: the marker no longer matches, and the refresh counts it.
    store.apply_batch(engine, P, records([crossing("CaseOpened", case_id="NS-2")], first_offset=1))
    assert stale_zones(engine) == ["gba"]
    assert indicator_store.ensure_fresh(engine) is not None
    values = {
        (v.region, v.district, v.indicator): v.value
        for v in indicator_store.read_values(engine, "gba", period_kind="year", period="2026")
    }
    assert values[("*", "*", "cases_opened")] == 2
    assert values[("GD", "shenzhen-nanshan", "cases_open")] == 2
    # Refreshing twice writes the same rows; the markers never show up as indicators.
    before = table_values(engine, "gba")
    refresh_indicators(engine, zones=["gba"])
    assert table_values(engine, "gba") == before
    with engine.connect() as conn:
        t = TABLES["indicators"]
        markers = conn.execute(select(func.count()).where(t.c.period_kind == MARKER_KIND)).scalar_one()
    assert markers == 2


def test_a_zone_without_facts_any_more_is_emptied(engine: Engine) -> None:
    store.apply_batch(engine, P, records([crossing("TrainingHeld")]))
    refresh_indicators(engine)
    assert indicator_store.read_values(engine, "gba")
    with engine.begin() as conn:
        conn.execute(TABLES["trainings"].delete())
    refresh_indicators(engine)
    assert indicator_store.read_values(engine, "gba") == []


def test_facts_in_another_reporting_currency_are_refused(engine: Engine) -> None:
    store.apply_batch(engine, P, records([crossing("DonationReceived")]))
    with pytest.raises(ProjectionError, match=r"reporting_currency.*rebuild"):
        refresh_indicators(engine, reporting_currency="HKD")
    refresh_indicators(engine, reporting_currency="CNY")


def test_rates_used_are_read_from_the_facts(engine: Engine) -> None:
    docs = known_stream()
    load(engine, docs)
    q1 = fact_queries.rates_used(engine, "gba", parse_period("2026-Q1"))
    q2 = fact_queries.rates_used(engine, "gba", parse_period("2026-Q2"))
    assert {(r.currency, r.rate) for r in q1} == {("HKD", Decimal("0.90")), ("MOP", Decimal("0.85"))}
    assert ("HKD", Decimal("0.92")) in {(r.currency, r.rate) for r in q2}
    assert fact_queries.rates_used(engine, "mainland", parse_period("2026")) == []  # all CNY
