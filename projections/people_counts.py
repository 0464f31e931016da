"""Which counts are counts of people, protected by suppression, and which count activities, published as they are.

Pure policy, no I/O. Suppression (:mod:`projections.suppression`) protects
small counts of clients, cases, visits, workers, volunteers, beneficiaries and
person-times: a "2" of them can point at someone. A count of activities
(projects, trainings, donations, evaluations, grants) identifies nobody, so a
small one is published as it is and is never withheld to protect another
figure. This module is the one place that draws that line;
:func:`suppression_family` is what the suppression pattern of a period
(:mod:`projections.period_suppression`) asks of every indicator.
"""

from __future__ import annotations

from typing import Final

from projections.indicators import CURRENCIES, DONOR_TYPES, OUTCOMES, PROGRAMMES, Indicator
from projections.suppression import Family

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
        *(f"donations_count_{t}" for t in DONOR_TYPES),
        "evaluations",
        *(f"evaluations_{o}" for o in OUTCOMES),
        "projects_evaluated",
        "projects_rated_excellent",
        "trainings",
        "fundings",
        "projects_funded",
        *(f"projects_funded_{p}" for p in PROGRAMMES),
    }
)


def suppression_family(spec: Indicator) -> Family:
    """How suppression treats ``spec``: counts of people or their cases are ``count`` (protected);
    counts of activities (:data:`PUBLIC_COUNTS`) are ``public``; amounts and ratios are themselves."""
    if spec.kind == "count" and spec.name in PUBLIC_COUNTS:
        return "public"
    return spec.kind


__all__ = ["PUBLIC_COUNTS", "suppression_family"]
