"""Where a partner subscriber keeps its copy of the shared events: a SQL database or JSON Lines files.

Both sinks have one interface (:class:`Sink`) and one guarantee: a call to
:meth:`Sink.write` stores the events of a batch AND the offsets they reach in
one atomic step, skips what an earlier step already stored (records below the
stored offsets), and ignores an ``event_id`` it already holds. So a subscriber
that crashes anywhere resumes from the stored offsets and neither loses nor
duplicates an event; a duplicate re-sent by the gateway (same ``event_id``,
new offset) changes nothing.

- :class:`SqlSink` (SQLAlchemy Core; ``sqlite:///path.db`` or
  ``postgresql+psycopg://...``): one table per event type named after it
  (``case_opened``), one column per field of the pinned reader schema plus
  ``zone``, ``source_topic``, ``source_partition``, ``source_offset``; primary
  key ``event_id``; the rows and ``subscriber_offsets`` commit in one transaction.
- :class:`JsonlSink` (``jsonl:///dir``): one folder per topic; each write adds
  segment files atomically and then replaces ``offsets.json`` atomically; a
  segment name embeds its offset range, so a crash between the two is found and
  rolled forward on restart (the protocol is in docs/subscribers.md).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Double,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
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
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import TypeEngine

from hub.errors import ConfigError, HubError
from hub.naming import event_slug
from hub.sql import make_engine

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]

#: Columns every event table has besides the schema's fields (``source_*`` because a schema field may be
#: called ``topic``: TrainingHeld has one).
COORDINATE_COLUMNS: Final[tuple[str, ...]] = ("zone", "source_topic", "source_partition", "source_offset")
OFFSETS_TABLE: Final = "subscriber_offsets"
_IN_CHUNK: Final = 500


# -- errors ---------------------------------------------------------------------------------------
class SinkError(HubError):
    """A sink cannot be opened or written as asked (a fault to fix, not an outage to wait out)."""


class SinkUnavailable(SinkError):
    """The sink cannot be reached or written right now (database down, lock, disk full): retry later."""


@dataclass(frozen=True)
class Rejected:
    """A record the sink refused (e.g. a value the database cannot store)."""

    topic: str
    partition: int
    offset: int
    reason: str


class RecordsRejected(SinkError):
    """Some records of a batch cannot be stored; nothing was written.

    Dead-letter them, then write the batch again with their ``event`` set to
    None so that their offsets still advance.
    """

    def __init__(self, rejected: Sequence[Rejected]) -> None:
        self.rejected = list(rejected)
        detail = "; ".join(f"{r.topic}[{r.partition}]@{r.offset}: {r.reason}" for r in self.rejected[:3])
        more = f" (and {len(self.rejected) - 3} more)" if len(self.rejected) > 3 else ""
        super().__init__(f"{len(self.rejected)} record(s) cannot be stored: {detail}{more}")


# -- values in and out --------------------------------------------------------------------------
@dataclass(frozen=True)
class SinkRecord:
    """One consumed record: its coordinates and the decoded shared event (None if it was dead-lettered)."""

    topic: str
    partition: int
    offset: int
    zone: str
    event_type: str
    event: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)

    @property
    def event_id(self) -> str | None:
        return None if self.event is None else str(self.event["event_id"])


@dataclass(frozen=True)
class WriteResult:
    """What one :meth:`Sink.write` did."""

    written: int
    """Events stored by this write."""
    duplicates: int
    """Events not stored because their ``event_id`` was already held (or repeated in the batch)."""
    skipped: int
    """Records below the stored offsets: an earlier write already handled them."""
    offsets: dict[TopicPartition, int]
    """``next_offset`` stored per (topic, partition) of the batch after the write."""


class Sink(ABC):
    """Common interface of the sinks. Call :meth:`prepare` first; use as a context manager or :meth:`close`."""

    subscriber: str

    @property
    @abstractmethod
    def description(self) -> str:
        """Where the sink writes, for humans (no password)."""

    @abstractmethod
    def prepare(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        """Create what the event types of ``schemas`` (event type -> reader schema document) need; recover."""

    @abstractmethod
    def positions(self) -> dict[TopicPartition, int]:
        """The stored ``next_offset`` of every (topic, partition) this subscriber has written."""

    @abstractmethod
    def write(self, records: Sequence[SinkRecord]) -> WriteResult:
        """Store ``records`` and the offsets they reach in one atomic step (see the module docstring).

        Raises :class:`SinkUnavailable` (nothing or a consistent prefix was stored: retry the same
        batch), :class:`RecordsRejected` (nothing stored) or :class:`SinkError`.
        """

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_sink(url: str, subscriber: str) -> Sink:
    """The sink of a ``--sink`` URL: ``sqlite:///path.db``, ``postgresql+psycopg://...`` or ``jsonl:///dir``.

    ``jsonl://`` is followed by the folder (``jsonl:///abs/dir`` or ``jsonl://relative/dir``).
    """
    if url.startswith("jsonl:"):
        if not url.startswith("jsonl://") or len(url) <= len("jsonl://"):
            raise ConfigError(f"--sink: expected jsonl:///path/to/dir, got {url!r}")
        return JsonlSink(Path(url[len("jsonl://") :]), subscriber)
    return SqlSink(url, subscriber)


# -- JSON values --------------------------------------------------------------------------------
def json_value(value: Any) -> Any:
    """A decoded Avro value as JSON: decimals as exact strings, instants as ISO-8601, bytes as base64."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


# -- Avro -> SQL --------------------------------------------------------------------------------------
class ExactDecimal(TypeDecorator[Decimal]):
    """An Avro decimal kept exact: NUMERIC(p, s) on PostgreSQL, its decimal text on SQLite (which has no exact type)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return format(Decimal(value), "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: TIMESTAMPTZ on PostgreSQL; on SQLite, UTC text read back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]


def _json_type() -> TypeEngine[Any]:
    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def _text_array_type() -> TypeEngine[Any]:
    return JSON().with_variant(postgresql.ARRAY(Text()), "postgresql")


_PRIMITIVES: Final[Mapping[str, type[TypeEngine[Any]]]] = {
    "string": Text,
    "int": Integer,
    "long": BigInteger,
    "boolean": Boolean,
    "float": Float,
    "double": Double,
    "bytes": LargeBinary,
}


@dataclass(frozen=True)
class _ColumnType:
    type: TypeEngine[Any]
    nullable: bool
    json: bool = False
    """Values go through :func:`json_value` (JSON columns)."""


def _named(avro: Any, names: dict[str, Any], namespace: str | None) -> None:
    if isinstance(avro, dict) and avro.get("type") in ("record", "enum", "fixed") and "name" in avro:
        ns = avro.get("namespace", namespace)
        name = str(avro["name"])
        names[name] = avro
        names[f"{ns}.{name}" if ns and "." not in name else name] = avro


def _resolve(avro: Any, names: dict[str, Any]) -> Any:
    if isinstance(avro, str) and avro not in _PRIMITIVES and avro != "null":
        found = names.get(avro) or names.get(avro.rsplit(".", 1)[-1])
        if found is None:
            raise ConfigError(f"reader schema: unknown type name {avro!r}")
        return found
    return avro


def _collect(avro: Any, names: dict[str, Any], namespace: str | None) -> None:
    """Register every named type defined inside ``avro`` (so a later field may refer to it by name)."""
    if isinstance(avro, list):
        for branch in avro:
            _collect(branch, names, namespace)
    elif isinstance(avro, dict):
        _named(avro, names, namespace)
        ns = avro.get("namespace", namespace)
        if avro.get("type") == "record":
            for f in avro.get("fields", []):
                _collect(f.get("type"), names, ns)
        elif avro.get("type") == "array":
            _collect(avro.get("items"), names, ns)
        elif avro.get("type") == "map":
            _collect(avro.get("values"), names, ns)


def column_type(avro: Any, names: dict[str, Any] | None = None) -> _ColumnType:
    """How a field of Avro type ``avro`` is stored in SQL.

    Strings, enums (their symbol) and uuids -> TEXT; int -> INTEGER; long -> BIGINT;
    decimal -> exact (see :class:`ExactDecimal`); timestamp-* -> instants (UTC); date -> DATE;
    arrays of strings or enums -> TEXT[] on PostgreSQL, JSON on SQLite; other arrays, maps,
    records and unions of several types -> JSON; ``["null", T]`` -> T, nullable.
    """
    names = {} if names is None else names
    avro = _resolve(avro, names)
    if isinstance(avro, list):
        rest = [b for b in avro if b != "null"]
        nullable = len(rest) < len(avro)
        if len(rest) == 1:
            inner = column_type(rest[0], names)
            return _ColumnType(inner.type, nullable, inner.json)
        return _ColumnType(_json_type(), nullable, True)
    if isinstance(avro, str):
        if avro == "null":
            return _ColumnType(Text(), True)
        return _ColumnType(_PRIMITIVES[avro](), False)
    if not isinstance(avro, dict):
        raise ConfigError(f"reader schema: unsupported Avro type {avro!r}")
    kind = avro.get("type")
    logical = avro.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return _ColumnType(ExactDecimal(int(avro["precision"]), int(avro.get("scale", 0))), False)
    if logical in ("timestamp-millis", "timestamp-micros") and kind == "long":
        return _ColumnType(UtcDateTime(), False)
    if logical in ("local-timestamp-millis", "local-timestamp-micros") and kind == "long":
        return _ColumnType(DateTime(), False)
    if logical == "date" and kind == "int":
        return _ColumnType(Date(), False)
    if logical in ("time-millis", "time-micros"):
        return _ColumnType(Time(), False)
    if kind == "enum":
        return _ColumnType(Text(), False)
    if kind == "fixed":
        return _ColumnType(LargeBinary(), False)
    if kind == "array":
        items = _resolve(avro.get("items"), names)
        stringy = items == "string" or (isinstance(items, dict) and items.get("type") == "enum")
        return _ColumnType(_text_array_type() if stringy else _json_type(), False, not stringy)
    if kind in ("map", "record"):
        return _ColumnType(_json_type(), False, True)
    if isinstance(kind, str | list | dict):
        return column_type(kind, names)  # {"type": "string"} and friends
    raise ConfigError(f"reader schema: unsupported Avro type {avro!r}")


def table_name(event_type: str) -> str:
    """``CaseOpened`` -> ``case_opened``."""
    return event_slug(event_type).replace("-", "_")


def event_table(metadata: MetaData, event_type: str, schema: Mapping[str, Any]) -> tuple[Table, frozenset[str]]:
    """The table of ``event_type`` for a reader ``schema`` document, and the names of its JSON columns."""
    names: dict[str, Any] = {}
    _collect(dict(schema), names, None)
    fields = list(schema.get("fields", []))
    field_names = [str(f["name"]) for f in fields]
    if "event_id" not in field_names:
        raise ConfigError(f"reader schema of {event_type}: no event_id field, so no key to deduplicate by")
    clash = sorted(set(field_names) & set(COORDINATE_COLUMNS))
    if clash:
        raise ConfigError(f"reader schema of {event_type}: field {clash[0]} clashes with a coordinate column")
    columns: list[Column[Any]] = []
    json_columns: set[str] = set()
    for f in fields:
        name = str(f["name"])
        ct = column_type(f["type"], names)
        if ct.json:
            json_columns.add(name)
        if name == "event_id":
            columns.insert(0, Column(name, String(128), primary_key=True))
        else:
            columns.append(Column(name, ct.type, nullable=ct.nullable))
    columns += [
        Column("zone", String(32), nullable=False),
        Column("source_topic", String(255), nullable=False),
        Column("source_partition", Integer, nullable=False),
        Column("source_offset", BigInteger, nullable=False),
    ]
    return Table(table_name(event_type), metadata, *columns), frozenset(json_columns)


def offsets_table(metadata: MetaData) -> Table:
    """``subscriber_offsets``: the next offset to read per (subscriber, topic, partition)."""
    return Table(
        OFFSETS_TABLE,
        metadata,
        Column("subscriber", String(64), primary_key=True),
        Column("topic", String(255), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )


# -- SQL engine ---------------------------------------------------------------------------------------
def sql_url(url: str) -> URL:
    """Parse a SQL sink URL: SQLite (standard driver) or PostgreSQL through psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"--sink: cannot parse {url!r}; use sqlite:///path.db, postgresql+psycopg://... or jsonl:///dir"
        ) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError("--sink: an in-memory SQLite database keeps nothing; give a file, sqlite:///path.db")
        return parsed
    raise ConfigError(
        f"--sink: unsupported {parsed.drivername!r}; use sqlite:///path.db, postgresql+psycopg://... or jsonl:///dir"
    )


def sql_engine(url: str) -> Engine:
    """An engine for a SQL sink: PostgreSQL with pre-ping; SQLite in WAL mode, writes as ``BEGIN IMMEDIATE``
    (take the write lock first: no failed lock upgrade) and ``synchronous=FULL`` (a committed batch survives
    a power cut too)."""
    return make_engine(
        sql_url(url).render_as_string(hide_password=False), setting="--sink", synchronous="FULL", begin="IMMEDIATE"
    )


_OUTAGES: Final = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- SQL sink -----------------------------------------------------------------------------------------
class SqlSink(Sink):
    """Events in SQL tables, one per event type; rows and offsets commit in one transaction."""

    def __init__(self, url: str, subscriber: str, *, engine: Engine | None = None) -> None:
        self.subscriber = subscriber
        self.engine = engine if engine is not None else sql_engine(url)
        self.metadata = MetaData()
        self.offsets = offsets_table(self.metadata)
        self.tables: dict[str, Table] = {}
        self._json: dict[str, frozenset[str]] = {}

    @property
    def description(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def _is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _insert(self, table: Table) -> Any:
        return (postgresql.insert if self._is_postgres else sqlite.insert)(table)

    def prepare(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        """Create the tables of ``schemas`` and ``subscriber_offsets``; add columns a newer reader schema has."""
        for event_type, schema in schemas.items():
            if event_type not in self.tables:
                self.tables[event_type], self._json[event_type] = event_table(self.metadata, event_type, schema)
        try:
            with self.engine.begin() as conn:
                self.metadata.create_all(conn, checkfirst=True)
                self._add_missing_columns(conn)
        except _OUTAGES as exc:
            raise SinkUnavailable(f"sink {self.description}: cannot create the tables: {_reason(exc)}") from exc
        except SQLAlchemyError as exc:
            raise SinkError(f"sink {self.description}: cannot create the tables: {_reason(exc)}") from exc

    def _add_missing_columns(self, conn: Connection) -> None:
        """A reader schema upgraded with an optional field gets its column (NULL in the rows stored before)."""
        found = inspect(conn)
        for table in self.tables.values():
            present = {c["name"] for c in found.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                spec = CreateColumn(Column(column.name, column.type, nullable=True)).compile(dialect=conn.dialect)
                quoted = conn.dialect.identifier_preparer.quote(table.name)
                conn.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN {spec}")

    def positions(self) -> dict[TopicPartition, int]:
        query = select(self.offsets.c.topic, self.offsets.c.partition, self.offsets.c.next_offset).where(
            self.offsets.c.subscriber == self.subscriber
        )
        try:
            with self.engine.connect() as conn:
                return {(r.topic, int(r.partition)): int(r.next_offset) for r in conn.execute(query)}
        except _OUTAGES as exc:
            raise SinkUnavailable(f"sink {self.description}: cannot read the offsets: {_reason(exc)}") from exc
        except SQLAlchemyError as exc:
            raise SinkError(f"sink {self.description}: cannot read the offsets: {_reason(exc)}") from exc

    def write(self, records: Sequence[SinkRecord]) -> WriteResult:
        if not records:
            return WriteResult(0, 0, 0, {})
        missing = sorted({r.event_type for r in records if r.event is not None} - set(self.tables))
        if missing:
            raise SinkError(f"sink {self.description}: no table for event type {missing[0]} (prepare it first)")
        try:
            return self._write(records)
        except (IntegrityError, DataError) as exc:
            failure: SQLAlchemyError = exc
        except _OUTAGES as exc:
            raise SinkUnavailable(f"sink {self.description}: {_reason(exc)}") from exc
        except StatementError as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise SinkUnavailable(f"sink {self.description}: {_reason(exc)}") from exc
            failure = exc  # a value the column type refused before it reached the database
        except SQLAlchemyError as exc:
            raise SinkError(f"sink {self.description}: {_reason(exc)}") from exc
        rejected = self._find_rejected(records)
        if not rejected:  # no single record fails alone: a conflict with another writer; try again
            raise SinkUnavailable(f"sink {self.description}: {_reason(failure)}") from failure
        raise RecordsRejected(rejected) from failure

    def _row(self, record: SinkRecord) -> dict[str, Any]:
        assert record.event is not None
        json_columns = self._json[record.event_type]
        table = self.tables[record.event_type]
        row = {
            c.name: (json_value(record.event.get(c.name)) if c.name in json_columns else record.event.get(c.name))
            for c in table.columns
            if c.name not in COORDINATE_COLUMNS
        }
        row.update(
            zone=record.zone, source_topic=record.topic, source_partition=record.partition, source_offset=record.offset
        )
        return row

    def _stored(self, conn: Connection, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        o = self.offsets.c
        query = select(o.topic, o.partition, o.next_offset).where(
            o.subscriber == self.subscriber, o.topic.in_(sorted({t for t, _ in tps}))
        )
        if self._is_postgres:
            query = query.with_for_update()
        rows = conn.execute(query)
        return {(r.topic, int(r.partition)): int(r.next_offset) for r in rows if (r.topic, int(r.partition)) in tps}

    def _existing(self, conn: Connection, table: Table, ids: list[str]) -> set[str]:
        found: set[str] = set()
        key = table.c.event_id
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            found.update(str(v) for v in conn.execute(select(key).where(key.in_(chunk))).scalars())
        return found

    def _write(self, records: Sequence[SinkRecord]) -> WriteResult:
        with self.engine.begin() as conn:
            stored = self._stored(conn, {r.tp for r in records})
            fresh = [r for r in records if r.offset >= stored.get(r.tp, 0)]
            duplicates = 0
            by_type: dict[str, dict[str, SinkRecord]] = {}
            for r in fresh:
                if r.event is None:
                    continue
                bucket = by_type.setdefault(r.event_type, {})
                eid = str(r.event_id)
                if eid in bucket:
                    duplicates += 1
                else:
                    bucket[eid] = r
            written = 0
            for event_type, bucket in sorted(by_type.items()):
                table = self.tables[event_type]
                held = self._existing(conn, table, list(bucket))
                rows = [self._row(r) for eid, r in bucket.items() if eid not in held]
                duplicates += len(bucket) - len(rows)
                if rows:
                    conn.execute(self._insert(table).on_conflict_do_nothing(index_elements=["event_id"]), rows)
                written += len(rows)
            reached: dict[TopicPartition, int] = {}
            for r in fresh:
                reached[r.tp] = max(reached.get(r.tp, 0), r.offset + 1)
            offsets = {tp: max(stored.get(tp, 0), n) for tp, n in reached.items()}
            if offsets:
                self._store_offsets(conn, offsets)
        final = {tp: offsets.get(tp, stored.get(tp, 0)) for tp in {r.tp for r in records}}
        return WriteResult(written, duplicates, len(records) - len(fresh), final)

    def _store_offsets(self, conn: Connection, offsets: Mapping[TopicPartition, int]) -> None:
        now = datetime.now(UTC)
        stmt = self._insert(self.offsets)
        stmt = stmt.on_conflict_do_update(
            index_elements=["subscriber", "topic", "partition"],
            set_={"next_offset": stmt.excluded.next_offset, "updated_at": stmt.excluded.updated_at},
            where=self.offsets.c.next_offset < stmt.excluded.next_offset,
        )
        rows = [
            {"subscriber": self.subscriber, "topic": t, "partition": p, "next_offset": n, "updated_at": now}
            for (t, p), n in sorted(offsets.items())
        ]
        conn.execute(stmt, rows)

    def _find_rejected(self, records: Sequence[SinkRecord]) -> list[Rejected]:
        """Try each record alone inside a savepoint of a transaction that is rolled back."""
        rejected: list[Rejected] = []
        try:
            with self.engine.connect() as conn, conn.begin() as outer:
                for r in records:
                    if r.event is None:
                        continue
                    table = self.tables[r.event_type]
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                self._insert(table).on_conflict_do_nothing(index_elements=["event_id"]), [self._row(r)]
                            )
                    except (IntegrityError, DataError, StatementError) as exc:
                        if isinstance(exc, _OUTAGES):
                            raise
                        rejected.append(Rejected(r.topic, r.partition, r.offset, _reason(exc)))
                outer.rollback()
        except _OUTAGES as exc:
            raise SinkUnavailable(f"sink {self.description}: {_reason(exc)}") from exc
        except SQLAlchemyError as exc:
            raise SinkError(f"sink {self.description}: {_reason(exc)}") from exc
        return rejected

    def close(self) -> None:
        self.engine.dispose()


# -- JSON Lines sink ---------------------------------------------------------------------------------
OFFSETS_FILE: Final = "offsets.json"
LOCK_FILE: Final = ".lock"
FORMAT_VERSION: Final = 1
_SEGMENT: Final = re.compile(r"^(\d{5})-(\d{20})-(\d{20})\.jsonl$")


def segment_name(partition: int, first: int, next_offset: int) -> str:
    """``<partition>-<first offset>-<next offset>.jsonl``: the segment holds records with first <= offset < next."""
    return f"{partition:05d}-{first:020d}-{next_offset:020d}.jsonl"


@dataclass(frozen=True)
class Segment:
    """A committed segment file of the JSON Lines sink."""

    path: Path
    topic: str
    partition: int
    first: int
    next_offset: int


def parse_segment(path: Path) -> Segment | None:
    """The segment a file name describes, or None for any other file."""
    match = _SEGMENT.fullmatch(path.name)
    if match is None:
        return None
    return Segment(path, path.parent.name, int(match[1]), int(match[2]), int(match[3]))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file, fsync it, rename it over ``path``, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


class JsonlSink(Sink):
    """Events as JSON Lines segment files, one folder per topic, offsets in ``offsets.json``.

    One folder belongs to one subscriber and one process at a time (an exclusive
    lock on ``.lock``). See docs/subscribers.md for the protocol and the recovery.
    """

    def __init__(self, directory: Path, subscriber: str) -> None:
        self.subscriber = subscriber
        self.directory = directory
        self.recovered: list[str] = []
        """What :meth:`prepare` repaired (segments rolled forward, temporary files removed), for the operator."""
        self._next: dict[TopicPartition, int] = {}
        self._seen: dict[str, set[str]] = {}
        self._lock: IO[bytes] | None = None

    @property
    def description(self) -> str:
        return f"jsonl://{self.directory}"

    # -- opening and recovery ----------------------------------------------------------------------------
    def prepare(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        """Lock the folder, remove temporary files, roll forward segments the offsets file does not cover yet."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._recover()
        except OSError as exc:
            raise SinkUnavailable(f"sink {self.description}: {exc}") from exc

    def _take_lock(self) -> None:
        if self._lock is not None:
            return
        handle = open(self.directory / LOCK_FILE, "a+b")  # noqa: SIM115 - held open until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SinkError(
                f"sink {self.description}: another subscriber process writes to this folder (it holds {LOCK_FILE})"
            ) from None
        self._lock = handle

    def _read_offsets_file(self) -> dict[TopicPartition, int]:
        path = self.directory / OFFSETS_FILE
        if not path.exists():
            return {}
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            owner = doc["subscriber"]
            if doc.get("format") != FORMAT_VERSION:
                raise SinkError(f"sink {self.description}: {OFFSETS_FILE} has format {doc.get('format')!r}")
            offsets = {(str(t), int(p)): int(n) for t, parts in doc["offsets"].items() for p, n in parts.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SinkError(f"sink {self.description}: {OFFSETS_FILE} is not a valid offsets file: {exc}") from exc
        if owner != self.subscriber:
            raise SinkError(
                f"sink {self.description}: this folder belongs to subscriber {owner!r}, not {self.subscriber!r}"
            )
        return offsets

    def segments(self, topic: str | None = None) -> list[Segment]:
        """Committed segment files (of ``topic``, or all), in (topic, partition, offset) order."""
        folders = [self.directory / topic] if topic else [p for p in self.directory.iterdir() if p.is_dir()]
        found = [s for d in folders if d.is_dir() for p in d.iterdir() if (s := parse_segment(p)) is not None]
        return sorted(found, key=lambda s: (s.topic, s.partition, s.first))

    def _recover(self) -> None:
        recorded = self._read_offsets_file()
        for folder in [self.directory, *(p for p in self.directory.iterdir() if p.is_dir())]:
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink()
                self.recovered.append(f"removed the unfinished temporary file {tmp}")
        nexts = dict(recorded)
        previous: Segment | None = None
        for seg in self.segments():
            if seg.next_offset <= seg.first:
                raise SinkError(f"sink {self.description}: segment {seg.path} has an empty offset range")
            same = previous is not None and (previous.topic, previous.partition) == (seg.topic, seg.partition)
            if same and previous is not None and seg.first < previous.next_offset:
                raise SinkError(
                    f"sink {self.description}: segments {previous.path.name} and {seg.path.name} of {seg.topic} overlap"
                )
            previous = seg
            tp = (seg.topic, seg.partition)
            if seg.next_offset > nexts.get(tp, 0):
                if seg.next_offset > recorded.get(tp, 0):
                    self.recovered.append(
                        f"segment {seg.topic}/{seg.path.name} was written but its offsets were not recorded: "
                        "kept, offsets rolled forward"
                    )
                nexts[tp] = seg.next_offset
        for note in self.recovered:
            log.warning("sink %s recovered: %s", self.description, note)
        self._next = nexts
        if nexts != recorded or not (self.directory / OFFSETS_FILE).exists():
            self._write_offsets_file()

    def _write_offsets_file(self) -> None:
        by_topic: dict[str, dict[str, int]] = {}
        for (topic, partition), n in sorted(self._next.items()):
            by_topic.setdefault(topic, {})[str(partition)] = n
        doc = {
            "format": FORMAT_VERSION,
            "subscriber": self.subscriber,
            "updated_at": datetime.now(UTC).isoformat(),
            "offsets": by_topic,
        }
        _atomic_write(self.directory / OFFSETS_FILE, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"))

    def _seen_ids(self, topic: str) -> set[str]:
        """The event ids held in ``topic``'s segments (read once, then kept up to date)."""
        seen = self._seen.get(topic)
        if seen is None:
            seen = set()
            for seg in self.segments(topic):
                for lineno, line in enumerate(_lines(seg.path), start=1):
                    try:
                        seen.add(str(json.loads(line)["event"]["event_id"]))
                    except (ValueError, KeyError, TypeError) as exc:
                        raise SinkError(f"sink {self.description}: {seg.path}:{lineno} is not an event line") from exc
            self._seen[topic] = seen
        return seen

    # -- the interface ------------------------------------------------------------------------------------
    def positions(self) -> dict[TopicPartition, int]:
        if self._lock is None:
            raise SinkError(f"sink {self.description}: prepare() it first")
        return dict(self._next)

    def write(self, records: Sequence[SinkRecord]) -> WriteResult:
        if self._lock is None:
            raise SinkError(f"sink {self.description}: prepare() it first")
        if not records:
            return WriteResult(0, 0, 0, {})
        groups: dict[TopicPartition, list[SinkRecord]] = {}
        skipped = 0
        for r in records:
            if r.offset < self._next.get(r.tp, 0):
                skipped += 1
            else:
                groups.setdefault(r.tp, []).append(r)
        encoded = self._encode(records)
        written = duplicates = 0
        try:
            for tp in sorted(groups):
                group = sorted(groups[tp], key=lambda r: r.offset)
                seen = self._seen_ids(tp[0])
                fresh: set[str] = set()
                lines: list[bytes] = []
                for r in group:
                    eid = r.event_id
                    if eid is None:
                        continue
                    if eid in seen or eid in fresh:
                        duplicates += 1
                        continue
                    fresh.add(eid)
                    lines.append(encoded[(r.topic, r.partition, r.offset)])
                first = self._next.get(tp, group[0].offset)
                end = group[-1].offset + 1
                if lines:
                    folder = self.directory / tp[0]
                    folder.mkdir(exist_ok=True)
                    _atomic_write(folder / segment_name(tp[1], first, end), b"".join(lines))
                # the segment is committed: from here a crash is rolled forward by _recover
                seen.update(fresh)
                self._next[tp] = end
                written += len(lines)
            self._write_offsets_file()
        except OSError as exc:
            raise SinkUnavailable(f"sink {self.description}: {exc}") from exc
        return WriteResult(written, duplicates, skipped, {tp: self._next[tp] for tp in {r.tp for r in records}})

    def _encode(self, records: Sequence[SinkRecord]) -> dict[tuple[str, int, int], bytes]:
        out: dict[tuple[str, int, int], bytes] = {}
        rejected: list[Rejected] = []
        for r in records:
            if r.event is None:
                continue
            line = {
                "type": r.event_type,
                "zone": r.zone,
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "event": json_value(r.event),
            }
            try:
                out[(r.topic, r.partition, r.offset)] = (
                    json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
                ).encode("utf-8")
            except (TypeError, ValueError) as exc:
                rejected.append(Rejected(r.topic, r.partition, r.offset, f"not representable as JSON: {exc}"))
        if rejected:
            raise RecordsRejected(rejected)
        return out

    def close(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()


def _lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def read_jsonl(directory: Path, topic: str | None = None) -> Iterator[dict[str, Any]]:
    """Every event line of a JSON Lines sink folder (of ``topic``, or all), in (topic, partition, offset) order."""
    sink = JsonlSink(directory, "-")
    for seg in sink.segments(topic):
        for line in _lines(seg.path):
            yield json.loads(line)


__all__ = [
    "COORDINATE_COLUMNS",
    "OFFSETS_TABLE",
    "JsonlSink",
    "RecordsRejected",
    "Rejected",
    "Sink",
    "SinkError",
    "SinkRecord",
    "SinkUnavailable",
    "SqlSink",
    "WriteResult",
    "column_type",
    "event_table",
    "json_value",
    "open_sink",
    "read_jsonl",
    "segment_name",
    "sql_engine",
]
