"""Builders of the demo events every district shares: a case with its visits and closure, an evaluation,
a service, a training, a certification, a funding, a volunteer; and the tables of values they draw from.

Pure; each builder draws from the :class:`~demo.generators.section.Section` it is given, in a fixed
order, so the stream stays byte-identical for a seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from demo.generators.section import Event, Section
from demo.sampling import money, pick

_SERVICE_AREA_BIRTH: Final[dict[str, tuple[int, int]]] = {
    "ELDERLY": (60, 95),
    "CHILD_WELFARE": (3, 16),
    "YOUTH": (13, 24),
}
_RISK: Final = (("LOW", 45), ("MEDIUM", 35), ("HIGH", 15), ("CRISIS", 3), ("UNKNOWN", 2))
_CLOSE_OUTCOMES: Final = (
    ("GOAL_MET", 55),
    ("REFERRED", 20),
    ("CLIENT_WITHDREW", 14),
    ("CLIENT_DECEASED", 4),
    ("OTHER", 7),
)
_VISIT_MINUTES: Final[dict[str, tuple[int, int]]] = {
    "HOME": (30, 120),
    "PHONE": (5, 30),
    "OFFICE": (20, 90),
    "OUTREACH": (20, 120),
    "ONLINE": (10, 45),
}
_NOTES_SC: Final[dict[str, str]] = {
    "HOME": "入户走访{name}，了解居住和身体状况，{follow}。",
    "PHONE": "电话回访{name}，{follow}。",
    "OFFICE": "{name}到社工站面谈，{follow}。",
    "OUTREACH": "外展中与{name}见面，{follow}。",
    "ONLINE": "与{name}视频沟通，{follow}。",
}
_FOLLOW_SC: Final = (
    "协助申请临时救助",
    "链接志愿者定期陪伴",
    "更新服务计划",
    "跟进医疗报销",
    "提醒按时服药",
    "协调社区长者饭堂送餐",
    "转介心理咨询",
    "核对低保材料",
)
_NOTES_TC: Final[dict[str, str]] = {
    "HOME": "家訪{name}，了解居住及健康狀況，{follow}。",
    "PHONE": "電話跟進{name}，{follow}。",
    "OFFICE": "{name}到中心面談，{follow}。",
    "OUTREACH": "外展時與{name}會面，{follow}。",
    "ONLINE": "與{name}視像通話，{follow}。",
}
_FOLLOW_TC: Final = ("協助申請援助", "安排義工探訪", "更新服務計劃", "跟進覆診安排", "轉介輔導服務", "安排送飯服務")


@dataclass
class CasePlan:
    case_id: str
    service_area: str
    groups: list[str]
    station: str | None
    worker: str
    referral: str
    visit_types: list[str] = field(default_factory=list)
    closed: bool = False


def case_events(s: Section, plan: CasePlan) -> Iterator[Event]:
    """CaseOpened, its visits and maybe CaseClosed, in time order."""
    rng, cal, people = s.rng, s.cal, s.people
    low, high = _SERVICE_AREA_BIRTH.get(plan.service_area, (18, 75))
    birth_year = cal.year - rng.randint(low, high)
    gender = people.gender()
    name = people.name()
    open_day = s.day(0, cal.last_day - 40)
    yield s.event(
        "CaseOpened",
        cal.at(rng, open_day),
        plan.station,
        {
            "case_id": plan.case_id,
            "service_area": plan.service_area,
            "risk_level": pick(rng, _RISK),
            "client_id": people.client_id(plan.case_id.split("-")[0]),
            "client_name": name,
            "client_id_number": people.id_number(birth_year, gender),
            "client_phone": people.phone(),
            "client_birth_year": birth_year,
            "client_gender": gender,
            "vulnerable_groups": plan.groups,
            "worker_id": plan.worker,
            "referral_source": plan.referral,
        },
    )
    notes = _NOTES_TC if people.traditional else _NOTES_SC
    follow = _FOLLOW_TC if people.traditional else _FOLLOW_SC
    moments: set[int] = set()
    while len(moments) < len(plan.visit_types):  # distinct minutes: a case's events are strictly ordered
        moments.add(cal.at(rng, s.day(open_day + 1, cal.last_day - 3)))
    visits = sorted(moments)
    for minute, visit_type in zip(visits, plan.visit_types, strict=True):
        lo, hi = _VISIT_MINUTES[visit_type]
        yield s.event(
            "VisitMade",
            minute,
            plan.station,
            {
                "visit_id": s.next_visit_id(plan.case_id.split("-")[0]),
                "case_id": plan.case_id,
                "worker_id": plan.worker,
                "visit_type": visit_type,
                "duration_minutes": rng.randint(lo, hi),
                "volunteer_count": rng.choice((0, 0, 0, 1, 1, 2, 3)) if visit_type in ("HOME", "OUTREACH") else 0,
                "notes": notes[visit_type].format(name=name, follow=rng.choice(follow)),
            },
        )
    if plan.closed:
        after = (visits[-1] // 1440 if visits else open_day) + 1
        yield s.event(
            "CaseClosed",
            cal.at(rng, s.day(after)),
            plan.station,
            {"case_id": plan.case_id, "outcome": pick(rng, _CLOSE_OUTCOMES), "worker_id": plan.worker},
        )


_OUTCOME_SCORES: Final[dict[str, tuple[int, int]]] = {
    "EXCELLENT": (90, 98),
    "PASS": (70, 89),
    "NEEDS_IMPROVEMENT": (60, 69),
    "FAIL": (40, 59),
}


def project_evaluated(
    s: Section,
    evaluation_id: str,
    project_id: str,
    project_name: str,
    service_area: str,
    evaluators: list[str],
    outcome: str,
    beneficiaries: int,
) -> Event:
    rng, cal = s.rng, s.cal
    lo, hi = _OUTCOME_SCORES[outcome]
    overall = rng.randint(lo, hi)

    def near() -> int:
        return max(0, min(100, overall + rng.randint(-6, 6)))

    return s.event(
        "ProjectEvaluated",
        cal.at(rng, s.day(cal.day_of(10, 1))),
        None,
        {
            "evaluation_id": evaluation_id,
            "project_id": project_id,
            "project_name": project_name,
            "service_area": service_area,
            "period_start": cal.iso_date(rng.randint(0, 30)),
            "period_end": cal.iso_date(cal.day_of(9, 30)),
            "evaluator_ids": evaluators,
            "score_professional": near(),
            "score_effectiveness": near(),
            "score_financial": near(),
            "score_overall": overall,
            "outcome": outcome,
            "beneficiaries": beneficiaries,
        },
    )


def service_delivered(
    s: Section, service_id: str, area: str, project_id: str | None, person_times: int, station: str | None
) -> Event:
    rng = s.rng
    return s.event(
        "ServiceDelivered",
        s.cal.at(rng, s.day()),
        station,
        {
            "service_id": service_id,
            "service_area": area,
            "project_id": project_id,
            "person_times": person_times,
            "volunteer_count": rng.randint(0, 8),
        },
    )


def training_held(s: Section, training_id: str, topic: str, participants: int, station: str | None) -> Event:
    rng = s.rng
    return s.event(
        "TrainingHeld",
        s.cal.at(rng, s.day(), 9, 15),
        station,
        {
            "training_id": training_id,
            "topic": topic,
            "participants": participants,
            "hours": rng.choice((2, 3, 4, 6, 8, 16)),
        },
    )


def worker_certified(s: Section, worker_id: str, level: str) -> Event:
    return s.event("WorkerCertified", s.cal.at(s.rng, s.day()), None, {"worker_id": worker_id, "level": level})


def project_funded(
    s: Section, project_id: str, name: str, programme: str, cents: int, day_range: tuple[int, int]
) -> Event:
    return s.event(
        "ProjectFunded",
        s.cal.at(s.rng, s.day(*day_range)),
        None,
        {
            "project_id": project_id,
            "project_name": name,
            "programme": programme,
            "amount": money(cents),
            "currency": s.currency,
        },
    )


def donation_received(
    s: Section,
    minute: int,
    donation_id: str,
    cents: int,
    donor_type: str,
    donor_name: str,
    project_id: str | None,
    beneficiaries: int | None,
) -> Event:
    """A donation in the district's currency; the caller draws ``minute`` first, then the donor and project."""
    return s.event(
        "DonationReceived",
        minute,
        None,
        {
            "donation_id": donation_id,
            "amount": money(cents),
            "currency": s.currency,
            "donor_type": donor_type,
            "donor_name": donor_name,
            "project_id": project_id,
            "beneficiaries": beneficiaries,
        },
    )


def volunteer_registered(s: Section, volunteer_id: str) -> Event:
    return s.event(
        "VolunteerRegistered",
        s.cal.at(s.rng, s.day(), 7, 23),
        None,
        {"volunteer_id": volunteer_id, "volunteer_name": s.people.name()},
    )


THEMES: Final[dict[str, str]] = {
    "ELDERLY": "长者关爱",
    "COMMUNITY_BUILDING": "社区营造",
    "DRUG_REHAB": "禁毒宣教",
    "SOCIAL_ASSISTANCE": "困难群众帮扶",
    "CORRECTION_SUPPORT": "社区矫正帮扶",
    "CHILD_WELFARE": "儿童关爱",
    "COMMUNITY_GOVERNANCE": "基层治理",
    "SOCIAL_AFFAIRS": "社会事务",
    "SAFETY": "平安建设",
    "FAMILY": "家庭支持",
    "YOUTH": "青少年成长",
    "DISABILITY": "助残服务",
}
TRAINING_TOPICS: Final = (
    "个案管理实务",
    "小组工作方法",
    "社区工作与五社联动",
    "社会工作伦理",
    "督导技巧",
    "禁毒社会工作实务",
    "长者服务与照护",
    "社会救助政策解读",
    "项目设计与评估",
    "危机干预",
)


__all__ = [
    "THEMES",
    "TRAINING_TOPICS",
    "CasePlan",
    "case_events",
    "donation_received",
    "project_evaluated",
    "project_funded",
    "service_delivered",
    "training_held",
    "volunteer_registered",
    "worker_certified",
]
