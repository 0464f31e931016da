"""The SQL adapter of the projections: apply a batch's row changes and the offsets it reaches in one transaction.

:func:`apply_batch` is the exactly-once step. It hands the batch to the one
tracking writer (:class:`hub.tracking.TrackingWriter`, offsets in
``projection_offsets`` keyed by projection), which in ONE database transaction

1. reads (and on PostgreSQL locks) the stored ``next_offset`` of every
   ``(projection, topic, partition)`` of the batch and skips the records below
   it: they were applied by an earlier transaction (the real guard);
2. lets :func:`projections.row_changes.apply_changes` apply the upserts (the
   incoming version must beat the stored one) and recompute the derived
   columns the batch touched, with the pure rules of :mod:`projections.rules`;
3. writes the offsets reached, and commits.

A crash anywhere before the commit leaves rows and offsets as they were.
After the commit, on PostgreSQL, tables the process filled quickly get their
planner statistics refreshed (:class:`hub.sql.GrowthStatistics`). A
record the database refuses is reported (:class:`RecordsRejected`, nothing
committed) so that the caller dead-letters it and applies the batch again
with its changes emptied. An outage is :class:`StoreUnavailable` (retry the
same batch); anything else a :class:`~hub.errors.ProjectionError`.

Shadow tables, for a rebuild without downtime, are in
:mod:`projections.shadow` (re-exported here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import ProjectionError
from hub.sql import GrowthStatistics, is_sqlite
from hub.tracking import RecordsRejected, Rejected, TrackingWriter
from projections.row_changes import apply_changes, table_of
from projections.rules import RowChange, Upsert
from projections.shadow import ShadowBehind, create_shadow, drop_shadow, swap_shadow
from projections.store_errors import STORE_FAILURES, StoreUnavailable, translate
from projections.tables import PROJECTION_OFFSETS, projection_offsets, tables_for

TopicPartition = tuple[str, int]

#: Planner statistics of the tables this process fills (PostgreSQL; see :class:`hub.sql.GrowthStatistics`).
STATISTICS: Final = GrowthStatistics()


# -- values in and out ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceRecord:
    """One consumed record and the row changes it implies (none if it was dead-lettered)."""

    topic: str
    partition: int
    offset: int
    changes: Sequence[RowChange] = field(default=(), hash=False)
    timestamp_ms: int | None = None
    """The Kafka record timestamp, kept per partition for time lag."""

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class BatchSummary:
    """What :func:`apply_batch` did."""

    applied: int
    """Records applied in this transaction."""
    skipped: int
    """Records below the stored offsets (already applied before): nothing was done for them."""
    changed: int
    """Rows inserted or updated (fact upserts that won plus derived rows that changed)."""
    offsets: dict[TopicPartition, int]
    """``next_offset`` stored per (topic, partition) of the batch after the commit."""


@dataclass(frozen=True)
class OffsetRow:
    """One row of ``projection_offsets``."""

    projection: str
    topic: str
    partition: int
    next_offset: int
    last_record_ms: int | None
    updated_at: datetime


# -- apply --------------------------------------------------------------------------------------------
def apply_batch(engine: Engine, projection: str, records: Sequence[SourceRecord], *, suffix: str = "") -> BatchSummary:
    """Apply ``records`` and the offsets they reach in one transaction (see the module docstring).

    ``suffix`` selects the table set (``""`` live, ``"__shadow"`` a rebuild's)
    and stores the offsets under ``projection + suffix``.

    Raises :class:`RecordsRejected` (nothing committed) when the database
    refuses the changes of some records, :class:`StoreUnavailable` when it
    cannot be reached or the transaction must be retried, and
    :class:`ProjectionError` otherwise.
    """
    owner = _owner(projection, suffix)
    tables = tables_for(suffix)

    def write(conn: Connection, fresh: Sequence[SourceRecord]) -> int:
        return apply_changes(conn, tables, [c for r in fresh for c in r.changes])

    done = tracking_writer(engine, owner).apply(
        records,
        write,
        doing=f"applying a batch to {owner}",
        has_rows=lambda r: bool(r.changes),
        timestamp=lambda r: r.timestamp_ms,
    )
    if not is_sqlite(engine):
        STATISTICS.wrote(
            engine, Counter(tables[c.table].name for r in done.records for c in r.changes if isinstance(c, Upsert))
        )
    return BatchSummary(applied=len(done.records), skipped=done.skipped, changed=done.rows, offsets=done.offsets)


def tracking_writer(engine: Engine, owner: str) -> TrackingWriter:
    """The tracking writer of ``owner`` (a projection name, with its suffix) on ``projection_offsets``."""
    return TrackingWriter(
        engine, projection_offsets, owner_column=PROJECTION_OFFSETS.owner_column, owner=owner, failures=STORE_FAILURES
    )


def _owner(projection: str, suffix: str) -> str:
    if not isinstance(projection, str) or not projection or len(projection + suffix) > PROJECTION_OFFSETS.owner_length:
        raise ProjectionError(f"projection: must be a name of 1..64 characters with its suffix, got {projection!r}")
    return projection + suffix


# -- offsets ------------------------------------------------------------------------------------------
def stored_offsets(engine: Engine, projection: str, *, suffix: str = "") -> dict[TopicPartition, int]:
    """``next_offset`` per (topic, partition) stored for ``projection`` (+ ``suffix``)."""
    owner = _owner(projection, suffix)
    return tracking_writer(engine, owner).stored(doing=f"reading the offsets of {owner}")


def offset_rows(engine: Engine, projection: str | None = None) -> list[OffsetRow]:
    """Rows of ``projection_offsets`` (all projections, or one), for lag and status."""
    table = projection_offsets
    query = select(table).order_by(table.c.projection, table.c.topic, table.c.partition)
    if projection is not None:
        query = query.where(table.c.projection == projection)
    try:
        with engine.connect() as conn:
            return [OffsetRow(**row._mapping) for row in conn.execute(query)]
    except SQLAlchemyError as exc:
        raise translate(exc, "reading projection offsets") from exc


# -- reading whole tables ---------------------------------------------------------------------------------
def dump(engine: Engine, *, suffix: str = "", names: Iterable[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables (or of ``names``), ordered by primary key: for comparing two runs."""
    tables = tables_for(suffix)
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as conn:
            for name in names if names is not None else tables:
                table = table_of(tables, name)
                query = select(table).order_by(*table.primary_key.columns)
                out[name] = [tuple(row) for row in conn.execute(query)]
    except SQLAlchemyError as exc:
        raise translate(exc, "reading the read models") from exc
    return out


__all__ = [
    "BatchSummary",
    "OffsetRow",
    "RecordsRejected",
    "Rejected",
    "ShadowBehind",
    "SourceRecord",
    "StoreUnavailable",
    "apply_batch",
    "create_shadow",
    "drop_shadow",
    "dump",
    "offset_rows",
    "stored_offsets",
    "swap_shadow",
    "tracking_writer",
]
