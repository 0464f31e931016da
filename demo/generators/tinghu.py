"""Yancheng Tinghu: the 418 service projects and their services, featured and venture-philanthropy
funding, evaluations, licensed social workers and generalist certificates, training, the charity
federation's donations and the registered volunteers.

Every carried figure of ``seed-facts.json`` for Tinghu is exact; featured-project amounts are synthetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from demo.calendar import Calendar
from demo.generators.records import (
    TRAINING_TOPICS,
    donation_received,
    project_evaluated,
    project_funded,
    service_delivered,
    training_held,
    volunteer_registered,
    worker_certified,
)
from demo.generators.section import Event, Section
from demo.sampling import pick, split, split_money
from demo.seedfacts import DistrictFacts
from hub.orgunits import District

# -- sizes of the synthetic detail around the figures (seed-independent) ----------
TH_SERVICE_EVENTS: Final = 1300
TH_TRAININGS: Final = 36
TH_EXPERTS: Final = 12
TH_DONATIONS: Final[tuple[tuple[str, int, int], ...]] = (
    # donor_type, donations, share of the total in per mille
    ("ENTERPRISE", 64, 450),
    ("MERCHANT", 236, 230),
    ("FOUNDATION", 9, 140),
    ("OTHER", 11, 30),
    ("INDIVIDUAL", 880, 150),
)
TH_LICENSED_LEVELS: Final[tuple[tuple[str, int], ...]] = (("SENIOR", 20), ("INTERMEDIATE", 270))
"""Per mille of the licensed social workers at these levels; the rest are ASSISTANT (助理社会工作师)."""

_TH_NAMED_AREAS: Final[dict[str, str]] = {
    "五星赋能": "COMMUNITY_GOVERNANCE",
    "助人先锋": "SOCIAL_AFFAIRS",
    "共享助老行": "ELDERLY",
    "共建幸福仓": "SOCIAL_ASSISTANCE",
    "爱在宝瓶": "CHILD_WELFARE",
    "同行护未来": "CHILD_WELFARE",
}
_TH_COMPANY_WORDS: Final = (
    "宏远",
    "恒通",
    "鑫源",
    "盛达",
    "新宇",
    "永泰",
    "汇丰源",
    "中天",
    "通达",
    "瑞祥",
    "金海",
    "九洲",
)
_TH_COMPANY_KINDS: Final = ("机械", "纺织", "建设", "新能源", "电子", "食品", "物流", "环保科技", "汽车配件", "置业")
_TH_SHOPS: Final = ("超市", "药房", "餐馆", "五金店", "服装店", "茶庄", "面包坊", "水果店", "粮油店", "眼镜店")
_TH_FOUNDATIONS: Final = ("江苏某公益基金会", "盐城市扶贫基金会", "亭湖区教育发展基金会", "苏北乡村振兴基金会")
_TH_OTHER_DONORS: Final = ("盐城市亭湖区商会", "亭湖区个体劳动者协会", "盐城市青年企业家协会", "亭湖区律师协会")


def events(seed: int, cal: Calendar, facts: DistrictFacts, district: District) -> Iterator[Event]:
    s = Section(seed, cal, district)
    rng = s.rng
    n_projects = facts.value("service_projects_cumulative")
    n_featured = facts.value("featured_projects")
    n_vp = facts.value("venture_philanthropy_projects")
    projects = [f"TH-PRJ-{i:04d}" for i in range(1, n_projects + 1)]
    chosen = rng.sample(projects, n_featured + n_vp)
    featured, venture = chosen[:n_featured], chosen[n_featured:]
    names = list(facts.named_projects)[:n_featured]
    names += [f"特色项目-{k:02d}" for k in range(len(names) + 1, n_featured + 1)]
    areas = list(facts.service_areas)
    area_of = {p: rng.choice(areas) for p in projects}
    for pid, name in zip(featured, names, strict=True):
        area_of[pid] = _TH_NAMED_AREAS.get(name, area_of[pid])

    # funding: the featured projects (government purchase, synthetic amounts) and venture philanthropy (figures)
    for pid, name in zip(featured, names, strict=True):
        yield project_funded(
            s, pid, name, "GOVERNMENT_PURCHASE", rng.randint(80, 300) * 100_000, (0, cal.day_of(3, 31))
        )
    vp_total = facts.value("venture_philanthropy_investment") * 100
    vp_names = [f"公益创投-{k:02d}" for k in range(1, n_vp + 1)]
    for pid, name, cents in zip(venture, vp_names, split_money(rng, vp_total, n_vp, what="CNY"), strict=True):
        yield project_funded(s, pid, name, "VENTURE_PHILANTHROPY", cents, (cal.day_of(2, 1), cal.day_of(5, 31)))

    # services of all 418 projects
    per_project = split(rng, TH_SERVICE_EVENTS, n_projects, 1, what="services")
    person_times = iter(
        split(rng, facts.value("people_served_person_times"), TH_SERVICE_EVENTS, 1, what="person-times")
    )
    k = 0
    for pid, n in zip(projects, per_project, strict=True):
        for _ in range(n):
            k += 1
            yield service_delivered(s, f"TH-SVC-{cal.year}-{k:05d}", area_of[pid], pid, next(person_times), None)

    # evaluations of the venture-philanthropy projects
    experts = s.ids("TH-EXP-", TH_EXPERTS, 3)
    beneficiaries = split(rng, facts.value("venture_philanthropy_beneficiaries"), n_vp, 100, what="beneficiaries")
    for i, (pid, name, people) in enumerate(zip(venture, vp_names, beneficiaries, strict=True), start=1):
        outcome = pick(rng, (("EXCELLENT", 30), ("PASS", 65), ("NEEDS_IMPROVEMENT", 5)))
        yield project_evaluated(
            s, f"TH-EVA-{cal.year}-{i:03d}", pid, name, area_of[pid], rng.sample(experts, 3), outcome, people
        )

    # workers: licensed social workers and the generalist certificates (extra people)
    licensed = facts.value("licensed_social_workers")
    levels: list[str] = []
    for level, per_mille in TH_LICENSED_LEVELS:
        levels += [level] * (licensed * per_mille // 1000)
    levels += ["ASSISTANT"] * (licensed - len(levels))
    rng.shuffle(levels)
    for worker, level in zip(s.ids("TH-SW-", licensed, 5), levels, strict=True):
        yield worker_certified(s, worker, level)
    for worker in s.ids("TH-CW-", facts.value("generalist_certificates"), 5):
        yield worker_certified(s, worker, "GENERALIST")

    # training
    for k, n in enumerate(split(rng, facts.value("training_person_times"), TH_TRAININGS, 20), start=1):
        yield training_held(s, f"TH-TRN-{cal.year}-{k:03d}", rng.choice(TRAINING_TOPICS), n, None)

    # charity federation donations
    total = facts.value("charity_donations_last_year") * 100
    budgets = [total * share // 1000 for _, _, share in TH_DONATIONS]
    budgets[0] += total - sum(budgets)
    organisational = sum(n for kind, n, _ in TH_DONATIONS if kind != "INDIVIDUAL")
    reach = iter(split(rng, facts.value("charity_beneficiaries_last_year"), organisational, 1, what="beneficiaries"))
    k = 0
    for (kind, n, _), budget in zip(TH_DONATIONS, budgets, strict=True):
        for cents in split_money(rng, budget, n, skew=2, what=f"CNY from {kind}"):
            k += 1
            yield donation_received(
                s,
                cal.at(rng, s.day()),
                f"TH-DON-{cal.year}-{k:05d}",
                cents,
                kind,
                _tinghu_donor(s, kind),
                rng.choice(featured) if kind != "INDIVIDUAL" and rng.random() < 0.4 else None,
                None if kind == "INDIVIDUAL" else next(reach),
            )

    # registered volunteers
    for vid in s.ids("TH-VOL-", facts.value("registered_volunteers"), 7):
        yield volunteer_registered(s, vid)


def _tinghu_donor(s: Section, kind: str) -> str:
    rng = s.rng
    if kind == "INDIVIDUAL":
        return s.people.name()
    if kind == "ENTERPRISE":
        return f"盐城{rng.choice(_TH_COMPANY_WORDS)}{rng.choice(_TH_COMPANY_KINDS)}有限公司"
    if kind == "MERCHANT":
        return f"亭湖{rng.choice(_TH_COMPANY_WORDS)}{rng.choice(_TH_SHOPS)}"
    if kind == "FOUNDATION":
        return rng.choice(_TH_FOUNDATIONS)
    return rng.choice(_TH_OTHER_DONORS)


def planned_counts(facts: DistrictFacts) -> dict[str, int]:
    """Events per type that :func:`events` makes from these facts (the same for every seed and year)."""
    return {
        "ProjectFunded": facts.value("featured_projects") + facts.value("venture_philanthropy_projects"),
        "ServiceDelivered": TH_SERVICE_EVENTS,
        "ProjectEvaluated": facts.value("venture_philanthropy_projects"),
        "WorkerCertified": facts.value("licensed_social_workers") + facts.value("generalist_certificates"),
        "TrainingHeld": TH_TRAININGS,
        "DonationReceived": sum(n for _, n, _ in TH_DONATIONS),
        "VolunteerRegistered": facts.value("registered_volunteers"),
    }


__all__ = ["events", "planned_counts"]
