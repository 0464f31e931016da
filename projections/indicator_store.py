"""The SQL adapter of the indicators: measure the fact tables, materialise ``indicators``, read it back.

:func:`refresh_indicators` runs one ``GROUP BY`` per fact table and period
kind on the precomputed ``month`` / ``quarter`` / ``year`` columns (plain SQL
that SQLite and PostgreSQL both run), hands the measures to the pure
:func:`projections.indicator_computation.compute`, and replaces the zone's rows of
``indicators`` in ONE transaction (delete + insert), together with a marker
recording the projection offsets the values were computed from.

The marker lives in ``indicators`` itself: per zone, rows with
``period_kind = "_refresh"`` hold the sum of the ``read_models`` next offsets
and the latest offset ``updated_at`` (epoch ms) seen when the zone was
refreshed. Every applied batch and every rebuild swap changes one of them, so
:func:`stale_zones` compares them with ``projection_offsets`` to tell whether
the table is behind the facts. Keeping the marker in the same table means a
rebuild swap (which replaces ``indicators``) replaces it too, and no schema
change is needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, Engine, Table, and_, case, delete, distinct, func, literal, or_, select, text, union
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.sql import ColumnElement

from hub.errors import ProjectionError
from hub.sql import is_sqlite, write_transaction
from projections.fx import AppliedRate
from projections.indicator_computation import compute
from projections.indicators import (
    ALL,
    BY_NAME,
    CURRENCIES,
    HARDSHIP_GROUPS,
    LEVELS,
    LICENSED_LEVELS,
    PASSING_OUTCOMES,
    PROGRAMMES,
    SAFETY_NET_AREA,
    IndicatorValue,
)
from projections.measures import TIME_DISTINCT_MEASURES, MeasureRow, Place
from projections.periods import PERIOD_KINDS, Period, PeriodKind
from projections.store import StoreUnavailable
from projections.tables import FACT_TABLES, READ_MODELS, projection_offsets, tables_for

#: ``indicators.period_kind`` of the refresh marker rows.
MARKER_KIND: Final = "_refresh"
MARKER_PERIOD: Final = "-"
MARK_OFFSETS: Final = "_source_next_offsets"
MARK_UPDATED: Final = "_source_updated_ms"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Stamp:
    """What the projection had applied: the sum of its next offsets and its latest offset update (epoch ms)."""

    offsets: int
    updated_ms: int


@dataclass(frozen=True)
class RefreshSummary:
    """What :func:`refresh_indicators` did."""

    zones: tuple[str, ...]
    rows: int
    """Indicator rows written (marker rows excluded)."""
    seconds: float
    stamp: Stamp


# -- measuring the facts ---------------------------------------------------------------------------------
def _num(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))  # SQLite returns NUMERIC sums as floats: keep their shortest form
    return Decimal(value)


def _sum_if(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[Any]:
    return func.sum(case((condition, value), else_=0))


def _has_group(column: ColumnElement[Any], symbol: str) -> ColumnElement[bool]:
    # vulnerable_groups is a sorted, comma-joined list: match whole symbols only.
    return (literal(",") + func.coalesce(column, "") + literal(",")).like(f"%,{symbol},%")


@dataclass(frozen=True)
class _Query:
    """One GROUP BY over a fact table: measures named as in :data:`MEASURES` (``{by}`` is the ``by`` value)."""

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
                    slot[key] = slot.get(key, Decimal(0)) + _num(row[offset + i])
    return [
        MeasureRow(Place(zone, region, district), kind, period, values)
        for (zone, region, district, kind, period), values in sorted(rows.items())
    ]


# -- the marker ----------------------------------------------------------------------------------------------
def _stamp(conn: Connection, owner: str) -> Stamp:
    table = projection_offsets
    query = select(func.coalesce(func.sum(table.c.next_offset), 0), func.max(table.c.updated_at)).where(
        table.c.projection == owner
    )
    total, latest = conn.execute(query).one()
    ms = int((latest - _EPOCH).total_seconds() * 1000) if isinstance(latest, datetime) else 0
    return Stamp(int(total), ms)


def _markers(conn: Connection, indicators: Table) -> dict[str, Stamp]:
    query = select(indicators.c.zone, indicators.c.indicator, indicators.c.value).where(
        indicators.c.period_kind == MARKER_KIND
    )
    found: dict[str, dict[str, int]] = {}
    for zone, name, value in conn.execute(query):
        found.setdefault(zone, {})[name] = int(_num(value))
    return {zone: Stamp(values.get(MARK_OFFSETS, -1), values.get(MARK_UPDATED, -1)) for zone, values in found.items()}


def _marker_rows(zone: str, stamp: Stamp) -> list[dict[str, Any]]:
    base = {"zone": zone, "region": ALL, "district": ALL, "period_kind": MARKER_KIND, "period": MARKER_PERIOD}
    return [
        {**base, "indicator": MARK_OFFSETS, "value": Decimal(stamp.offsets)},
        {**base, "indicator": MARK_UPDATED, "value": Decimal(stamp.updated_ms)},
    ]


def _fact_zones(conn: Connection, tables: dict[str, Table]) -> set[str]:
    query = union(*(select(tables[name].c.zone).distinct() for name in FACT_TABLES))
    return {zone for (zone,) in conn.execute(query)}


def _indicator_zones(conn: Connection, indicators: Table) -> set[str]:
    return {zone for (zone,) in conn.execute(select(indicators.c.zone).distinct())}


# -- refresh ----------------------------------------------------------------------------------------------------
@contextmanager
def _refresh_transaction(engine: Engine, indicators: Table) -> Iterator[Connection]:
    """SQLite: ``BEGIN IMMEDIATE`` (one writer, a stable snapshot). PostgreSQL: REPEATABLE READ, with the
    indicators table locked against other refreshes BEFORE the snapshot is taken (readers are not blocked)."""
    if is_sqlite(engine):
        with write_transaction(engine) as conn:
            yield conn
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            name = conn.dialect.identifier_preparer.quote(indicators.name)
            conn.execute(text(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE"))
            yield conn


def refresh_indicators(
    engine: Engine,
    *,
    zones: Iterable[str] | None = None,
    suffix: str = "",
    reporting_currency: str | None = None,
) -> RefreshSummary:
    """Recompute the ``indicators`` rows of ``zones`` (default: every zone with facts or indicators).

    One transaction: measure the facts, delete the zones' rows, insert the new ones and the refresh
    marker. ``suffix`` selects the table set (a rebuild's ``__shadow``). With ``reporting_currency``
    the facts must all have been converted into it (else :class:`ProjectionError`: rebuild the
    projections after changing ``HUB_REPORTING_CURRENCY``).
    """
    tables = tables_for(suffix)
    indicators = tables["indicators"]
    started = time.perf_counter()
    try:
        with _refresh_transaction(engine, indicators) as conn:
            stamp = _stamp(conn, READ_MODELS + suffix)
            chosen = sorted(
                set(zones) if zones is not None else _fact_zones(conn, tables) | _indicator_zones(conn, indicators)
            )
            if not chosen:
                return RefreshSummary((), 0, time.perf_counter() - started, stamp)
            _check_reporting_currency(conn, tables, chosen, reporting_currency)
            values = compute(measure(conn, chosen, suffix=suffix))
            conn.execute(delete(indicators).where(indicators.c.zone.in_(chosen)))
            rows = [
                {
                    "zone": v.zone,
                    "region": v.region,
                    "district": v.district,
                    "period_kind": v.period_kind,
                    "period": v.period,
                    "indicator": v.indicator,
                    "value": v.value,
                }
                for v in values
            ]
            rows += [r for zone in chosen for r in _marker_rows(zone, stamp)]
            conn.execute(indicators.insert(), rows)
    except ProjectionError:
        raise
    except SQLAlchemyError as exc:
        raise _translate(exc, "refreshing the indicators") from exc
    return RefreshSummary(tuple(chosen), len(values), time.perf_counter() - started, stamp)


def _check_reporting_currency(
    conn: Connection, tables: dict[str, Table], zones: Sequence[str], expected: str | None
) -> None:
    found: set[str] = set()
    for name in ("donations", "fundings"):
        t = tables[name]
        found |= {c for (c,) in conn.execute(select(t.c.reporting_currency).distinct().where(t.c.zone.in_(zones)))}
    unexpected = sorted(found - {expected}) if expected is not None else sorted(found)
    if (expected is not None and unexpected) or len(found) > 1:
        raise ProjectionError(
            f"reporting_currency: the facts were converted into {', '.join(sorted(found))}"
            + (f", not {expected}" if expected is not None else "")
            + "; rebuild the projections (hub projections rebuild) after changing HUB_REPORTING_CURRENCY"
        )


def zone_stamp(engine: Engine, zone: str) -> Stamp | None:
    """The refresh marker of ``zone``: which offsets its indicators were computed from (None: never)."""
    indicators = tables_for("")["indicators"]
    try:
        with engine.connect() as conn:
            return _markers(conn, indicators).get(zone)
    except SQLAlchemyError as exc:
        raise _translate(exc, f"reading the refresh marker of {zone}") from exc


def stale_zones(engine: Engine, *, suffix: str = "") -> list[str]:
    """Zones whose indicators were not computed from the facts as they are now (never refreshed included)."""
    tables = tables_for(suffix)
    indicators = tables["indicators"]
    try:
        with engine.connect() as conn:
            stamp = _stamp(conn, READ_MODELS + suffix)
            markers = _markers(conn, indicators)
            zones = _fact_zones(conn, tables) | _indicator_zones(conn, indicators)
    except SQLAlchemyError as exc:
        raise _translate(exc, "checking whether the indicators are up to date") from exc
    return sorted(z for z in zones if markers.get(z) != stamp)


def ensure_fresh(engine: Engine, *, reporting_currency: str | None = None) -> RefreshSummary | None:
    """Refresh the indicators if they are behind the facts; None if they were up to date."""
    stale = stale_zones(engine)
    if not stale:
        return None
    return refresh_indicators(engine, zones=stale, reporting_currency=reporting_currency)


# -- reading ------------------------------------------------------------------------------------------------------
def read_values(
    engine: Engine,
    zone: str,
    *,
    period_kind: PeriodKind | None = None,
    period: str | None = None,
    region: str | None = None,
    district: str | None = None,
    indicators: Sequence[str] | None = None,
) -> list[IndicatorValue]:
    """Indicator rows of ``zone`` (markers excluded), filtered; values rounded to each indicator's places."""
    table = tables_for("")["indicators"]
    query = select(table).where(table.c.zone == zone, table.c.period_kind.in_(PERIOD_KINDS))
    if period_kind is not None:
        query = query.where(table.c.period_kind == period_kind)
    if period is not None:
        query = query.where(table.c.period == period)
    if region is not None:
        query = query.where(table.c.region == region)
    if district is not None:
        query = query.where(table.c.district == district)
    if indicators is not None:
        query = query.where(table.c.indicator.in_(list(indicators)))
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
    except SQLAlchemyError as exc:
        raise _translate(exc, f"reading the indicators of {zone}") from exc
    out: list[IndicatorValue] = []
    for row in rows:
        spec = BY_NAME.get(row["indicator"])
        if spec is None:
            continue  # written by a newer hub; this one does not know it
        value = _num(row["value"]).quantize(Decimal(1).scaleb(-spec.places))
        out.append(
            IndicatorValue(
                row["zone"], row["region"], row["district"], row["period_kind"], row["period"], row["indicator"], value
            )
        )
    return out


def known_zones(engine: Engine) -> list[str]:
    """Zones that have indicator rows."""
    table = tables_for("")["indicators"]
    try:
        with engine.connect() as conn:
            return sorted(_indicator_zones(conn, table))
    except SQLAlchemyError as exc:
        raise _translate(exc, "reading the zones of the indicators") from exc


def rates_used(
    engine: Engine, zone: str, period: Period, *, region: str | None = None, district: str | None = None
) -> list[AppliedRate]:
    """The exchange rates the facts of ``zone`` in ``period`` were converted with (from their rows)."""
    tables = tables_for("")
    queries = []
    for name in ("donations", "fundings"):
        t = tables[name]
        conditions = [t.c.zone == zone, t.c[period.kind] == period.value, t.c.currency != t.c.reporting_currency]
        if region is not None:
            conditions.append(t.c.region == region)
        if district is not None:
            conditions.append(t.c.district == district)
        queries.append(
            select(t.c.currency, t.c.reporting_currency, t.c.fx_rate, t.c.fx_valid_from).where(and_(*conditions))
        )
    try:
        with engine.connect() as conn:
            found = {
                (cur, to, _num(rate).quantize(Decimal("0.00000001")), valid)
                for cur, to, rate, valid in conn.execute(union(*queries))
            }
    except SQLAlchemyError as exc:
        raise _translate(exc, f"reading the exchange rates used in {zone} {period.value}") from exc
    return sorted(
        (AppliedRate(cur, to, rate, valid if isinstance(valid, date) else date.min) for cur, to, rate, valid in found),
        key=lambda r: (r.currency, r.valid_from, r.to),
    )


def _translate(exc: SQLAlchemyError, doing: str) -> ProjectionError:
    original = getattr(exc, "orig", None)
    lines = str(original if original is not None else exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return StoreUnavailable(f"{doing}: the database is unavailable or busy: {reason}")
    return ProjectionError(f"{doing}: {reason}")


def known_places(engine: Engine, zone: str) -> list[tuple[str, str]]:
    """Every (region, district) with indicator rows in ``zone`` (districts only, not the ``*`` totals)."""
    table = tables_for("")["indicators"]
    query = (
        select(table.c.region, table.c.district)
        .distinct()
        .where(table.c.zone == zone, table.c.district != ALL, table.c.period_kind.in_(PERIOD_KINDS))
    )
    try:
        with engine.connect() as conn:
            return sorted((r, d) for r, d in conn.execute(query))
    except SQLAlchemyError as exc:
        raise _translate(exc, f"reading the districts of {zone}") from exc


def illustrative_districts(engine: Engine, zone: str, *, referral: str, mark: str) -> list[str]:
    """Districts of ``zone`` holding data marked illustrative: a case referred by ``referral``, or a
    project whose name ends with ``mark`` (how ``hub demo-data`` marks invented figures)."""
    t = tables_for("")
    queries = [
        select(t["cases"].c.district).where(t["cases"].c.zone == zone, t["cases"].c.referral_source == referral),
        *(
            select(t[name].c.district).where(t[name].c.zone == zone, t[name].c.project_name.endswith(mark))
            for name in ("evaluations", "fundings")
        ),
    ]
    try:
        with engine.connect() as conn:
            return sorted({d for (d,) in conn.execute(union(*queries))})
    except SQLAlchemyError as exc:
        raise _translate(exc, f"looking for illustrative data in {zone}") from exc


__all__ = [
    "MARKER_KIND",
    "RefreshSummary",
    "Stamp",
    "ensure_fresh",
    "illustrative_districts",
    "known_places",
    "known_zones",
    "measure",
    "rates_used",
    "read_values",
    "refresh_indicators",
    "stale_zones",
    "zone_stamp",
]
