"""Shenzhen Nanshan: hardship case files and their home visits over the eight street stations, the project
library and its evaluations, safety-net services, training and certification.

Every carried figure of ``seed-facts.json`` for Nanshan is exact; the detail around them (other cases,
non-HOME visits, closures, other services) has the seed-independent sizes below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from demo.calendar import Calendar
from demo.generators.records import (
    THEMES,
    TRAINING_TOPICS,
    CasePlan,
    case_events,
    project_evaluated,
    service_delivered,
    training_held,
    worker_certified,
)
from demo.generators.section import Event, Section
from demo.sampling import pick, split, spread
from demo.seedfacts import DistrictFacts
from hub.errors import ConfigError
from hub.orgunits import District

# -- sizes of the synthetic detail around the figures (seed-independent) ----------
NS_OTHER_CASES: Final = 455
"""Nanshan cases outside the hardship files (drug rehab, correction support, ...): no HOME visits."""
NS_HARDSHIP_OTHER_VISITS: Final = 1800
"""Phone / outreach / office visits to hardship cases, beside the HOME visits."""
NS_OTHER_CASE_VISITS: Final = 1400
NS_CLOSED_CASES: Final = 1250
NS_WORKERS: Final = 420
NS_SAFETY_NET_SERVICES: Final = 2400
NS_OTHER_SERVICES: Final = 600
NS_TRAININGS: Final = 480
NS_EVALUATORS_PER_PANEL: Final = 3

_REFERRALS_SC: Final = (
    ("社区居委会", 30),
    ("街道办", 20),
    ("网格员排查", 20),
    ("本人求助", 15),
    ("12345热线", 8),
    ("医院转介", 7),
)
_NS_HARDSHIP_AREAS: Final = (
    ("SOCIAL_ASSISTANCE", 50),
    ("ELDERLY", 30),
    ("DISABILITY", 10),
    ("FAMILY", 6),
    ("CHILD_WELFARE", 4),
)
_NS_OTHER_AREAS: Final = (("DRUG_REHAB", 30), ("CORRECTION_SUPPORT", 30), ("COMMUNITY_BUILDING", 25), ("YOUTH", 15))
_NS_NAMED_AREAS: Final[dict[str, str]] = {
    "优秀社区党委书记培养工作室": "COMMUNITY_BUILDING",
    "家有好邻-邻里互助计划": "COMMUNITY_BUILDING",
    "暖心相伴，从爱出发—社区高龄长者服务项目": "ELDERLY",
}


def events(seed: int, cal: Calendar, facts: DistrictFacts, district: District) -> Iterator[Event]:
    s = Section(seed, cal, district)
    rng = s.rng
    stations = district.stations
    if not stations:
        raise ConfigError(f"demo data: org-units lists no stations for {district.code}")
    hardship = facts.value("hardship_case_files")
    workers = s.ids("NS-SW-", NS_WORKERS, 4)
    team = {st: workers[i :: len(stations)] for i, st in enumerate(stations)}

    # cases, their visits and closures
    n_cases = hardship + NS_OTHER_CASES
    is_hardship = [True] * hardship + [False] * NS_OTHER_CASES
    rng.shuffle(is_hardship)
    case_stations = spread(rng, stations, n_cases)
    home = iter(split(rng, facts.value("home_visits"), hardship, 1, what="home visits"))
    extra_hardship = iter(split(rng, NS_HARDSHIP_OTHER_VISITS, hardship, 0, what="visits"))
    extra_other = iter(split(rng, NS_OTHER_CASE_VISITS, NS_OTHER_CASES, 1, what="visits"))
    closed = set(rng.sample(range(n_cases), NS_CLOSED_CASES))
    for i in range(n_cases):
        station = case_stations[i]
        if is_hardship[i]:
            area = pick(rng, _NS_HARDSHIP_AREAS)
            groups = [pick(rng, (("LOW_INCOME", 55), ("SPECIAL_HARDSHIP", 30), ("BOTH", 15)))]
            if groups == ["BOTH"]:
                groups = ["LOW_INCOME", "SPECIAL_HARDSHIP"]
            if area == "ELDERLY" and rng.random() < 0.5:
                groups.append("ELDERLY_ALONE")
            if area == "DISABILITY":
                groups.append("DISABILITY")
            visit_types = ["HOME"] * next(home) + [
                rng.choice(("PHONE", "PHONE", "OUTREACH", "OFFICE")) for _ in range(next(extra_hardship))
            ]
        else:
            area = pick(rng, _NS_OTHER_AREAS)
            groups = []
            visit_types = [rng.choice(("PHONE", "OFFICE", "OUTREACH", "ONLINE")) for _ in range(next(extra_other))]
        rng.shuffle(visit_types)
        yield from case_events(
            s,
            CasePlan(
                case_id=f"NS-{cal.year}-{i + 1:06d}",
                service_area=area,
                groups=groups,
                station=station,
                worker=rng.choice(team[station]),
                referral=pick(rng, _REFERRALS_SC),
                visit_types=visit_types,
                closed=i in closed,
            ),
        )

    # project library: one evaluation per project
    n_projects = facts.value("project_library_projects")
    named = list(facts.named_projects)
    areas = list(facts.service_areas)
    library: list[tuple[str, str, str]] = []
    named_at = dict(zip(rng.sample(range(n_projects), len(named)), named, strict=True))
    for i in range(n_projects):
        pid = f"NS-PRJ-{i + 1:03d}"
        if i in named_at:
            name = named_at[i]
            area = _NS_NAMED_AREAS.get(name, rng.choice(areas))
        else:
            area = rng.choice(areas)
            name = f"南山项目库-{i + 1:03d}·{THEMES.get(area, '社会工作')}"
        library.append((pid, name, area))
    experts = s.ids("NS-EXP-", facts.value("expert_pool"), 3)
    panel_order = list(range(n_projects))
    rng.shuffle(panel_order)
    outcomes = [pick(rng, (("EXCELLENT", 25), ("PASS", 64), ("NEEDS_IMPROVEMENT", 9), ("FAIL", 2))) for _ in library]
    for rank, i in enumerate(panel_order):
        pid, name, area = library[i]
        panel = rng.sample(experts, NS_EVALUATORS_PER_PANEL)
        if rank < len(experts) and experts[rank] not in panel:
            panel[0] = experts[rank]  # every expert sits on at least one panel
        yield project_evaluated(
            s, f"NS-EVA-{cal.year}-{i + 1:04d}", pid, name, area, panel, outcomes[i], rng.randint(80, 3000)
        )

    # services: the safety net (SOCIAL_ASSISTANCE) and other library services
    person_times = split(rng, facts.value("safety_net_services"), NS_SAFETY_NET_SERVICES, 1, what="person-times")
    svc_stations = spread(rng, stations, NS_SAFETY_NET_SERVICES)
    for k, (pt, st) in enumerate(zip(person_times, svc_stations, strict=True), start=1):
        yield service_delivered(s, f"NS-SVC-{cal.year}-{k:06d}", "SOCIAL_ASSISTANCE", None, pt, st)
    others = [p for p in library if p[2] != "SOCIAL_ASSISTANCE"]
    for k in range(NS_SAFETY_NET_SERVICES + 1, NS_SAFETY_NET_SERVICES + NS_OTHER_SERVICES + 1):
        pid, _, area = rng.choice(others)
        yield service_delivered(s, f"NS-SVC-{cal.year}-{k:06d}", area, pid, rng.randint(8, 120), rng.choice(stations))

    # training and certification
    participants = split(rng, facts.value("training_person_times_3y"), NS_TRAININGS, 20, what="participants")
    for k, n in enumerate(participants, start=1):
        where = rng.choice(stations) if rng.random() < 0.5 else None
        yield training_held(s, f"NS-TRN-{cal.year}-{k:04d}", rng.choice(TRAINING_TOPICS), n, where)
    senior = facts.value("senior_social_workers_trained")
    intermediate = facts.value("intermediate_social_workers_trained")
    certified = rng.sample(workers, senior + intermediate)
    for k, worker in enumerate(certified):
        yield worker_certified(s, worker, "SENIOR" if k < senior else "INTERMEDIATE")


def planned_counts(facts: DistrictFacts) -> dict[str, int]:
    """Events per type that :func:`events` makes from these facts (the same for every seed and year)."""
    hardship = facts.value("hardship_case_files")
    return {
        "CaseOpened": hardship + NS_OTHER_CASES,
        "VisitMade": facts.value("home_visits") + NS_HARDSHIP_OTHER_VISITS + NS_OTHER_CASE_VISITS,
        "CaseClosed": NS_CLOSED_CASES,
        "ProjectEvaluated": facts.value("project_library_projects"),
        "ServiceDelivered": NS_SAFETY_NET_SERVICES + NS_OTHER_SERVICES,
        "TrainingHeld": NS_TRAININGS,
        "WorkerCertified": facts.value("senior_social_workers_trained")
        + facts.value("intermediate_social_workers_trained"),
    }


__all__ = ["events", "planned_counts"]
