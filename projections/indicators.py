"""The indicator catalogue: every indicator the hub reports, what it means, its unit and how it aggregates.

Pure data and lookups, no I/O. The catalogue is the one list the computation
(:mod:`projections.indicator_computation`), the SQL adapter
(:mod:`projections.indicator_store`), suppression
(:mod:`projections.period_suppression`) and the report
(:mod:`projections.report`) read: an indicator added here is computed, stored,
protected and shown everywhere.

Why region and zone values are sums of district values, even for "distinct"
indicators: the hub's ids (projects, workers, stations) are district-scoped
(``docs/reports.md``), so the same id in two districts names two things, and a
distinct count over a region is the sum of its districts' distinct counts.

A total may be split into exact parts more than one way (:attr:`Indicator.split`):
donations by currency and by donor type, evaluations by outcome, certifications by
level, funding by programme. The parts of each split sum to the total
(:func:`splits`). The donor types, outcomes, levels and programmes are the
symbols of the event schemas' enums, so every fact falls in one part
(``tests/test_indicators.py`` checks the constants against the schemas).

Over time it is different (:attr:`Indicator.over_time`). A flow (cases opened,
visits) of a year is the sum of its quarters and months; a stock (cases open
at the end of the period) of a year is its December value; a distinct count
(projects evaluated) is not derivable from its parts and is counted per period
by SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from hub.errors import ValidationError
from hub.reporting_time import PeriodKind

#: ``indicators.region`` / ``indicators.district`` value meaning "all".
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
#: Kinds of donor (the ``DonorType`` enum of DonationReceived.donor_type): donations are broken down by them.
DONOR_TYPES: Final[tuple[str, ...]] = (
    "ENTERPRISE",
    "MERCHANT",
    "INDIVIDUAL",
    "CHARITY_FEDERATION",
    "FOUNDATION",
    "GOVERNMENT",
    "OTHER",
)
#: Evaluation verdicts (the ``EvaluationOutcome`` enum of ProjectEvaluated.outcome), best first.
OUTCOMES: Final[tuple[str, ...]] = ("EXCELLENT", "PASS", "NEEDS_IMPROVEMENT", "FAIL")
#: Evaluation outcomes that count as passed.
PASSING_OUTCOMES: Final[tuple[str, ...]] = ("EXCELLENT", "PASS")
#: The service area of safety-net services (兜底服务).
SAFETY_NET_AREA: Final = "SOCIAL_ASSISTANCE"

REPORTING: Final = "reporting"
"""The unit of amounts in the reporting currency (the report names the currency)."""


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it means, its unit, and how it aggregates over places and time.

    How suppression treats it (a count of people or of activities) is :mod:`projections.people_counts`.
    """

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
    split: str = ""
    """Which split of :attr:`part_of` this part belongs to: a total may be split more than one way
    (donations by currency and by donor type), and the parts of each split sum to it on their own."""

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
        split: str = "",
    ) -> None:
        out.append(Indicator(name, unit, description, kind, over_time, basis, part_of, places, group, split))

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
            split="currency",
        )
    for donor in DONOR_TYPES:
        add(
            f"donations_count_{donor}",
            "donations",
            f"Donations received from donors of type {donor}.",
            part_of="donations_count",
            group=g,
            split="donor_type",
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
    for donor in DONOR_TYPES:
        add(
            f"donations_amount_reporting_{donor}",
            REPORTING,
            f"Sum of the donations from donors of type {donor} in the reporting currency, each converted at "
            "the rate in force on its local date.",
            "amount",
            basis=(f"donations_count_{donor}",),
            part_of="donations_amount_reporting",
            places=2,
            group=g,
            split="donor_type",
        )
    add(
        "donation_beneficiaries",
        "people",
        "Beneficiaries recorded on donations (a null counts as 0).",
        group=g,
    )
    g = "evaluations"
    add("evaluations", "evaluations", "Project evaluations in the period (ProjectEvaluated).", group=g)
    for outcome in OUTCOMES:
        add(
            f"evaluations_{outcome}",
            "evaluations",
            f"Project evaluations with outcome {outcome} in the period.",
            part_of="evaluations",
            group=g,
            split="outcome",
        )
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
            split="level",
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
            split="programme",
        )
    g = "volunteers"
    add("volunteers_registered", "volunteers", "Volunteers registered in the period (the first registration).", group=g)
    g = "data_quality"
    add(
        "closures_set_aside",
        "closings",
        "Closings in the period dated before their case's opening: left out of cases_closed, the case "
        "taken as opened again after that closing (it stays open until a later closing arrives).",
        group=g,
    )
    add(
        "closures_awaiting_opening",
        "closings",
        "Closings in the period whose case's opening has not arrived: left out of cases_closed until it does.",
        group=g,
    )
    add(
        "cases_open_reopened",
        "cases",
        "Of cases_open: the cases whose closing is dated before their opening (see closures_set_aside).",
        over_time="end",
        group=g,
    )
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


def splits(total: str) -> dict[str, tuple[str, ...]]:
    """Every split of ``total`` into parts that sum exactly to it, by :attr:`Indicator.split`, in catalogue order.

    ``donations_count`` has two (by currency and by donor type); a total without parts has none.
    """
    out: dict[str, tuple[str, ...]] = {}
    for i in INDICATORS:
        if i.part_of == total:
            out[i.split] = (*out.get(i.split, ()), i.name)
    return out


def parts_of(total: str, split: str | None = None) -> tuple[str, ...]:
    """The indicators of one split of ``total``, which sum exactly to it (empty if it has none).

    ``split`` names the split (:attr:`Indicator.split`); without it, the total's first split in
    catalogue order (currencies for ``donations_count``). For every equation a total takes part in,
    use :func:`splits`.
    """
    found = splits(total)
    if split is None:
        return next(iter(found.values()), ())
    return found.get(split, ())


@dataclass(frozen=True)
class IndicatorValue:
    """The value of one indicator at one place and period: one row of the long-form ``indicators`` table."""

    zone: str
    region: str
    district: str
    period_kind: PeriodKind
    period: str
    indicator: str
    value: Decimal
