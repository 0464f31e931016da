"""The indicator catalogue, the measures, which counts are people counts, and the pure computation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import String

from hub.errors import ValidationError
from hub.reporting_time import PeriodKind
from hub.schemas import Form, load_schema
from projections.indicator_computation import compute
from projections.indicators import (
    ALL,
    BY_NAME,
    CURRENCIES,
    DONOR_TYPES,
    INDICATORS,
    LEVELS,
    OUTCOMES,
    PASSING_OUTCOMES,
    PROGRAMMES,
    REPORTING,
    IndicatorValue,
    indicator,
    parts_of,
    splits,
)
from projections.measures import MEASURES, TIME_DISTINCT_MEASURES, MeasureRow, Place
from projections.people_counts import PUBLIC_COUNTS, suppression_family
from projections.period_suppression import period_cells, period_suppression
from projections.periods import parse_period
from projections.tables import TABLES


def _symbols(event_type: str, field: str, form: Form = "shared") -> tuple[str, ...]:
    spec = next(f for f in load_schema(form, event_type)["fields"] if f["name"] == field)
    return tuple(spec["type"]["symbols"])


def test_per_symbol_indicators_cover_the_schema_enums() -> None:
    assert set(LEVELS) == set(_symbols("WorkerCertified", "level"))
    assert set(PROGRAMMES) == set(_symbols("ProjectFunded", "programme"))
    assert set(CURRENCIES) == {"CNY", "HKD", "MOP"}
    # Donor types and outcomes: the schemas' symbols in the schemas' order (the report's order), raw and shared.
    forms: tuple[Form, ...] = ("raw", "shared")
    for form in forms:
        assert _symbols("DonationReceived", "donor_type", form) == DONOR_TYPES, form
        assert _symbols("ProjectEvaluated", "outcome", form) == OUTCOMES, form
    assert set(PASSING_OUTCOMES) < set(OUTCOMES)


def test_donations_are_split_by_currency_and_by_donor_type_and_evaluations_by_outcome() -> None:
    assert splits("donations_count") == {
        "currency": tuple(f"donations_count_{c}" for c in CURRENCIES),
        "donor_type": tuple(f"donations_count_{t}" for t in DONOR_TYPES),
    }
    assert parts_of("donations_count") == parts_of("donations_count", "currency")
    assert splits("donations_amount_reporting") == {
        "donor_type": tuple(f"donations_amount_reporting_{t}" for t in DONOR_TYPES)
    }
    assert splits("evaluations") == {"outcome": tuple(f"evaluations_{o}" for o in OUTCOMES)}
    assert splits("visits") == {} and parts_of("visits") == ()
    for donor in DONOR_TYPES:
        count, amount = BY_NAME[f"donations_count_{donor}"], BY_NAME[f"donations_amount_reporting_{donor}"]
        assert (count.unit, count.kind, count.group) == ("donations", "count", "donations")
        assert (amount.unit, amount.kind, amount.places, amount.basis) == ("reporting", "amount", 2, (count.name,))
        assert amount.unit == REPORTING and amount.group == "donations"
        # Activities, published as they are, like the currency parts; the amounts go with their counts.
        assert suppression_family(count) == "public" and suppression_family(amount) == "amount"
    for outcome in OUTCOMES:
        spec = BY_NAME[f"evaluations_{outcome}"]
        assert (spec.unit, spec.kind, spec.group, spec.over_time) == ("evaluations", "count", "evaluations", "sum")
        assert suppression_family(spec) == "public"
    # The report shows a group's indicators together: each group is one run of the catalogue.
    runs = [spec.group for i, spec in enumerate(INDICATORS) if i == 0 or INDICATORS[i - 1].group != spec.group]
    assert len(runs) == len(set(runs)), runs


def test_names_fit_the_table_and_no_measure_is_named_twice() -> None:
    column_type = TABLES["indicators"].c.indicator.type
    assert isinstance(column_type, String) and column_type.length is not None
    assert all(len(spec.name) <= column_type.length for spec in INDICATORS)
    # Two splits measured from one table must not share a symbol: their measures would add into one.
    assert len(MEASURES) == len(set(MEASURES))
    assert not set(CURRENCIES) & set(DONOR_TYPES)


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


def test_compute_carries_the_parts_by_donor_type_and_outcome_and_each_split_sums_to_its_total() -> None:
    rows = [
        row(
            "a",
            "GD",
            "month",
            "2026-03",
            evaluations=3,
            evaluations_passed=2,
            evaluations_PASS=2,
            evaluations_FAIL=1,
            donations_count_CNY=2,
            donations_amount_reporting_CNY="30.50",
            donations_count_FOUNDATION=1,
            donations_amount_reporting_FOUNDATION="10.25",
            donations_count_INDIVIDUAL=1,
            donations_amount_reporting_INDIVIDUAL="20.25",
        ),
        row(
            "b",
            "GD",
            "month",
            "2026-04",
            evaluations=1,
            evaluations_EXCELLENT=1,
            donations_count_MOP=1,
            donations_amount_reporting_MOP=5,
            donations_count_OTHER=1,
            donations_amount_reporting_OTHER=5,
        ),
    ]
    got = {(v.region, v.district, v.period, v.indicator): v.value for v in compute(rows)}
    assert got[("GD", "a", "2026-Q1", "evaluations_PASS")] == 2 and got[("GD", ALL, "2026", "evaluations_FAIL")] == 1
    assert got[(ALL, ALL, "2026", "evaluations_EXCELLENT")] == 1
    assert got[("GD", "a", "2026-03", "donations_amount_reporting_INDIVIDUAL")] == Decimal("20.25")
    assert got[("GD", ALL, "2026", "donations_count_OTHER")] == 1
    for place in (("GD", "a"), ("GD", "b"), ("GD", ALL), (ALL, ALL)):
        for period in ("2026-03", "2026-04", "2026-Q1", "2026-Q2", "2026"):
            for total in ("donations_count", "donations_amount_reporting", "evaluations"):
                for parts in splits(total).values():
                    summed = sum((got.get((*place, period, p), Decimal(0)) for p in parts), Decimal(0))
                    assert summed == got.get((*place, period, total), Decimal(0)), (place, period, total, parts)
    assert got[(ALL, ALL, "2026", "donations_amount_reporting")] == Decimal("35.50")


def test_suppression_knows_both_splits_of_donations_and_publishes_the_new_parts_like_the_currency_parts() -> None:
    district: dict[str, int | Decimal] = {
        "visits": 3,  # a people count below the threshold: primary, whatever the donations do
        "donations_count": 3,
        "donations_count_CNY": 3,
        "donations_count_ENTERPRISE": 2,
        "donations_count_INDIVIDUAL": 1,
        "donations_amount_reporting": Decimal("30.00"),
        "donations_amount_reporting_ENTERPRISE": Decimal("29.00"),
        "donations_amount_reporting_INDIVIDUAL": Decimal("1.00"),
        "evaluations": 2,
        "evaluations_PASS": 1,
        "evaluations_FAIL": 1,
    }
    values = [
        IndicatorValue("gba", region, d, "year", "2026", name, Decimal(v))
        for region, d in (("GD", "a"), ("GD", ALL), (ALL, ALL))
        for name, v in district.items()
    ]
    period = parse_period("2026")
    cells, equations = period_cells(values, period)
    by_total: dict[tuple[str, str, str], list[set[str]]] = {}
    for eq in equations:
        (region, d, _, _, total), sign = eq.terms[0]
        parts = [key for key, c in eq.terms if c == -1]
        if sign == 1 and parts and all(key[:2] == (region, d) for key in parts):
            by_total.setdefault((region, d, total), []).append({key[4] for key in parts})
    for scope in (("GD", "a"), ("GD", ALL), (ALL, ALL)):
        assert sorted(map(sorted, by_total[(*scope, "donations_count")])) == sorted(
            sorted(parts) for parts in splits("donations_count").values()
        )
        assert by_total[(*scope, "donations_amount_reporting")] == [set(parts_of("donations_amount_reporting"))]
        assert by_total[(*scope, "evaluations")] == [set(parts_of("evaluations"))]
    assert cells[("GD", "a", "year", "2026", "donations_count_INDIVIDUAL")].family == "public"
    marks = period_suppression(values, period).marks
    assert marks[("GD", "a", "year", "2026", "visits")] == "primary"
    assert not {key for key in marks if key[4].startswith(("donations_", "evaluations"))}
