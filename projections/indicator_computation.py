"""The computation of indicator values from per-district measures.

Pure: no SQL, no I/O. :mod:`projections.indicator_store` measures the facts
(one ``GROUP BY`` per fact table and period kind, :mod:`projections.measure_queries`)
and hands the rows (:class:`~projections.measures.MeasureRow`, one per zone,
district and period) to :func:`compute`, which derives every indicator of the
catalogue (:mod:`projections.indicators`) for every district, region and the
zone. Guarantees:

- values are exact (Decimal), amounts rounded half-even to the cent and
  ratios to each indicator's places;
- a region's (and the zone's) additive values are the sums of its districts';
  its ratios are computed from those sums, never as a mean of means;
- a total is the sum of the parts of each of its splits (donations by
  currency and by donor type, evaluations by outcome, ...): the parts are
  measures carried as they are, and each split's measures cover the same fact
  rows (:mod:`projections.measure_queries`), amounts already in cents per row;
- a flow of a quarter or year is the sum of its months, a stock (cases open)
  is its last month's value, a distinct count comes per period from SQL;
- every month, quarter and year of the years the measures span is
  materialised, so a stock has a value at the end of periods without events;
- the same measures give the same values, whatever their order.

The periods are the reporting periods of :mod:`hub.reporting_time`, named as
:func:`projections.periods.parse_period` reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Final

from hub.reporting_time import PERIOD_KINDS, PeriodKind, month_of, quarter_of, year_of
from projections.indicators import ALL, BY_NAME, CURRENCIES, LEVELS, NAMES, PROGRAMMES, IndicatorValue
from projections.measures import MEASURES, TIME_DISTINCT_MEASURES, MeasureRow
from projections.periods import parse_period

_CENT: Final = Decimal("0.01")
_MEASURE_SET: Final = frozenset(MEASURES)


# -- periods ------------------------------------------------------------------------------------------------
@cache
def _first_day(period: str) -> date:
    return parse_period(period).start


@cache
def _last_month(period: str) -> str:
    """The last month of a period (for stocks such as cases_open)."""
    return month_of(parse_period(period).end)


def period_universe(years: Iterable[int]) -> dict[PeriodKind, list[str]]:
    """Every month, quarter and year of the years from the smallest to the largest of ``years``."""
    found = sorted(set(years))
    if not found:
        return {kind: [] for kind in PERIOD_KINDS}
    span = range(found[0], found[-1] + 1)
    return {
        "month": [month_of(date(y, m, 1)) for y in span for m in range(1, 13)],
        "quarter": [quarter_of(date(y, m, 1)) for y in span for m in (1, 4, 7, 10)],
        "year": [year_of(date(y, 1, 1)) for y in span],
    }


# -- the computation ------------------------------------------------------------------------------------
def compute(rows: Iterable[MeasureRow]) -> list[IndicatorValue]:
    """Every non-zero indicator value of every district, region and zone in every period the rows span.

    ``rows`` are the measures of districts (never ``*``): every measure per month, and the distinct
    counts (:data:`~projections.measures.TIME_DISTINCT_MEASURES`) also per quarter and year; the other
    measures of a quarter or year are the sums of its months. The periods materialised are every month,
    quarter and year of the years from the first to the last that holds a measure, so that a stock
    (cases_open) has a value at the end of every period, also of periods without events. Values are
    exact (Decimal) and rounded half-even to each indicator's places.
    """
    per: dict[tuple[str, str, str], dict[tuple[PeriodKind, str], dict[str, Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    years: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        place = row.place
        if place.district == ALL or place.region == ALL:
            raise ValueError(f"measures are per district, got region {place.region!r} district {place.district!r}")
        if row.period_kind not in PERIOD_KINDS:
            raise ValueError(f"period_kind: unknown {row.period_kind!r}")
        first_day = _first_day(row.period)
        bucket = per[(place.zone, place.region, place.district)]
        for name, value in row.values.items():
            if name not in _MEASURE_SET:
                raise ValueError(f"measure: unknown {name!r}")
            if not value:
                continue
            amount = Decimal(value)
            if row.period_kind != "month":
                if name not in TIME_DISTINCT_MEASURES:
                    raise ValueError(f"measure {name!r}: give it per month; quarters and years are summed here")
                bucket[(row.period_kind, row.period)][name] += amount
                continue
            bucket[("month", row.period)][name] += amount
            if name not in TIME_DISTINCT_MEASURES:
                bucket[("quarter", quarter_of(first_day))][name] += amount
                bucket[("year", year_of(first_day))][name] += amount
        years[place.zone].add(first_day.year)

    out: list[IndicatorValue] = []
    for zone in sorted(years):
        universe = period_universe(years[zone])
        districts = sorted(k for k in per if k[0] == zone)
        scopes: dict[tuple[str, str], dict[tuple[PeriodKind, str], dict[str, Decimal]]] = {}
        for _, region, district in districts:
            values = _district_indicators(per[(zone, region, district)], universe)
            scopes[(region, district)] = values
            for region_key, district_key in ((region, ALL), (ALL, ALL)):
                target = scopes.setdefault((region_key, district_key), {})
                for period_key, named in values.items():
                    slot = target.setdefault(period_key, {})
                    for name, value in named.items():
                        if name.startswith("_") or BY_NAME[name].additive:
                            slot[name] = slot.get(name, Decimal(0)) + value
        # Ratios of regions and the zone come from their summed parts.
        for (region, district), values in sorted(scopes.items()):
            for (kind, period), named in values.items():
                if region == ALL or district == ALL:
                    named.update(_ratios(named))
                for name in NAMES:
                    result = named.get(name)
                    if result:
                        out.append(IndicatorValue(zone, region, district, kind, period, name, result))
    return out


def _district_indicators(
    measured: Mapping[tuple[PeriodKind, str], Mapping[str, Decimal]], universe: Mapping[PeriodKind, list[str]]
) -> dict[tuple[PeriodKind, str], dict[str, Decimal]]:
    out: dict[tuple[PeriodKind, str], dict[str, Decimal]] = {}
    # Cases open at each month end: everything opened so far minus everything closed so far; of them, the
    # cases whose closing predates their opening (that closing never counted, so they stay open).
    open_at: dict[str, Decimal] = {}
    reopened_at: dict[str, Decimal] = {}
    running = reopened = Decimal(0)
    for month in universe["month"]:
        m = measured.get(("month", month), {})
        running += m.get("cases_opened", Decimal(0)) - m.get("cases_closed", Decimal(0))
        reopened += m.get("reopened_cases_opened", Decimal(0))
        open_at[month] = running
        reopened_at[month] = reopened
    for kind in PERIOD_KINDS:
        for period in universe[kind]:
            m = measured.get((kind, period), {})
            values = _from_measures(m)
            values["cases_open"] = open_at[_last_month(period)]
            values["cases_open_reopened"] = reopened_at[_last_month(period)]
            values.update(_ratios(values))
            out[(kind, period)] = values
    return out


#: Measures that are indicators of the same name: counts as they are, amounts rounded to the cent.
_CARRIED: Final[tuple[tuple[str, bool], ...]] = tuple(
    (name, BY_NAME[name].kind == "amount") for name in MEASURES if name in BY_NAME
)


def _from_measures(m: Mapping[str, Decimal]) -> dict[str, Decimal]:
    def get(name: str) -> Decimal:
        return m.get(name, Decimal(0))

    values: dict[str, Decimal] = {name: _cents(get(name)) if amount else get(name) for name, amount in _CARRIED}
    values["volunteer_participations"] = get("visit_volunteers") + get("service_volunteers")
    values["donations_count"] = sum((get(f"donations_count_{c}") for c in CURRENCIES), Decimal(0))
    values["donations_amount_reporting"] = _cents(
        sum((get(f"donations_amount_reporting_{c}") for c in CURRENCIES), Decimal(0))
    )
    values["certifications_total"] = sum((get(f"certifications_{level}") for level in LEVELS), Decimal(0))
    values["funding_amount_reporting"] = sum((values[f"funding_amount_reporting_{p}"] for p in PROGRAMMES), Decimal(0))
    # Hidden numerators of the ratios, summed over districts like the other measures.
    values["_evaluations_passed"] = get("evaluations_passed")
    values["_evaluation_score_sum"] = get("evaluation_score_sum")
    return values


def _ratios(values: dict[str, Decimal]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    evaluations = values.get("evaluations", Decimal(0))
    if evaluations:
        out["evaluation_pass_rate"] = _round(
            "evaluation_pass_rate", values.get("_evaluations_passed", Decimal(0)) / evaluations
        )
        out["evaluation_mean_overall_score"] = _round(
            "evaluation_mean_overall_score", values.get("_evaluation_score_sum", Decimal(0)) / evaluations
        )
    cases_open = values.get("cases_open", Decimal(0))
    if cases_open:
        out["visits_per_open_case"] = _round("visits_per_open_case", values.get("visits", Decimal(0)) / cases_open)
    return out


def _round(name: str, value: Decimal) -> Decimal:
    """``value`` rounded half-even to the places of the indicator ``name``."""
    return value.quantize(Decimal(1).scaleb(-BY_NAME[name].places), rounding=ROUND_HALF_EVEN)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


__all__ = ["compute", "period_universe"]
