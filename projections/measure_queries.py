"""The SQL that measures the fact tables: one ``GROUP BY`` per fact table and period kind.

An adapter: it runs read-only ``SELECT ... GROUP BY`` statements on the
connection it is given (inside the caller's transaction, so that a refresh
measures one snapshot) and returns :class:`~projections.measures.MeasureRow`
values; it never writes. The statements group by the precomputed ``month`` /
``quarter`` / ``year`` columns of the fact tables (plain SQL that SQLite and
PostgreSQL both run). Flows are measured per month only (the computation sums
quarters and years); distinct counts (:data:`~projections.measures.TIME_DISTINCT_MEASURES`)
per month, quarter and year. A symbol without an indicator (a currency,
donor type, outcome, level or programme the catalogue does not list) is a
:class:`ProjectionError`, so a split's parts always sum to its total: every row
of a fact table falls in exactly one part. Donations are grouped twice, by
currency and by donor type; the converted amounts of both are sums of the
same per-donation ``amount_reporting`` (converted at the rate of its local
date by the projection rules, :mod:`projections.fx`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, Table, case, distinct, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from hub.errors import ProjectionError
from hub.reporting_time import PERIOD_KINDS, PeriodKind
from projections.indicators import (
    CURRENCIES,
    DONOR_TYPES,
    HARDSHIP_GROUPS,
    LEVELS,
    LICENSED_LEVELS,
    OUTCOMES,
    PASSING_OUTCOMES,
    PROGRAMMES,
    SAFETY_NET_AREA,
)
from projections.measures import TIME_DISTINCT_MEASURES, MeasureRow, Place
from projections.sql_numbers import as_decimal
from projections.tables import tables_for


def _sum_if(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[Any]:
    return func.sum(case((condition, value), else_=0))


def _has_group(column: ColumnElement[Any], symbol: str) -> ColumnElement[bool]:
    # vulnerable_groups is a sorted, comma-joined list: match whole symbols only.
    return (literal(",") + func.coalesce(column, "") + literal(",")).like(f"%,{symbol},%")


@dataclass(frozen=True)
class _Query:
    """One GROUP BY over a fact table: measures named as in :data:`~projections.measures.MEASURES`
    (``{by}`` is the ``by`` value)."""

    table: str
    period: str
    """Period column, ``{kind}`` replaced by month / quarter / year."""
    measures: dict[str, Any]
    where: tuple[Any, ...] = ()
    by: str | None = None
    allowed: tuple[str, ...] = ()


def _queries(t: dict[str, Table]) -> list[_Query]:
    cases, visits, services, donations = t["cases"], t["visits"], t["services"], t["donations"]
    ev, trainings, certs, fundings = t["evaluations"], t["trainings"], t["certifications"], t["fundings"]
    hardship = or_(*(_has_group(cases.c.vulnerable_groups, g) for g in HARDSHIP_GROUPS))
    closed_before_opening = (
        cases.c.closed_ms.is_not(None),
        cases.c.occurred_ms.is_not(None),
        cases.c.closed_ms < cases.c.occurred_ms,
    )
    return [
        _Query(
            "cases",
            "{kind}",
            {
                "cases_opened": func.count(),
                "cases_opened_hardship": _sum_if(hardship),
                "stations_with_cases": func.count(distinct(cases.c.station)),
            },
            (cases.c.occurred_ms.is_not(None),),
        ),
        # A closing counts when its case was opened and it is not older than the opening (as cases.status).
        _Query(
            "cases",
            "closed_{kind}",
            {"cases_closed": func.count()},
            (
                cases.c.closed_ms.is_not(None),
                cases.c.occurred_ms.is_not(None),
                cases.c.closed_ms >= cases.c.occurred_ms,
            ),
        ),
        # What that rule sets aside, counted so that it is never silent (the data-quality indicators):
        # closings older than their opening (in the closing's period; the case counts as opened again, and in
        # the opening's period for the open stock), and closings whose opening has not arrived.
        _Query("cases", "closed_{kind}", {"closures_set_aside": func.count()}, closed_before_opening),
        _Query("cases", "{kind}", {"reopened_cases_opened": func.count()}, closed_before_opening),
        _Query(
            "cases",
            "closed_{kind}",
            {"closures_awaiting_opening": func.count()},
            (cases.c.closed_ms.is_not(None), cases.c.occurred_ms.is_(None)),
        ),
        _Query(
            "visits",
            "{kind}",
            {
                "visits": func.count(),
                "home_visits": _sum_if(visits.c.visit_type == "HOME"),
                "visit_volunteers": func.sum(visits.c.volunteer_count),
            },
        ),
        _Query(
            "services",
            "{kind}",
            {
                "services": func.count(),
                "service_person_times": func.sum(services.c.person_times),
                f"service_person_times_{SAFETY_NET_AREA}": _sum_if(
                    services.c.service_area == SAFETY_NET_AREA, services.c.person_times
                ),
                "service_projects": func.count(distinct(services.c.project_id)),
                "service_volunteers": func.sum(services.c.volunteer_count),
            },
        ),
        _Query(
            "donations",
            "{kind}",
            {
                "donations_count_{by}": func.count(),
                "donations_amount_{by}": func.sum(donations.c.amount),
                "donations_amount_reporting_{by}": func.sum(donations.c.amount_reporting),
                "donation_beneficiaries": func.sum(func.coalesce(donations.c.beneficiaries, 0)),
            },
            by="currency",
            allowed=CURRENCIES,
        ),
        _Query(
            "donations",
            "{kind}",
            {
                "donations_count_{by}": func.count(),
                "donations_amount_reporting_{by}": func.sum(donations.c.amount_reporting),
            },
            by="donor_type",
            allowed=DONOR_TYPES,
        ),
        _Query(
            "evaluations",
            "{kind}",
            {
                "evaluations": func.count(),
                "evaluations_passed": _sum_if(ev.c.outcome.in_(PASSING_OUTCOMES)),
                "evaluation_score_sum": func.sum(ev.c.score_overall),
                "projects_evaluated": func.count(distinct(ev.c.project_id)),
                "projects_rated_excellent": func.count(
                    distinct(case((ev.c.outcome == "EXCELLENT", ev.c.project_id), else_=None))
                ),
                "evaluation_beneficiaries": func.sum(ev.c.beneficiaries),
            },
        ),
        _Query("evaluations", "{kind}", {"evaluations_{by}": func.count()}, by="outcome", allowed=OUTCOMES),
        _Query(
            "trainings",
            "{kind}",
            {"trainings": func.count(), "training_person_times": func.sum(trainings.c.participants)},
        ),
        _Query("certifications", "{kind}", {"certifications_{by}": func.count()}, by="level", allowed=LEVELS),
        _Query(
            "certifications",
            "{kind}",
            {"licensed_social_workers": func.count(distinct(certs.c.worker_ref))},
            (certs.c.level.in_(LICENSED_LEVELS),),
        ),
        _Query(
            "fundings",
            "{kind}",
            {
                "projects_funded_{by}": func.count(distinct(fundings.c.project_id)),
                "funding_amount_reporting_{by}": func.sum(fundings.c.amount_reporting),
            },
            by="programme",
            allowed=PROGRAMMES,
        ),
        _Query(
            "fundings",
            "{kind}",
            {"fundings": func.count(), "projects_funded": func.count(distinct(fundings.c.project_id))},
        ),
        _Query("volunteers", "{kind}", {"volunteers_registered": func.count()}),
    ]


_DISTINCT_TEMPLATES: Final = TIME_DISTINCT_MEASURES | {"projects_funded_{by}"}


def _wanted(name: str, kind: PeriodKind) -> bool:
    # Flows of quarters and years are sums of their months (computed in Python); only distinct counts need SQL.
    return kind == "month" or name in _DISTINCT_TEMPLATES


def measure(conn: Connection, zones: Sequence[str], *, suffix: str = "") -> list[MeasureRow]:
    """Per-district measures of ``zones``: every measure per month, and the distinct counts per quarter and year."""
    tables = tables_for(suffix)
    rows: dict[tuple[str, str, str, PeriodKind, str], dict[str, Decimal]] = {}
    for query in _queries(tables):
        table = tables[query.table]
        for kind in PERIOD_KINDS:
            measures = {name: expr for name, expr in query.measures.items() if _wanted(name, kind)}
            if not measures:
                continue
            period = table.c[query.period.format(kind=kind)]
            keys = [table.c.zone, table.c.region, table.c.district, period]
            by = [table.c[query.by]] if query.by else []
            statement = (
                select(*keys, *by, *(expr.label(f"m{i}") for i, expr in enumerate(measures.values())))
                .where(table.c.zone.in_(list(zones)), *query.where)
                .group_by(*keys, *by)
            )
            for row in conn.execute(statement):
                zone, region, district, period_value = row[0], row[1], row[2], row[3]
                if period_value is None:
                    continue
                symbol = row[4] if query.by else None
                if query.by and symbol not in query.allowed:
                    raise ProjectionError(
                        f"{query.table}.{query.by}: {symbol!r} has no indicator; expected {', '.join(query.allowed)}"
                    )
                slot = rows.setdefault((zone, region, district, kind, period_value), {})
                offset = 5 if query.by else 4
                for i, name in enumerate(measures):
                    key = name.format(by=symbol) if symbol is not None else name
                    slot[key] = slot.get(key, Decimal(0)) + as_decimal(row[offset + i])
    return [
        MeasureRow(Place(zone, region, district), kind, period, values)
        for (zone, region, district, kind, period), values in sorted(rows.items())
    ]


__all__ = ["measure"]
