"""The ``indicators`` table: refresh it from the facts, know whether it is behind them, read it.

An adapter over SQL (SQLite and PostgreSQL). Guarantees:

- :func:`refresh_indicators` measures the facts (:func:`projections.measure_queries.measure`),
  hands the measures to the pure :func:`projections.indicator_computation.compute`, and
  replaces the zones' rows of ``indicators`` in ONE transaction (delete +
  insert), together with a marker recording the projection offsets the values
  were computed from. Readers never see a half-refreshed zone; two refreshes
  queue (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a table lock taken before the
  REPEATABLE READ snapshot) and never block readers.
- The marker lives in ``indicators`` itself: per zone, rows with
  ``period_kind = "_refresh"`` hold the sum of the ``read_models`` next offsets
  and the latest offset ``updated_at`` (epoch ms) seen when the zone was
  refreshed. Every applied batch and every rebuild swap changes one of them, so
  :func:`stale_zones` compares them with ``projection_offsets`` to tell whether
  the table is behind the facts. Keeping the marker in the same table means a
  rebuild swap (which replaces ``indicators``) replaces it too, and no schema
  change is needed.
- :func:`read_values`, :func:`known_zones` and :func:`known_places` read the
  table (markers never show up as values); each uses its own connection.
- A database failure is :class:`~projections.store_errors.StoreUnavailable`
  (an outage: retry) or :class:`~hub.errors.ProjectionError`, naming what was
  being done.

The report's other questions to the facts (exchange rates applied, districts
with illustrative data) are :mod:`projections.fact_queries`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, Engine, Table, delete, func, select, text, union
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import ProjectionError
from hub.reporting_time import PERIOD_KINDS, PeriodKind
from hub.sql import is_sqlite, write_transaction
from projections.indicator_computation import compute
from projections.indicators import ALL, BY_NAME, IndicatorValue
from projections.measure_queries import measure
from projections.sql_numbers import as_decimal
from projections.store_errors import translate
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
        found.setdefault(zone, {})[name] = int(as_decimal(value))
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
        raise translate(exc, "refreshing the indicators") from exc
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
        raise translate(exc, f"reading the refresh marker of {zone}") from exc


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
        raise translate(exc, "checking whether the indicators are up to date") from exc
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
        raise translate(exc, f"reading the indicators of {zone}") from exc
    out: list[IndicatorValue] = []
    for row in rows:
        spec = BY_NAME.get(row["indicator"])
        if spec is None:
            continue  # written by a newer hub; this one does not know it
        value = as_decimal(row["value"]).quantize(Decimal(1).scaleb(-spec.places))
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
        raise translate(exc, "reading the zones of the indicators") from exc


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
        raise translate(exc, f"reading the districts of {zone}") from exc


__all__ = [
    "MARKER_KIND",
    "RefreshSummary",
    "Stamp",
    "ensure_fresh",
    "known_places",
    "known_zones",
    "read_values",
    "refresh_indicators",
    "stale_zones",
    "zone_stamp",
]
