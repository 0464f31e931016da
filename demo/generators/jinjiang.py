"""Jinjiang: micro-project funding (民生微实事), project evaluations with the selected quality projects,
and the junior supervisors and supervisor assistants.

Every carried figure of ``seed-facts.json`` for Jinjiang is exact; PASS and NEEDS_IMPROVEMENT
evaluations are synthetic detail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from demo.calendar import Calendar
from demo.generators.records import THEMES, project_evaluated, project_funded, worker_certified
from demo.generators.section import Event, Section
from demo.sampling import split_money
from demo.seedfacts import DistrictFacts
from hub.orgunits import District

# -- sizes of the synthetic detail around the figures (seed-independent) ----------
JJ_EVALUATED_PROJECTS: Final = 40
JJ_NEEDS_IMPROVEMENT: Final = 4
JJ_EXPERTS: Final = 10

_JJ_TOWNS: Final = (
    "青阳街道",
    "梅岭街道",
    "西园街道",
    "罗山街道",
    "灵源街道",
    "新塘街道",
    "池店镇",
    "安海镇",
    "磁灶镇",
    "内坑镇",
    "紫帽镇",
    "东石镇",
    "永和镇",
    "英林镇",
    "金井镇",
    "龙湖镇",
    "深沪镇",
    "西滨镇",
)
_JJ_MICRO_THEMES: Final = ("长者助餐点", "儿童托管", "社区微更新", "邻里互助", "健康义诊", "文化活动室", "残疾人康复")
_JJ_NAMED_AREAS: Final[dict[str, str]] = {"白兰花家庭驿站": "FAMILY", "儿童之家四点钟学校": "CHILD_WELFARE"}


def events(seed: int, cal: Calendar, facts: DistrictFacts, district: District) -> Iterator[Event]:
    s = Section(seed, cal, district)
    rng = s.rng
    n_micro = facts.value("micro_projects_since_2023")
    amounts = split_money(rng, facts.value("micro_projects_funding") * 100, n_micro, what="CNY")
    for i, cents in enumerate(amounts, start=1):
        name = f"民生微实事-{i:03d}·{rng.choice(_JJ_TOWNS)}{rng.choice(_JJ_MICRO_THEMES)}"
        yield project_funded(s, f"JJ-MS-{i:03d}", name, "MICRO_PROJECT", cents, (0, cal.day_of(9, 30)))

    excellent = facts.value("quality_projects_selected")
    named = list(facts.named_projects)
    outcomes = ["EXCELLENT"] * excellent + ["NEEDS_IMPROVEMENT"] * JJ_NEEDS_IMPROVEMENT
    outcomes += ["PASS"] * (JJ_EVALUATED_PROJECTS - len(outcomes))
    order = list(range(JJ_EVALUATED_PROJECTS))
    rng.shuffle(order)
    experts = s.ids("JJ-EXP-", JJ_EXPERTS, 3)
    for i in range(JJ_EVALUATED_PROJECTS):
        outcome = outcomes[order[i]]
        rank = order[i]  # the named projects take the first excellent slots
        if outcome == "EXCELLENT" and rank < len(named):
            name = named[rank]
            area = _JJ_NAMED_AREAS.get(name, "COMMUNITY_BUILDING")
        else:
            area = rng.choice(("ELDERLY", "CHILD_WELFARE", "FAMILY", "DISABILITY", "COMMUNITY_BUILDING", "YOUTH"))
            name = f"晋江社工服务项目-{i + 1:02d}·{THEMES[area]}"
        yield project_evaluated(
            s,
            f"JJ-EVA-{cal.year}-{i + 1:03d}",
            f"JJ-PRJ-{i + 1:03d}",
            name,
            area,
            rng.sample(experts, 3),
            outcome,
            rng.randint(100, 3000),
        )

    workers = s.ids(
        "JJ-SW-", facts.value("junior_supervisors_selected") + facts.value("supervisor_assistants_selected"), 4
    )
    supervisors = facts.value("junior_supervisors_selected")
    for k, worker in enumerate(workers):
        yield worker_certified(s, worker, "SUPERVISOR" if k < supervisors else "OTHER")


def planned_counts(facts: DistrictFacts) -> dict[str, int]:
    """Events per type that :func:`events` makes from these facts (the same for every seed and year)."""
    return {
        "ProjectFunded": facts.value("micro_projects_since_2023"),
        "ProjectEvaluated": JJ_EVALUATED_PROJECTS,
        "WorkerCertified": facts.value("junior_supervisors_selected") + facts.value("supervisor_assistants_selected"),
    }


__all__ = ["events", "planned_counts"]
