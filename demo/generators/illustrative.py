"""The illustrative districts (Hong Kong, Macao, Guangzhou Tianhe, Zhuhai Xiangzhou): no source figures,
so a small, fixed amount of invented data per district, every record marked as :mod:`hub.provenance`
says (cases referred by ``ILLUSTRATIVE_REFERRAL``, project names ending with ``ILLUSTRATIVE_MARK``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from demo.calendar import Calendar
from demo.generators.records import (
    TRAINING_TOPICS,
    CasePlan,
    case_events,
    donation_received,
    project_evaluated,
    project_funded,
    service_delivered,
    training_held,
    volunteer_registered,
    worker_certified,
)
from demo.generators.section import Event, Section
from demo.sampling import pick, split
from hub.orgunits import District
from hub.provenance import ILLUSTRATIVE_MARK, ILLUSTRATIVE_REFERRAL

# -- sizes per district (seed-independent) ----------
ILL_CASES: Final = 60
ILL_VISITS: Final = 150
ILL_CLOSED: Final = 20
ILL_DONATIONS: Final = 30
ILL_SERVICES: Final = 40
ILL_PROJECTS: Final = 6
ILL_FUNDED: Final = 3
ILL_TRAININGS: Final = 4
ILL_VOLUNTEERS: Final = 40
ILL_CERTIFIED_GD: Final = 10

_ILL_PREFIX: Final[dict[str, str]] = {
    "guangzhou-tianhe": "GZTH",
    "zhuhai-xiangzhou": "ZHXZ",
    "hk-sham-shui-po": "HKSSP",
    "hk-kwun-tong": "HKKT",
    "hk-tuen-mun": "HKTM",
    "hk-sha-tin": "HKST",
    "mo-fatima": "MOFAT",
    "mo-sao-lourenco": "MOSL",
    "mo-taipa": "MOTAI",
}
_ILL_AREAS: Final = (
    ("ELDERLY", 30),
    ("FAMILY", 20),
    ("YOUTH", 15),
    ("CHILD_WELFARE", 10),
    ("DISABILITY", 10),
    ("SOCIAL_ASSISTANCE", 10),
    ("MEDICAL", 5),
)
_ILL_PROJECTS_SC: Final = (
    "长者关怀计划",
    "家庭支援计划",
    "青少年成长计划",
    "社区互助网络",
    "残障共融计划",
    "照顾者喘息服务",
)
_ILL_PROJECTS_TC: Final = (
    "長者關懷計劃",
    "家庭支援計劃",
    "青少年成長計劃",
    "社區互助網絡",
    "殘障共融計劃",
    "照顧者喘息服務",
)
_ILL_DONORS_SC: Final = ("示例企业有限公司", "示例慈善基金会", "示例商户")
_ILL_DONORS_TC: Final = ("示例企業有限公司", "示例慈善基金會", "示例商戶")


def events(seed: int, cal: Calendar, district: District) -> Iterator[Event]:
    s = Section(seed, cal, district)
    rng = s.rng
    prefix = _ILL_PREFIX[district.code]
    workers = s.ids(f"{prefix}-SW-", 12, 4)
    per_case = iter(split(rng, ILL_VISITS, ILL_CASES, 1, what="visits"))
    closed = set(rng.sample(range(ILL_CASES), ILL_CLOSED))
    for i in range(ILL_CASES):
        area = pick(rng, _ILL_AREAS)
        groups: list[str] = []
        if rng.random() < 0.4:
            groups = [rng.choice(("ELDERLY_ALONE", "LOW_INCOME", "DISABILITY", "OTHER"))]
        visit_types = [
            pick(rng, (("HOME", 50), ("PHONE", 25), ("OFFICE", 15), ("ONLINE", 10))) for _ in range(next(per_case))
        ]
        yield from case_events(
            s,
            CasePlan(
                case_id=f"{prefix}-{cal.year}-{i + 1:05d}",
                service_area=area,
                groups=groups,
                station=None,
                worker=rng.choice(workers),
                referral=ILLUSTRATIVE_REFERRAL,
                visit_types=visit_types,
                closed=i in closed,
            ),
        )
    names = _ILL_PROJECTS_TC if s.people.traditional else _ILL_PROJECTS_SC
    projects = [(f"{prefix}-PRJ-{i + 1:02d}", names[i % len(names)] + ILLUSTRATIVE_MARK) for i in range(ILL_PROJECTS)]
    project_area = {pid: pick(rng, _ILL_AREAS) for pid, _ in projects}
    for pid, name in projects[:ILL_FUNDED]:
        programme = rng.choice(("GOVERNMENT_PURCHASE", "CHARITY"))
        yield project_funded(s, pid, name, programme, rng.randint(200, 1500) * 100_000, (0, cal.day_of(4, 30)))
    experts = s.ids(f"{prefix}-EXP-", 6, 3)
    for i, (pid, name) in enumerate(projects, start=1):
        outcome = pick(rng, (("EXCELLENT", 25), ("PASS", 65), ("NEEDS_IMPROVEMENT", 10)))
        yield project_evaluated(
            s,
            f"{prefix}-EVA-{cal.year}-{i:03d}",
            pid,
            name,
            project_area[pid],
            rng.sample(experts, 3),
            outcome,
            rng.randint(50, 800),
        )
    for k in range(1, ILL_SERVICES + 1):
        pid, _ = rng.choice(projects)
        yield service_delivered(s, f"{prefix}-SVC-{cal.year}-{k:04d}", project_area[pid], pid, rng.randint(5, 60), None)
    donors = _ILL_DONORS_TC if s.people.traditional else _ILL_DONORS_SC
    for k in range(1, ILL_DONATIONS + 1):
        kind = pick(rng, (("INDIVIDUAL", 60), ("ENTERPRISE", 20), ("FOUNDATION", 10), ("MERCHANT", 10)))
        donor = s.people.name() if kind == "INDIVIDUAL" else donors[(k + len(kind)) % len(donors)]
        cents = (rng.randint(1, 50) * 100 if kind == "INDIVIDUAL" else rng.randint(5, 200) * 1000) * 100
        yield donation_received(
            s,
            cal.at(rng, s.day()),
            f"{prefix}-DON-{cal.year}-{k:04d}",
            cents,
            kind,
            donor,
            rng.choice(projects)[0] if kind != "INDIVIDUAL" else None,
            rng.randint(5, 200) if kind != "INDIVIDUAL" else None,
        )
    for k in range(1, ILL_TRAININGS + 1):
        yield training_held(
            s, f"{prefix}-TRN-{cal.year}-{k:02d}", rng.choice(TRAINING_TOPICS), rng.randint(15, 60), None
        )
    if district.region == "GD":
        for worker in rng.sample(workers, ILL_CERTIFIED_GD):
            yield worker_certified(s, worker, rng.choice(("ASSISTANT", "INTERMEDIATE")))
    for vid in s.ids(f"{prefix}-VOL-", ILL_VOLUNTEERS, 6):
        yield volunteer_registered(s, vid)


def planned_counts(district: District) -> dict[str, int]:
    """Events per type that :func:`events` makes for ``district`` (the same for every seed and year)."""
    counts = {
        "CaseOpened": ILL_CASES,
        "VisitMade": ILL_VISITS,
        "CaseClosed": ILL_CLOSED,
        "ProjectFunded": ILL_FUNDED,
        "ProjectEvaluated": ILL_PROJECTS,
        "ServiceDelivered": ILL_SERVICES,
        "DonationReceived": ILL_DONATIONS,
        "TrainingHeld": ILL_TRAININGS,
        "VolunteerRegistered": ILL_VOLUNTEERS,
    }
    if district.region == "GD":
        counts["WorkerCertified"] = ILL_CERTIFIED_GD
    return counts


__all__ = ["events", "planned_counts"]
