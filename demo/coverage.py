"""Which events reproduce which seed figure: the coverage map of ``seed-facts.json``.

:func:`fact_coverage` gives, fact by fact and in file order, the event type,
measure (``distinct`` or ``sum``), field and filter whose result over the demo
stream equals the figure, or the reason no event can carry it. The generators
(:mod:`demo.generators`) are built to make every carried fact exact;
``tests/test_demo_data.py`` recomputes them from the written JSON and
:mod:`demo.seed_check` compares them with the report.

Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from demo.districts import JINJIANG, NANSHAN, TINGHU
from demo.seedfacts import SeedFacts, seed_facts
from hub.errors import ConfigError


@dataclass(frozen=True)
class FieldIn:
    """The event's scalar ``field`` is one of ``values``."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ContainsAny:
    """The event's array ``field`` holds at least one of ``values``."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class JoinsTo:
    """The event's ``field`` equals that field of some ``event_type`` event of the same district meeting ``where``."""

    field: str
    event_type: str
    where: tuple[FieldIn | ContainsAny, ...]


Condition = FieldIn | ContainsAny | JoinsTo
Measure = Literal["distinct", "sum"]


@dataclass(frozen=True)
class FactCoverage:
    """How one seed fact is reproduced by the demo stream, or why it is not.

    When ``event_type`` is set: take the events of ``event_type`` in
    ``district`` that meet every condition of ``where``; ``distinct`` counts the
    distinct values of ``field`` (array items counted one by one), ``sum`` adds
    ``field`` (amounts as decimals, a null as 0). The result equals ``value``.
    In the shared (de-identified) form an identifier ``x_id`` is ``x_ref``;
    pseudonyms are stable per agreement, so distinct counts and joins survive.
    """

    district: str
    metric: str
    zh: str
    value: int
    unit: str
    approx: bool
    event_type: str | None = None
    measure: Measure | None = None
    field: str | None = None
    where: tuple[Condition, ...] = ()
    note: str = ""

    @property
    def carried(self) -> bool:
        """True if events reproduce this fact."""
        return self.event_type is not None


@dataclass(frozen=True)
class _Carrier:
    event_type: str
    measure: Measure
    field: str
    where: tuple[Condition, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class _NotCarried:
    reason: str


_HARDSHIP_GROUPS: Final = ("SPECIAL_HARDSHIP", "LOW_INCOME")
_HARDSHIP_CASE: Final = ContainsAny("vulnerable_groups", _HARDSHIP_GROUPS)
_CNY: Final = FieldIn("currency", ("CNY",))
_LICENSED_LEVELS: Final = ("ASSISTANT", "JUNIOR", "INTERMEDIATE", "SENIOR")
_IN_DEMO_YEAR: Final = "The cumulative figure is placed in the demo year."

_MAPPING: Final[dict[tuple[str, str], _Carrier | _NotCarried]] = {
    # -- Yancheng Tinghu -------------------------------------------------------
    (TINGHU, "social_work_stations_coverage_pct"): _NotCarried(
        "A share of towns/streets with a station; org-units lists no Tinghu stations and no event carries coverage."
    ),
    (TINGHU, "incubation_centre_area_m2"): _NotCarried("Floor area of a building; no event type describes premises."),
    (TINGHU, "featured_projects"): _Carrier(
        "ProjectFunded",
        "distinct",
        "project_id",
        (FieldIn("programme", ("GOVERNMENT_PURCHASE",)),),
        "No field marks a project as featured (特色): the demo funds exactly the 13 featured projects through "
        "GOVERNMENT_PURCHASE (the six named ones plus 特色项目-07..13); their amounts are synthetic, not a figure. "
        "They are also among the 418 service projects.",
    ),
    (TINGHU, "service_projects_cumulative"): _Carrier(
        "ServiceDelivered", "distinct", "project_id", (), "Every Tinghu service names its project. " + _IN_DEMO_YEAR
    ),
    (TINGHU, "people_served_person_times"): _Carrier("ServiceDelivered", "sum", "person_times"),
    (TINGHU, "venture_philanthropy_investment"): _Carrier(
        "ProjectFunded", "sum", "amount", (FieldIn("programme", ("VENTURE_PHILANTHROPY",)), _CNY), _IN_DEMO_YEAR
    ),
    (TINGHU, "venture_philanthropy_projects"): _Carrier(
        "ProjectFunded",
        "distinct",
        "project_id",
        (FieldIn("programme", ("VENTURE_PHILANTHROPY",)),),
        "The 28 venture-philanthropy projects are among the 418 service projects.",
    ),
    (TINGHU, "venture_philanthropy_beneficiaries"): _Carrier(
        "ProjectEvaluated",
        "sum",
        "beneficiaries",
        (JoinsTo("project_id", "ProjectFunded", (FieldIn("programme", ("VENTURE_PHILANTHROPY",)),)),),
        "One evaluation per venture-philanthropy project; Tinghu evaluates no other project, "
        "so the plain district sum is the same figure.",
    ),
    (TINGHU, "licensed_social_workers"): _Carrier(
        "WorkerCertified",
        "distinct",
        "worker_id",
        (FieldIn("level", _LICENSED_LEVELS),),
        "ASSISTANT (助理社会工作师), INTERMEDIATE (社会工作师) and SENIOR (高级社会工作师); "
        "the 100 generalist certificates are extra workers, not part of the 700.",
    ),
    (TINGHU, "registered_volunteers"): _Carrier("VolunteerRegistered", "distinct", "volunteer_id"),
    (TINGHU, "training_person_times"): _Carrier("TrainingHeld", "sum", "participants", (), _IN_DEMO_YEAR),
    (TINGHU, "generalist_certificates"): _Carrier(
        "WorkerCertified",
        "distinct",
        "worker_id",
        (FieldIn("level", ("GENERALIST",)),),
        "Community workers (社区工作者) with the 全科社工 certificate, separate from the licensed social workers.",
    ),
    (TINGHU, "charity_donations_last_year"): _Carrier(
        "DonationReceived",
        "sum",
        "amount",
        (_CNY,),
        "All Tinghu donations are those the charity federation (慈善总会) received; DonationReceived has no "
        "recipient field. 'Last year' is placed in the demo year.",
    ),
    (TINGHU, "charity_beneficiaries_last_year"): _Carrier(
        "DonationReceived",
        "sum",
        "beneficiaries",
        (),
        "Recorded on enterprise, merchant, foundation and other organisational donations; individual ones carry null.",
    ),
    # -- Shenzhen Nanshan ------------------------------------------------------
    (NANSHAN, "seminar_attendees"): _NotCarried(
        "A one-off seminar; no event type records conferences, and TrainingHeld would inflate the training figure."
    ),
    (NANSHAN, "housing_subsidy_units"): _NotCarried(
        "Talent-housing subsidies for workers; no event type carries them."
    ),
    (NANSHAN, "housing_subsidy_value"): _NotCarried(
        "A housing subsidy, not project funding; as ProjectFunded it would inflate funding reports."
    ),
    (NANSHAN, "training_person_times_3y"): _Carrier(
        "TrainingHeld", "sum", "participants", (), "A three-year figure, placed in the demo year."
    ),
    (NANSHAN, "senior_social_workers_trained"): _Carrier(
        "WorkerCertified", "distinct", "worker_id", (FieldIn("level", ("SENIOR",)),)
    ),
    (NANSHAN, "intermediate_social_workers_trained"): _Carrier(
        "WorkerCertified", "distinct", "worker_id", (FieldIn("level", ("INTERMEDIATE",)),)
    ),
    (NANSHAN, "expert_pool"): _Carrier(
        "ProjectEvaluated",
        "distinct",
        "evaluator_ids",
        (),
        "Every one of the 46 experts sits on at least one evaluation panel.",
    ),
    (NANSHAN, "project_library_units"): _NotCarried(
        "Counts organisations; no event names the organisation that runs a project."
    ),
    (NANSHAN, "project_library_projects"): _Carrier(
        "ProjectEvaluated",
        "distinct",
        "project_id",
        (),
        "One evaluation per library project (evaluation coverage 100%); the three named projects are among them.",
    ),
    (NANSHAN, "evaluation_and_audit_coverage_pct"): _NotCarried(
        "A percentage, and financial audits are not events; every library project does get a ProjectEvaluated."
    ),
    (NANSHAN, "service_fields"): _NotCarried(
        "A count of service fields, not of events; ServiceArea has 15 symbols (with OTHER), so 16 cannot be expressed."
    ),
    (NANSHAN, "cases_collected"): _NotCarried(
        "A casebook of written-up service cases, not case files; CaseOpened counts the hardship files instead."
    ),
    (NANSHAN, "street_stations"): _Carrier(
        "CaseOpened",
        "distinct",
        "station",
        (),
        "The eight street stations of org-units.json; every one of them opens cases.",
    ),
    (NANSHAN, "community_points"): _NotCarried(
        "org-units.json lists no community-point codes, so events cannot name the 100 points."
    ),
    (NANSHAN, "hardship_case_files"): _Carrier(
        "CaseOpened",
        "distinct",
        "case_id",
        (_HARDSHIP_CASE,),
        "Hardship (困难群体) = vulnerable_groups holds SPECIAL_HARDSHIP or LOW_INCOME; "
        "other Nanshan cases hold neither.",
    ),
    (NANSHAN, "home_visits"): _Carrier(
        "VisitMade",
        "distinct",
        "visit_id",
        (FieldIn("visit_type", ("HOME",)), JoinsTo("case_id", "CaseOpened", (_HARDSHIP_CASE,))),
        "Every Nanshan HOME visit is to a hardship case, so the plain HOME count is the same figure; "
        "other visit types do not count.",
    ),
    (NANSHAN, "safety_net_services"): _Carrier(
        "ServiceDelivered",
        "sum",
        "person_times",
        (FieldIn("service_area", ("SOCIAL_ASSISTANCE",)),),
        "兜底服务 = SOCIAL_ASSISTANCE services; other Nanshan services use other areas.",
    ),
    (NANSHAN, "station_coverage_pct"): _NotCarried("A percentage of stations and points; not an event."),
    # -- Jinjiang --------------------------------------------------------------
    (JINJIANG, "junior_supervisors_selected"): _Carrier(
        "WorkerCertified", "distinct", "worker_id", (FieldIn("level", ("SUPERVISOR",)),), "初级督导 = SUPERVISOR."
    ),
    (JINJIANG, "supervisor_assistants_selected"): _Carrier(
        "WorkerCertified",
        "distinct",
        "worker_id",
        (FieldIn("level", ("OTHER",)),),
        "督导助理 is a local supervisory-track title, not the national 助理社会工作师 (ASSISTANT), so OTHER.",
    ),
    (JINJIANG, "star_social_workers"): _NotCarried(
        "A star rating, not a certification level; WorkerCertified.level has no rating and OTHER already "
        "holds the supervisor assistants."
    ),
    (JINJIANG, "star_supervisors"): _NotCarried("A star rating of supervisors; no event field carries a rating."),
    (JINJIANG, "micro_projects_since_2023"): _Carrier(
        "ProjectFunded", "distinct", "project_id", (FieldIn("programme", ("MICRO_PROJECT",)),), _IN_DEMO_YEAR
    ),
    (JINJIANG, "micro_projects_funding"): _Carrier(
        "ProjectFunded",
        "sum",
        "amount",
        (FieldIn("programme", ("MICRO_PROJECT",)), _CNY),
        "Expected allocation (预计下拨), recorded as funding.",
    ),
    (JINJIANG, "quality_projects_selected"): _Carrier(
        "ProjectEvaluated",
        "distinct",
        "project_id",
        (FieldIn("outcome", ("EXCELLENT",)),),
        "Both named projects are among the 12; the other evaluated projects are PASS or NEEDS_IMPROVEMENT.",
    ),
    (JINJIANG, "excellent_cases_compiled"): _NotCarried("A casebook of written-up cases; no event type carries it."),
}


def fact_coverage(facts: SeedFacts | None = None) -> list[FactCoverage]:
    """One entry per seed fact, in file order: its carrier (event type, measure, filter) or the reason there is none."""
    facts = facts or seed_facts()
    out: list[FactCoverage] = []
    for fact in facts.all_facts():
        spec = _MAPPING.get((fact.district, fact.metric))
        if spec is None:
            raise ConfigError(f"demo data: seed fact {fact.district}.{fact.metric} has no entry in the coverage table")
        base = FactCoverage(fact.district, fact.metric, fact.zh, fact.value, fact.unit, fact.approx)
        if isinstance(spec, _NotCarried):
            out.append(replace(base, note=spec.reason))
        else:
            out.append(
                replace(
                    base,
                    event_type=spec.event_type,
                    measure=spec.measure,
                    field=spec.field,
                    where=spec.where,
                    note=spec.note,
                )
            )
    return out


__all__ = ["Condition", "ContainsAny", "FactCoverage", "FieldIn", "JoinsTo", "Measure", "fact_coverage"]
