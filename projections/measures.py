"""Measures: the named sums and counts SQL takes of the fact tables, per district and period.

Pure data, no I/O. A measure is what one ``GROUP BY`` can give
(:mod:`projections.measure_queries` runs them); an indicator is what the
computation derives from measures (:mod:`projections.indicator_computation`).
Most measures share their indicator's name; a few only feed others (the
volunteers of visits and of services, the converted amounts per currency, the
numerators of the evaluation rates). Every measure is district-additive: a
region's value is the sum of its districts'. The donations are measured twice,
by currency and by donor type; no measure is named twice (a currency named
like a donor type would add two measures into one: ``tests/test_indicators.py``
checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from hub.reporting_time import PeriodKind
from projections.indicators import (
    CURRENCIES,
    DONOR_TYPES,
    INDICATORS,
    LEVELS,
    OUTCOMES,
    PROGRAMMES,
    SAFETY_NET_AREA,
)

#: Raw measures per (zone, region, district, period): sums and counts SQL computes, all district-additive.
MEASURES: Final[tuple[str, ...]] = (
    "cases_opened",
    "cases_opened_hardship",
    "cases_closed",
    "closures_set_aside",
    "reopened_cases_opened",
    "closures_awaiting_opening",
    "stations_with_cases",
    "visits",
    "home_visits",
    "visit_volunteers",
    "services",
    "service_person_times",
    f"service_person_times_{SAFETY_NET_AREA}",
    "service_projects",
    "service_volunteers",
    *(f"donations_count_{c}" for c in CURRENCIES),
    *(f"donations_amount_{c}" for c in CURRENCIES),
    *(f"donations_amount_reporting_{c}" for c in CURRENCIES),
    *(f"donations_count_{t}" for t in DONOR_TYPES),
    *(f"donations_amount_reporting_{t}" for t in DONOR_TYPES),
    "donation_beneficiaries",
    "evaluations",
    *(f"evaluations_{o}" for o in OUTCOMES),
    "evaluations_passed",
    "evaluation_score_sum",
    "projects_evaluated",
    "projects_rated_excellent",
    "evaluation_beneficiaries",
    "trainings",
    "training_person_times",
    *(f"certifications_{level}" for level in LEVELS),
    "licensed_social_workers",
    "fundings",
    "projects_funded",
    *(f"projects_funded_{p}" for p in PROGRAMMES),
    *(f"funding_amount_reporting_{p}" for p in PROGRAMMES),
    "volunteers_registered",
)
#: Measures that count distinct things: a quarter's or year's value is not the sum of its months', so SQL
#: counts them per quarter and year too. They are the indicators whose ``over_time`` is ``distinct``.
TIME_DISTINCT_MEASURES: Final[frozenset[str]] = frozenset(i.name for i in INDICATORS if i.over_time == "distinct")


@dataclass(frozen=True)
class Place:
    """Where a measure or an indicator value belongs: zone, region, district (``*`` for all)."""

    zone: str
    region: str
    district: str


@dataclass(frozen=True)
class MeasureRow:
    """Measures of one district in one period, as SQL grouped them (missing measures are 0)."""

    place: Place
    period_kind: PeriodKind
    period: str
    values: Mapping[str, Decimal | int] = field(hash=False)


__all__ = ["MEASURES", "TIME_DISTINCT_MEASURES", "MeasureRow", "Place"]
