"""The tracking writer: a batch's rows and the offsets they reach, in ONE database transaction.

The projection store (:mod:`projections.store`) and the SQL partner sink
(:mod:`consumers.sinks.sql`) both write through :class:`TrackingWriter`; only
the rows differ, and the caller supplies them as a function of the records.
Guarantees of :meth:`TrackingWriter.apply`:

- **One transaction.** It reads the stored ``next_offset`` of every
  (topic, partition) of the batch, skips the records below it (an earlier
  transaction applied them; a position repeated in the batch is skipped too),
  calls the caller's ``write`` with the rest, stores the offsets reached and
  commits. A crash or an error anywhere before the commit leaves rows and
  offsets as they were, so a re-delivery applies the batch exactly once.
- **Concurrent writers queue, they never both apply.** On PostgreSQL the
  offset rows of the batch are created if missing and locked with
  ``SELECT .. FOR UPDATE`` before any row is written; a second writer of the
  same partitions waits for the first to commit, then reads the offsets it
  stored and skips what it applied. Lock order, so that writers cannot
  deadlock on the offsets: (1) the batch's offset rows in ``(topic,
  partition)`` order, taken in one statement; (2) whatever the caller's
  ``write`` locks, which must itself follow a fixed order (the projection
  store sorts its advisory locks and its rows by key). Writers of other
  partitions do not wait for each other on the offsets. On SQLite
  ``BEGIN IMMEDIATE`` takes the database's write lock first: writers queue.
- **A refused record is isolated.** When the database refuses a value
  (:data:`Failure.REFUSED`), nothing is committed; a second transaction applies
  each record under its own savepoint to find the records refused alone, and
  is rolled back. :class:`RecordsRejected` lists them: the caller dead-letters
  them and applies the batch again with their rows emptied, so their offsets
  still advance.
- **One classification of database errors** (:func:`classify`): an outage,
  a lock timeout or a deadlock is the caller's ``unavailable`` error, a
  :class:`~hub.errors.TransientError` that :mod:`hub.retry` waits out; a
  refused value is :class:`RecordsRejected`; anything else (a bug, a schema
  that does not match, a statement the database cannot run) is the caller's
  phase error, never retried and never dead-lettered.

The offsets tables differ by name and owner column (``projection_offsets``
keyed by projection, ``subscriber_offsets`` by subscriber): :class:`OffsetsTable`
describes either layout.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, Generic, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from hub.errors import HubError, TransientError
from hub.sql import UtcDateTime, is_sqlite, write_transaction

TopicPartition = tuple[str, int]

#: Errors that mean "the database is down, busy, locked or chose this transaction as a deadlock victim".
OUTAGES: Final[tuple[type[Exception], ...]] = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
_DETAIL: Final = 5


class Position(Protocol):
    """What the writer needs of a record: where it was read from."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


R = TypeVar("R", bound=Position)
T = TypeVar("T")


# -- refused records ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rejected:
    """A record whose rows the store refused, and why."""

    topic: str
    partition: int
    offset: int
    reason: str


class RecordsRejected(HubError):
    """Some records of a batch cannot be stored; nothing was committed.

    Dead-letter them, then write the batch again with their rows emptied
    (so that their offsets still advance).
    """

    def __init__(self, rejected: Sequence[Rejected]) -> None:
        self.rejected = list(rejected)
        detail = "; ".join(f"{r.topic}[{r.partition}]@{r.offset}: {r.reason}" for r in self.rejected[:_DETAIL])
        more = f" (and {len(self.rejected) - _DETAIL} more)" if len(self.rejected) > _DETAIL else ""
        super().__init__(f"{len(self.rejected)} record(s) cannot be stored: {detail}{more}")


# -- error classification -------------------------------------------------------------------------------
class Failure(Enum):
    """What a database error means for the batch that met it."""

    TRANSIENT = "transient"
    """Down, busy, a lock timeout or a deadlock: the same batch may succeed later."""
    REFUSED = "refused"
    """A value the database (or a column type) refuses: some record cannot be stored as it is."""
    FAULT = "fault"
    """Anything else: a bug or a schema mismatch, the same for every record; stop and report it."""


def classify(exc: BaseException) -> Failure:
    """The one reading of a SQLAlchemy error (see :class:`Failure`).

    - :data:`OUTAGES`, or any driver error after which the connection was
      invalidated -> TRANSIENT. (SQLite reports a missing table or column as
      an ``OperationalError`` too, so there it is waited out, e.g. while the
      worker's migration creates the tables; PostgreSQL calls it a
      ``ProgrammingError``: a FAULT.);
    - ``IntegrityError`` and ``DataError`` (a constraint, a value too long or
      out of range), or a value a column type's bind step refused before it
      reached the database (``ValueError``, ``TypeError``, ``ArithmeticError``)
      -> REFUSED;
    - everything else, notably ``ProgrammingError`` (an undefined column, a
      value the driver cannot adapt: the code built the row wrong, for every
      record alike) -> FAULT.
    """
    if isinstance(exc, OUTAGES):
        return Failure.TRANSIENT
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return Failure.TRANSIENT
        if isinstance(exc, IntegrityError | DataError):
            return Failure.REFUSED
        return Failure.FAULT
    if isinstance(exc, StatementError) and isinstance(exc.orig, ValueError | TypeError | ArithmeticError):
        return Failure.REFUSED
    return Failure.FAULT


def reason(exc: BaseException) -> str:
    """The first line of what the database (or the driver) said, without SQLAlchemy's wrapping."""
    original = getattr(exc, "orig", None)
    lines = str(original if original is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@dataclass(frozen=True)
class Failures:
    """The caller's errors: ``phase`` for faults, ``unavailable`` (a :class:`TransientError`) for outages."""

    phase: type[HubError]
    unavailable: type[TransientError]

    def translate(self, exc: SQLAlchemyError, doing: str) -> HubError:
        """``exc`` as the caller's error, prefixed by what was being done (``raise .. from exc`` it)."""
        if classify(exc) is Failure.TRANSIENT:
            return self.unavailable(f"{doing}: the database is unavailable or busy: {reason(exc)}")
        return self.phase(f"{doing}: {reason(exc)}")


# -- the offsets table ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OffsetsTable:
    """The layout of an offsets table: one row per (owner, topic, partition) holding the next offset to apply.

    ``record_time`` adds ``last_record_ms`` (the Kafka timestamp of the newest
    applied record, for time lag); ``aware_timestamps`` stores ``updated_at``
    as TIMESTAMPTZ on PostgreSQL (see :class:`hub.sql.UtcDateTime`).
    """

    name: str
    owner_column: str
    owner_length: int = 64
    record_time: bool = False
    aware_timestamps: bool = False

    def build(self, metadata: MetaData) -> Table:
        """The table in ``metadata`` (its naming convention names the primary key)."""
        columns: list[Column[Any]] = [
            Column(self.owner_column, String(self.owner_length), primary_key=True),
            Column("topic", String(255), primary_key=True),
            Column("partition", Integer, primary_key=True, autoincrement=False),
            Column("next_offset", BigInteger, nullable=False),
        ]
        if self.record_time:
            columns.append(Column("last_record_ms", BigInteger, nullable=True))
        columns.append(Column("updated_at", UtcDateTime(timezone=self.aware_timestamps), nullable=False))
        return Table(self.name, metadata, *columns)


# -- the writer -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Applied(Generic[R, T]):
    """What one :meth:`TrackingWriter.apply` committed."""

    records: list[R]
    """The records at or past the stored offsets, in batch order: their rows were written."""
    skipped: int
    """Records below the stored offsets (or repeating a position of the batch): nothing was done for them."""
    rows: T
    """What the caller's ``write`` returned."""
    offsets: dict[TopicPartition, int]
    """``next_offset`` stored per (topic, partition) of the batch after the commit."""


def _always(_record: Any) -> bool:
    return True


class TrackingWriter:
    """Rows and offsets of one owner (a projection, a subscriber) in one transaction; see the module docstring."""

    def __init__(self, engine: Engine, table: Table, *, owner_column: str, owner: str, failures: Failures) -> None:
        missing = sorted({owner_column, "topic", "partition", "next_offset", "updated_at"} - set(table.c.keys()))
        if missing:
            raise ValueError(f"offsets table {table.name}: missing columns {', '.join(missing)}")
        self.engine = engine
        self.table = table
        self.owner = owner
        self.failures = failures
        self._owner = table.c[owner_column]
        self._record_time = "last_record_ms" in table.c

    # -- reading and locking the offsets ------------------------------------------------------------------
    def stored(self, *, doing: str) -> dict[TopicPartition, int]:
        """Every ``next_offset`` stored for the owner (no lock)."""
        t = self.table
        query = select(t.c.topic, t.c.partition, t.c.next_offset).where(self._owner == self.owner)
        try:
            with self.engine.connect() as conn:
                return {(str(topic), int(p)): int(n) for topic, p, n in conn.execute(query)}
        except SQLAlchemyError as exc:
            raise self.failures.translate(exc, doing) from exc

    def lock(self, conn: Connection, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored offsets of ``tps`` inside ``conn``'s transaction; on PostgreSQL their rows are created if
        missing (at 0) and locked until the transaction ends, in ``(topic, partition)`` order."""
        wanted = sorted(set(tps))
        if not wanted:
            return {}
        t = self.table
        query = (
            select(t.c.topic, t.c.partition, t.c.next_offset)
            .where(self._owner == self.owner, tuple_(t.c.topic, t.c.partition).in_(wanted))
            .order_by(t.c.topic, t.c.partition)
        )
        if not is_sqlite(conn):
            now = datetime.now(UTC)
            seed = [
                {self._owner.name: self.owner, "topic": topic, "partition": p, "next_offset": 0, "updated_at": now}
                for topic, p in wanted
            ]
            conn.execute(_seed_statement(t), seed)
            query = query.with_for_update()
        return {(str(topic), int(p)): int(n) for topic, p, n in conn.execute(query)}

    # -- applying a batch -----------------------------------------------------------------------------------
    def apply(
        self,
        records: Sequence[R],
        write: Callable[[Connection, Sequence[R]], T],
        *,
        doing: str,
        has_rows: Callable[[R], bool] = _always,
        timestamp: Callable[[R], int | None] | None = None,
    ) -> Applied[R, T]:
        """Apply ``records`` (see the module docstring): ``write(conn, fresh)`` writes the rows of the fresh ones.

        ``has_rows`` tells which records write anything (a dead-lettered one
        does not): only those are tried alone when the database refuses the
        batch. ``timestamp`` gives a record's Kafka timestamp (ms) for
        ``last_record_ms``. ``doing`` prefixes the error messages.

        Raises :class:`RecordsRejected` (nothing committed), the caller's
        ``unavailable`` error (retry the same batch later) or its phase error.
        """
        for r in records:
            if r.partition < 0 or r.offset < 0:
                raise self.failures.phase(f"offset: {r.topic}[{r.partition}]@{r.offset} is not a valid position")
        try:
            return self._apply(records, write, timestamp)
        except SQLAlchemyError as exc:
            if classify(exc) is not Failure.REFUSED:
                raise self.failures.translate(exc, doing) from exc
            failure: SQLAlchemyError = exc
        rejected = self._find_rejected(records, write, has_rows, doing)
        if not rejected:  # the batch is refused but no record is refused alone: nothing to dead-letter
            raise self.failures.phase(f"{doing}: {reason(failure)} (no record is refused on its own)") from failure
        raise RecordsRejected(rejected) from failure

    def _apply(
        self,
        records: Sequence[R],
        write: Callable[[Connection, Sequence[R]], T],
        timestamp: Callable[[R], int | None] | None,
    ) -> Applied[R, T]:
        tps = {(r.topic, r.partition) for r in records}
        with write_transaction(self.engine) as conn:
            stored = self.lock(conn, tps)
            fresh = _fresh(records, stored)
            rows = write(conn, fresh)
            reached = self._advance(conn, fresh, stored, timestamp)
        offsets = {tp: max(stored.get(tp, 0), reached.get(tp, 0)) for tp in sorted(tps)}
        return Applied(fresh, len(records) - len(fresh), rows, offsets)

    def _find_rejected(
        self,
        records: Sequence[R],
        write: Callable[[Connection, Sequence[R]], T],
        has_rows: Callable[[R], bool],
        doing: str,
    ) -> list[Rejected]:
        """Write each fresh record alone under its own savepoint, in a transaction that is rolled back."""
        rejected: list[Rejected] = []
        try:
            with write_transaction(self.engine, dry_run=True) as conn:
                stored = self.lock(conn, {(r.topic, r.partition) for r in records})
                for r in _fresh(records, stored):
                    if not has_rows(r):
                        continue
                    savepoint = conn.begin_nested()
                    try:
                        write(conn, [r])
                    except SQLAlchemyError as exc:
                        if classify(exc) is not Failure.REFUSED:
                            raise
                        savepoint.rollback()
                        rejected.append(Rejected(r.topic, r.partition, r.offset, reason(exc)))
                    else:
                        savepoint.commit()
        except SQLAlchemyError as exc:
            raise self.failures.translate(exc, f"{doing}, record by record") from exc
        return rejected

    def _advance(
        self,
        conn: Connection,
        fresh: Sequence[R],
        stored: Mapping[TopicPartition, int],
        timestamp: Callable[[R], int | None] | None,
    ) -> dict[TopicPartition, int]:
        """Store the offsets ``fresh`` reaches (never moving one back); returns those that moved."""
        reached: dict[TopicPartition, int] = {}
        stamps: dict[TopicPartition, int] = {}
        for r in fresh:
            tp = (r.topic, r.partition)
            reached[tp] = max(reached.get(tp, 0), r.offset + 1)
            ms = timestamp(r) if timestamp is not None else None
            if ms is not None:
                stamps[tp] = max(stamps.get(tp, ms), ms)
        reached = {tp: n for tp, n in reached.items() if n > stored.get(tp, 0)}
        if not reached:
            return {}
        now = datetime.now(UTC)
        rows = []
        for (topic, p), n in sorted(reached.items()):
            row: dict[str, Any] = {self._owner.name: self.owner, "topic": topic, "partition": p, "next_offset": n}
            if self._record_time:
                row["last_record_ms"] = stamps.get((topic, p))
            rows.append({**row, "updated_at": now})
        conn.execute(_advance_statement(self.table, conn.dialect.name == "postgresql"), rows)
        return reached


@functools.cache
def _seed_statement(table: Table) -> Any:
    """PostgreSQL: create the offset rows that are missing (built once per table)."""
    return postgresql.insert(table).on_conflict_do_nothing()


@functools.cache
def _advance_statement(table: Table, pg: bool) -> Any:
    """Store the offsets reached, never moving one back (built once per table and dialect)."""
    insert = postgresql.insert(table) if pg else sqlite.insert(table)
    changes: dict[str, Any] = {"next_offset": insert.excluded.next_offset, "updated_at": insert.excluded.updated_at}
    if "last_record_ms" in table.c:
        changes["last_record_ms"] = func.coalesce(insert.excluded.last_record_ms, table.c.last_record_ms)
    return insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_=changes,
        where=insert.excluded.next_offset > table.c.next_offset,
    )


def _fresh(records: Sequence[R], stored: Mapping[TopicPartition, int]) -> list[R]:
    """The records at or past the stored offsets, each position once, in batch order."""
    fresh: list[R] = []
    seen: set[tuple[str, int, int]] = set()
    for r in records:
        position = (r.topic, r.partition, r.offset)
        if r.offset < stored.get((r.topic, r.partition), 0) or position in seen:
            continue
        seen.add(position)
        fresh.append(r)
    return fresh


__all__ = [
    "OUTAGES",
    "Applied",
    "Failure",
    "Failures",
    "OffsetsTable",
    "Position",
    "RecordsRejected",
    "Rejected",
    "TopicPartition",
    "TrackingWriter",
    "classify",
    "reason",
]
