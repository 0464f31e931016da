"""The indicator catalogue, the measures, which counts are people counts, and the pure computation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.errors import ValidationError
from hub.reporting_time import PeriodKind
from hub.schemas import load_schema
from projections.indicator_computation import compute
from projections.indicators import (
    ALL,
    BY_NAME,
    CURRENCIES,
    INDICATORS,
    LEVELS,
    PROGRAMMES,
    indicator,
    parts_of,
)
from projections.measures import MEASURES, TIME_DISTINCT_MEASURES, MeasureRow, Place
from projections.people_counts import PUBLIC_COUNTS, suppression_family


def _symbols(event_type: str, field: str) -> tuple[str, ...]:
    spec = next(f for f in load_schema("shared", event_type)["fields"] if f["name"] == field)
    return tuple(spec["type"]["symbols"])


def test_per_symbol_indicators_cover_the_schema_enums() -> None:
    assert set(LEVELS) == set(_symbols("WorkerCertified", "level"))
    assert set(PROGRAMMES) == set(_symbols("ProjectFunded", "programme"))
    assert set(CURRENCIES) == {"CNY", "HKD", "MOP"}


def test_definitions_are_consistent() -> None:
    names = [i.name for i in INDICATORS]
    assert len(names) == len(set(names))
    for spec in INDICATORS:
        assert spec.description and spec.unit
        assert all(b in BY_NAME and BY_NAME[b].kind == "count" for b in spec.basis), spec.name
        if spec.kind in ("amount", "ratio"):
            assert spec.basis, f"{spec.name} must name the counts it is suppressed with"
        if spec.part_of:
            assert BY_NAME[spec.part_of].kind == spec.kind
    assert parts_of("certifications_total") == tuple(f"certifications_{level}" for level in LEVELS)
    with pytest.raises(ValidationError, match="indicator: unknown indicator 'nope'"):
        indicator("nope")


def test_every_distinct_indicator_is_measured_and_only_activity_counts_are_public() -> None:
    # A distinct count is not derivable from its months: SQL must measure it per quarter and year.
    assert set(MEASURES) >= TIME_DISTINCT_MEASURES
    families = {spec.name: suppression_family(spec) for spec in INDICATORS}
    assert {spec.name for spec in INDICATORS if spec.kind == "count"} >= PUBLIC_COUNTS
    assert {name for name, family in families.items() if family == "public"} == PUBLIC_COUNTS
    for person_count in ("cases_opened", "visits", "service_person_times", "volunteers_registered"):
        assert families[person_count] == "count", person_count
    assert families["donations_amount_reporting"] == "amount" and families["visits_per_open_case"] == "ratio"


def row(district: str, region: str, kind: PeriodKind, period: str, **values: int | str) -> MeasureRow:
    return MeasureRow(Place("gba", region, district), kind, period, {k: Decimal(str(v)) for k, v in values.items()})


def test_compute_stocks_flows_ratios_and_totals() -> None:
    rows = [
        row(
            "a",
            "GD",
            "month",
            "2026-01",
            cases_opened=3,
            visits=6,
            evaluations=2,
            evaluations_passed=1,
            evaluation_score_sum=150,
        ),
        row("a", "GD", "month", "2026-02", cases_closed=1),
        row(
            "a",
            "GD",
            "month",
            "2026-05",
            cases_opened=1,
            donations_amount_reporting_HKD="10.005",
            donations_count_HKD=1,
        ),
        row("b", "GD", "month", "2026-02", cases_opened=2, visits=1),
        row("c", "HK", "month", "2026-03", volunteers_registered=4, projects_funded=1),
        # A distinct count comes per period kind from SQL: the year is not the sum of its months.
        row("c", "HK", "month", "2026-04", projects_funded=1),
        row("c", "HK", "year", "2026", projects_funded=1),
    ]
    got = {(v.region, v.district, v.period, v.indicator): v.value for v in compute(rows)}
    assert got[("GD", "a", "2026-01", "cases_open")] == 3
    assert got[("GD", "a", "2026-04", "cases_open")] == 2  # a stock: kept in months without events
    assert got[("GD", "a", "2026-Q1", "cases_open")] == 2 and got[("GD", "a", "2026", "cases_open")] == 3
    assert ("GD", "a", "2026-Q1", "cases_opened") in got and got[("GD", "a", "2026", "cases_opened")] == 4
    assert got[("GD", ALL, "2026-Q1", "cases_open")] == 4  # 2 of a + 2 of b
    assert got[("GD", "a", "2026-01", "visits_per_open_case")] == Decimal("2.00")
    assert got[("GD", ALL, "2026-Q1", "visits_per_open_case")] == Decimal("1.75")  # 7 / 4, not a mean of means
    assert got[("GD", "a", "2026", "evaluation_pass_rate")] == Decimal("0.5000")
    assert got[("GD", "a", "2026", "evaluation_mean_overall_score")] == Decimal("75.00")
    assert got[("GD", "a", "2026-05", "donations_amount_reporting")] == Decimal("10.00")  # half-even to the cent
    assert got[("HK", "c", "2026", "projects_funded")] == 1
    assert got[(ALL, ALL, "2026", "volunteers_registered")] == 4
    assert ("GD", "a", "2026-12", "cases_open") in got and ("GD", "a", "2026-03", "visits") not in got  # zeros omitted
    assert not any(name.startswith("_") for *_, name in got)
    with pytest.raises(ValueError, match="per month"):
        compute([row("a", "GD", "year", "2026", visits=1)])
    with pytest.raises(ValueError, match="per district"):
        compute([row(ALL, "GD", "month", "2026-01", visits=1)])
