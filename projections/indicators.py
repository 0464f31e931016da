"""Indicator definitions and their computation from per-district measures.

Pure: no SQL here. :mod:`projections.indicator_store` runs one ``GROUP BY``
per fact table and period kind and hands the sums and counts it got
(:class:`Measures`, one per zone, district and period) to :func:`compute`,
which derives every indicator for every district, region and the zone.

Why region and zone values are sums of district values, even for "distinct"
indicators: the hub's ids (projects, workers, stations) are district-scoped
(EVENTS.md), so the same id in two districts names two things, and a distinct
count over a region is the sum of its districts' distinct counts.

Over time it is different. A flow (cases opened, visits) of a year is the sum
of its quarters and months; a stock (cases open at the end of the period) of
a year is its December value; a distinct count (projects evaluated) is not
derivable from its parts and is counted per period by SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, Literal

from hub.errors import ValidationError
from projections.periods import PERIOD_KINDS, PeriodKind
from projections.suppression import Family

#: ``indicators.region`` / ``indicators.district`` value meaning "all" (same as :data:`projections.tables.ALL`).
ALL: Final = "*"

Kind = Literal["count", "amount", "ratio"]
"""``count``: a number of things or people, suppressed below the threshold in cross-region outputs;
``amount``: money, additive, suppressed with its basis count; ``ratio``: a rate or mean of its basis."""
OverTime = Literal["sum", "end", "distinct", "ratio"]
"""How a year relates to its quarters and months: ``sum`` (flows), ``end`` (a stock at the end of the
period), ``distinct`` (distinct things: not derivable from the parts), ``ratio`` (of other indicators)."""

CURRENCIES: Final[tuple[str, ...]] = ("CNY", "HKD", "MOP")
LEVELS: Final[tuple[str, ...]] = ("ASSISTANT", "JUNIOR", "INTERMEDIATE", "SENIOR", "GENERALIST", "SUPERVISOR", "OTHER")
PROGRAMMES: Final[tuple[str, ...]] = (
    "VENTURE_PHILANTHROPY",
    "MICRO_PROJECT",
    "GOVERNMENT_PURCHASE",
    "CHARITY",
    "OTHER",
)
#: Certification levels of a licensed social worker (the national 助理社会工作师 / 社会工作师 / 高级社会工作师 track).
LICENSED_LEVELS: Final[tuple[str, ...]] = ("ASSISTANT", "JUNIOR", "INTERMEDIATE", "SENIOR")
#: Vulnerable groups that make a case a hardship file (困难群体).
HARDSHIP_GROUPS: Final[tuple[str, ...]] = ("LOW_INCOME", "SPECIAL_HARDSHIP")
#: Evaluation outcomes that count as passed.
PASSING_OUTCOMES: Final[tuple[str, ...]] = ("EXCELLENT", "PASS")
#: The service area of safety-net services (兜底服务).
SAFETY_NET_AREA: Final = "SOCIAL_ASSISTANCE"

#: Counts of activities, not of people or their cases: small values identify nobody, so they are
#: published as they are (suppression protects counts of clients, cases, visits, workers, volunteers,
#: beneficiaries and person-times).
PUBLIC_COUNTS: Final[frozenset[str]] = frozenset(
    {
        "stations_with_cases",
        "services",
        "service_projects",
        "donations_count",
        *(f"donations_count_{c}" for c in CURRENCIES),
        "evaluations",
        "projects_evaluated",
        "projects_rated_excellent",
        "trainings",
        "fundings",
        "projects_funded",
        *(f"projects_funded_{p}" for p in PROGRAMMES),
    }
)

REPORTING: Final = "reporting"
"""The unit of amounts in the reporting currency (the report names the currency)."""

_CENT: Final = Decimal("0.01")


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it means, its unit, and how it behaves in suppression and aggregation."""

    name: str
    unit: str
    description: str
    kind: Kind
    over_time: OverTime
    basis: tuple[str, ...] = ()
    """Counts this value is computed from (amounts, ratios), or that it nearly adds up (a distinct count
    over several parts): when one of them is suppressed, so is this value."""
    part_of: str | None = None
    """The indicator this one is an exact part of (the total is the sum of its parts)."""
    places: int = 0
    """Decimal places the value is rounded to (half-even)."""
    group: str = ""

    @property
    def family(self) -> Family:
        """How suppression treats it: counts of people or their cases are ``count`` (protected);
        counts of activities (projects, trainings, donations, evaluations) are ``public``."""
        if self.kind == "count" and self.name in PUBLIC_COUNTS:
            return "public"
        return self.kind

    @property
    def additive(self) -> bool:
        """Whether a region's value is the sum of its districts' (counts and amounts)."""
        return self.kind != "ratio"


def _define() -> tuple[Indicator, ...]:
    out: list[Indicator] = []

    def add(
        name: str,
        unit: str,
        description: str,
        kind: Kind = "count",
        over_time: OverTime = "sum",
        *,
        basis: tuple[str, ...] = (),
        part_of: str | None = None,
        places: int = 0,
        group: str,
    ) -> None:
        out.append(Indicator(name, unit, description, kind, over_time, basis, part_of, places, group))

    g = "cases"
    add("cases_opened", "cases", "Cases opened in the period (CaseOpened).", group=g)
    add(
        "cases_opened_hardship",
        "cases",
        "Cases opened in the period whose vulnerable groups include LOW_INCOME or SPECIAL_HARDSHIP "
        "(hardship files, 困难群体建档).",
        group=g,
    )
    add(
        "cases_closed",
        "cases",
        "Cases closed in the period: closings of opened cases, not older than the opening "
        "(a closing whose opening has not arrived counts once it does).",
        group=g,
    )
    add(
        "cases_open",
        "cases",
        "Cases open at the end of the period: opened on or before its last day and not closed on or before it.",
        over_time="end",
        group=g,
    )
    add(
        "stations_with_cases",
        "stations",
        "Distinct social-work stations at which a case was opened in the period.",
        over_time="distinct",
        group=g,
    )
    g = "visits"
    add("visits", "visits", "Visits made in the period (VisitMade).", group=g)
    add("home_visits", "visits", "Home visits (visit_type HOME) made in the period.", group=g)
    add(
        "visits_per_open_case",
        "visits per case",
        "visits / cases_open: visits in the period per case open at its end.",
        "ratio",
        "ratio",
        basis=("visits", "cases_open"),
        places=2,
        group=g,
    )
    g = "services"
    add("services", "services", "Service deliveries recorded in the period (ServiceDelivered).", group=g)
    add("service_person_times", "person-times", "Person-times served by service deliveries in the period.", group=g)
    add(
        f"service_person_times_{SAFETY_NET_AREA}",
        "person-times",
        "Person-times of safety-net services (service_area SOCIAL_ASSISTANCE, 兜底服务) in the period.",
        group=g,
    )
    add(
        "service_projects",
        "projects",
        "Distinct projects named by the service deliveries of the period.",
        over_time="distinct",
        group=g,
    )
    add(
        "volunteer_participations",
        "person-times",
        "Volunteer participations: the volunteer_count of visits plus that of service deliveries.",
        group=g,
    )
    g = "donations"
    add("donations_count", "donations", "Donations received in the period (DonationReceived).", group=g)
    for cur in CURRENCIES:
        add(
            f"donations_count_{cur}",
            "donations",
            f"Donations received in {cur}.",
            part_of="donations_count",
            group=g,
        )
    for cur in CURRENCIES:
        add(
            f"donations_amount_{cur}",
            cur,
            f"Sum of the donations received in {cur}, in {cur} (not converted).",
            "amount",
            basis=(f"donations_count_{cur}",),
            places=2,
            group=g,
        )
    add(
        "donations_amount_reporting",
        REPORTING,
        "Sum of all donations in the reporting currency, each converted at the rate in force on its local date.",
        "amount",
        basis=("donations_count",),
        places=2,
        group=g,
    )
    add(
        "donation_beneficiaries",
        "people",
        "Beneficiaries recorded on donations (a null counts as 0).",
        group=g,
    )
    g = "evaluations"
    add("evaluations", "evaluations", "Project evaluations in the period (ProjectEvaluated).", group=g)
    add(
        "projects_evaluated",
        "projects",
        "Distinct projects evaluated in the period.",
        over_time="distinct",
        group=g,
    )
    add(
        "projects_rated_excellent",
        "projects",
        "Distinct projects with an EXCELLENT evaluation in the period.",
        over_time="distinct",
        group=g,
    )
    add(
        "evaluation_pass_rate",
        "share",
        "Evaluations with outcome EXCELLENT or PASS / evaluations (0..1).",
        "ratio",
        "ratio",
        basis=("evaluations",),
        places=4,
        group=g,
    )
    add(
        "evaluation_mean_overall_score",
        "score",
        "Mean score_overall of the evaluations (0..100).",
        "ratio",
        "ratio",
        basis=("evaluations",),
        places=2,
        group=g,
    )
    add("evaluation_beneficiaries", "people", "Beneficiaries reported by the evaluations.", group=g)
    g = "training"
    add("trainings", "trainings", "Trainings held in the period (TrainingHeld).", group=g)
    add("training_person_times", "person-times", "Participants of the trainings (person-times).", group=g)
    g = "certifications"
    for level in LEVELS:
        add(
            f"certifications_{level}",
            "workers",
            f"Workers first certified at level {level} in the period.",
            part_of="certifications_total",
            group=g,
        )
    add(
        "certifications_total",
        "certifications",
        "Certifications in the period: one per worker and level (the first), all levels.",
        group=g,
    )
    add(
        "licensed_social_workers",
        "workers",
        "Distinct workers certified in the period at a licensed level (ASSISTANT, JUNIOR, INTERMEDIATE, SENIOR).",
        over_time="distinct",
        basis=tuple(f"certifications_{level}" for level in LICENSED_LEVELS),
        group=g,
    )
    g = "funding"
    by_programme = tuple(f"projects_funded_{p}" for p in PROGRAMMES)
    add("fundings", "grants", "Grants in the period (ProjectFunded events).", basis=by_programme, group=g)
    add(
        "projects_funded",
        "projects",
        "Distinct projects funded in the period.",
        over_time="distinct",
        basis=by_programme,
        group=g,
    )
    for prog in PROGRAMMES:
        add(
            f"projects_funded_{prog}",
            "projects",
            f"Distinct projects funded through programme {prog} in the period.",
            over_time="distinct",
            group=g,
        )
    add(
        "funding_amount_reporting",
        REPORTING,
        "Sum of the grants in the reporting currency.",
        "amount",
        basis=("fundings",),
        places=2,
        group=g,
    )
    for prog in PROGRAMMES:
        add(
            f"funding_amount_reporting_{prog}",
            REPORTING,
            f"Sum of the grants of programme {prog} in the reporting currency.",
            "amount",
            basis=(f"projects_funded_{prog}",),
            part_of="funding_amount_reporting",
            places=2,
            group=g,
        )
    g = "volunteers"
    add("volunteers_registered", "volunteers", "Volunteers registered in the period (the first registration).", group=g)
    return tuple(out)


INDICATORS: Final[tuple[Indicator, ...]] = _define()
BY_NAME: Final[dict[str, Indicator]] = {i.name: i for i in INDICATORS}
NAMES: Final[tuple[str, ...]] = tuple(BY_NAME)


def indicator(name: str) -> Indicator:
    """The indicator called ``name``; ValidationError on the field ``indicator`` if there is none."""
    found = BY_NAME.get(name)
    if found is None:
        raise ValidationError([("indicator", f"unknown indicator {name!r}; known: {', '.join(NAMES)}")])
    return found


def parts_of(total: str) -> tuple[str, ...]:
    """The indicators that sum exactly to ``total`` (empty if it has none)."""
    return tuple(i.name for i in INDICATORS if i.part_of == total)


# -- measures: what SQL returns ------------------------------------------------------------------------
#: Raw measures per (zone, region, district, period): sums and counts SQL computes, all district-additive.
MEASURES: Final[tuple[str, ...]] = (
    "cases_opened",
    "cases_opened_hardship",
    "cases_closed",
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
    "donation_beneficiaries",
    "evaluations",
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
_MEASURE_SET: Final = frozenset(MEASURES)
#: Measures that count distinct things: a quarter's or year's value is not the sum of its months'.
TIME_DISTINCT_MEASURES: Final = frozenset(
    {
        "stations_with_cases",
        "service_projects",
        "projects_evaluated",
        "projects_rated_excellent",
        "licensed_social_workers",
        "projects_funded",
        *(f"projects_funded_{p}" for p in PROGRAMMES),
    }
)


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


@dataclass(frozen=True)
class IndicatorValue:
    """One row of the long-form ``indicators`` table."""

    zone: str
    region: str
    district: str
    period_kind: PeriodKind
    period: str
    indicator: str
    value: Decimal


# -- periods ------------------------------------------------------------------------------------------------
def months_of_year(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


def quarter_of_month(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def last_month_of(kind: PeriodKind, period: str) -> str:
    """The last month of a period (for stocks such as cases_open)."""
    if kind == "month":
        return period
    if kind == "quarter":
        return f"{period[:4]}-{int(period[-1]) * 3:02d}"
    return f"{period}-12"


def period_universe(years: Iterable[int]) -> dict[PeriodKind, list[str]]:
    """Every month, quarter and year of the years from the smallest to the largest of ``years``."""
    found = sorted(set(years))
    if not found:
        return {kind: [] for kind in PERIOD_KINDS}
    span = range(found[0], found[-1] + 1)
    return {
        "month": [m for y in span for m in months_of_year(y)],
        "quarter": [f"{y:04d}-Q{q}" for y in span for q in range(1, 5)],
        "year": [f"{y:04d}" for y in span],
    }


def year_of_period(period: str) -> int:
    return int(period[:4])


# -- the computation ------------------------------------------------------------------------------------
def compute(rows: Iterable[MeasureRow]) -> list[IndicatorValue]:
    """Every non-zero indicator value of every district, region and zone in every period the rows span.

    ``rows`` are the measures of districts (never ``*``): every measure per month, and the distinct
    counts (:data:`TIME_DISTINCT_MEASURES`) also per quarter and year; the other measures of a quarter
    or year are the sums of its months. The periods materialised are every month, quarter and year of
    the years from the first to the last that holds a measure, so that a stock (cases_open) has a value
    at the end of every period, also of periods without events. Values are exact (Decimal) and
    rounded half-even to each indicator's places.
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
                bucket[("quarter", quarter_of_month(row.period))][name] += amount
                bucket[("year", row.period[:4])][name] += amount
        years[place.zone].add(year_of_period(row.period))

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
    # Cases open at each month end: everything opened so far minus everything closed so far.
    open_at: dict[str, Decimal] = {}
    running = Decimal(0)
    for month in universe["month"]:
        m = measured.get(("month", month), {})
        running += m.get("cases_opened", Decimal(0)) - m.get("cases_closed", Decimal(0))
        open_at[month] = running
    for kind in PERIOD_KINDS:
        for period in universe[kind]:
            m = measured.get((kind, period), {})
            values = _from_measures(m)
            values["cases_open"] = open_at[last_month_of(kind, period)]
            values.update(_ratios(values))
            out[(kind, period)] = values
    return out


def _from_measures(m: Mapping[str, Decimal]) -> dict[str, Decimal]:
    def get(name: str) -> Decimal:
        return m.get(name, Decimal(0))

    values: dict[str, Decimal] = {}
    for name in (
        "cases_opened",
        "cases_opened_hardship",
        "cases_closed",
        "stations_with_cases",
        "visits",
        "home_visits",
        "services",
        "service_person_times",
        f"service_person_times_{SAFETY_NET_AREA}",
        "service_projects",
        "donation_beneficiaries",
        "evaluations",
        "projects_evaluated",
        "projects_rated_excellent",
        "evaluation_beneficiaries",
        "trainings",
        "training_person_times",
        "licensed_social_workers",
        "fundings",
        "projects_funded",
        "volunteers_registered",
        *(f"donations_count_{c}" for c in CURRENCIES),
        *(f"certifications_{level}" for level in LEVELS),
        *(f"projects_funded_{p}" for p in PROGRAMMES),
    ):
        values[name] = get(name)
    for cur in CURRENCIES:
        values[f"donations_amount_{cur}"] = _cents(get(f"donations_amount_{cur}"))
    for prog in PROGRAMMES:
        values[f"funding_amount_reporting_{prog}"] = _cents(get(f"funding_amount_reporting_{prog}"))
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
        out["evaluation_pass_rate"] = _round(values.get("_evaluations_passed", Decimal(0)) / evaluations, 4)
        out["evaluation_mean_overall_score"] = _round(values.get("_evaluation_score_sum", Decimal(0)) / evaluations, 2)
    cases_open = values.get("cases_open", Decimal(0))
    if cases_open:
        out["visits_per_open_case"] = _round(values.get("visits", Decimal(0)) / cases_open, 2)
    return out


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)
