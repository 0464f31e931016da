"""Read queries on the fact tables that a report needs besides its indicator values.

An adapter: read-only ``SELECT`` statements on the live read-model tables, each
in its own connection; a database failure is translated by
:func:`projections.store_errors.translate` (:class:`~projections.store_errors.StoreUnavailable`
for an outage, :class:`~hub.errors.ProjectionError` otherwise). Two questions:

- :func:`rates_used`: the exchange rates the facts of a zone and period were
  converted with, read from the rows themselves (each fact row carries the
  rate it was converted at), so the report prints exactly what was applied;
- :func:`illustrative_districts`: the districts holding records marked
  illustrative (the convention of :mod:`hub.provenance`), for the report's caveat.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, and_, select, union
from sqlalchemy.exc import SQLAlchemyError

from projections.fx import AppliedRate
from projections.periods import Period
from projections.sql_numbers import as_decimal
from projections.store_errors import translate
from projections.tables import tables_for


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
                (cur, to, as_decimal(rate).quantize(Decimal("0.00000001")), valid)
                for cur, to, rate, valid in conn.execute(union(*queries))
            }
    except SQLAlchemyError as exc:
        raise translate(exc, f"reading the exchange rates used in {zone} {period.value}") from exc
    return sorted(
        (AppliedRate(cur, to, rate, valid if isinstance(valid, date) else date.min) for cur, to, rate, valid in found),
        key=lambda r: (r.currency, r.valid_from, r.to),
    )


def illustrative_districts(engine: Engine, zone: str, *, referral: str, mark: str) -> list[str]:
    """Districts of ``zone`` holding data marked illustrative: a case referred by ``referral``, or a
    project whose name ends with ``mark`` (the marks of :mod:`hub.provenance`, which ``hub demo-data`` writes)."""
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
        raise translate(exc, f"looking for illustrative data in {zone}") from exc


__all__ = ["illustrative_districts", "rates_used"]
