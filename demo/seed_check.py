"""Which indicator carries each seed fact, and a check of a report against them (pure).

The demo prints this check; ``tests/test_report.py`` asserts it on the whole
demo stream. Expected values come from ``demo.coverage.fact_coverage()``,
i.e. from the shipped ``seed-facts.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from demo.coverage import FactCoverage, fact_coverage
from demo.districts import JINJIANG, NANSHAN, TINGHU
from projections.report import Report

#: (district, seed metric) -> the indicator of the zone report that reproduces it.
FACT_INDICATOR: Final[dict[tuple[str, str], str]] = {
    (TINGHU, "featured_projects"): "projects_funded_GOVERNMENT_PURCHASE",
    (TINGHU, "service_projects_cumulative"): "service_projects",
    (TINGHU, "people_served_person_times"): "service_person_times",
    (TINGHU, "venture_philanthropy_investment"): "funding_amount_reporting_VENTURE_PHILANTHROPY",
    (TINGHU, "venture_philanthropy_projects"): "projects_funded_VENTURE_PHILANTHROPY",
    (TINGHU, "venture_philanthropy_beneficiaries"): "evaluation_beneficiaries",
    (TINGHU, "licensed_social_workers"): "licensed_social_workers",
    (TINGHU, "registered_volunteers"): "volunteers_registered",
    (TINGHU, "training_person_times"): "training_person_times",
    (TINGHU, "generalist_certificates"): "certifications_GENERALIST",
    (TINGHU, "charity_donations_last_year"): "donations_amount_CNY",
    (TINGHU, "charity_beneficiaries_last_year"): "donation_beneficiaries",
    (NANSHAN, "training_person_times_3y"): "training_person_times",
    (NANSHAN, "senior_social_workers_trained"): "certifications_SENIOR",
    (NANSHAN, "intermediate_social_workers_trained"): "certifications_INTERMEDIATE",
    (NANSHAN, "project_library_projects"): "projects_evaluated",
    (NANSHAN, "street_stations"): "stations_with_cases",
    (NANSHAN, "hardship_case_files"): "cases_opened_hardship",
    (NANSHAN, "home_visits"): "home_visits",
    (NANSHAN, "safety_net_services"): "service_person_times_SOCIAL_ASSISTANCE",
    (JINJIANG, "junior_supervisors_selected"): "certifications_SUPERVISOR",
    (JINJIANG, "supervisor_assistants_selected"): "certifications_OTHER",
    (JINJIANG, "micro_projects_since_2023"): "projects_funded_MICRO_PROJECT",
    (JINJIANG, "micro_projects_funding"): "funding_amount_reporting_MICRO_PROJECT",
    (JINJIANG, "quality_projects_selected"): "projects_rated_excellent",
}

#: Carried facts no indicator holds, and why.
NOT_IN_REPORTS: Final[dict[tuple[str, str], str]] = {
    (NANSHAN, "expert_pool"): "distinct evaluators: the evaluations table keeps only each panel's size, not its refs",
}

#: The districts whose seed facts each zone's report must reproduce.
ZONE_DISTRICTS: Final[dict[str, tuple[str, ...]]] = {"gba": (NANSHAN,), "mainland": (NANSHAN, TINGHU, JINJIANG)}


def carried_facts() -> list[FactCoverage]:
    return [f for f in fact_coverage() if f.carried]


@dataclass(frozen=True)
class FactCheck:
    fact: FactCoverage
    indicator: str
    value: Decimal | None  # what the projection holds
    shown: str  # what the (suppressed) report publishes

    @property
    def ok(self) -> bool:
        return self.value == Decimal(self.fact.value)


def check_report(report: Report, zone: str) -> list[FactCheck]:
    """One check per seed fact of the zone's districts that an indicator carries."""
    out: list[FactCheck] = []
    for fact in carried_facts():
        key = (fact.district, fact.metric)
        if fact.district not in ZONE_DISTRICTS.get(zone, ()) or key not in FACT_INDICATOR:
            continue
        name = FACT_INDICATOR[key]
        region = next((r.region for r in report.rows if r.district == fact.district), None)
        if region is None:
            out.append(FactCheck(fact, name, None, "-"))
            continue
        cell = report.row(region, fact.district).cells[name]
        out.append(FactCheck(fact, name, cell.value, cell.shown(report.policy)))
    return out
