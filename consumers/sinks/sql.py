"""The SQL sink (SQLite ``sqlite:///path.db`` or PostgreSQL ``postgresql+psycopg://...``), on the tracking writer.

One table per event type named after it (``case_opened``), one column per
field of the pinned reader schema (:mod:`consumers.sinks.avro_types`) plus
``zone``, ``source_topic``, ``source_partition``, ``source_offset``; primary
key ``event_id``. The rows and ``subscriber_offsets`` (the next offset per
subscriber, topic and partition) commit in one transaction of
:class:`hub.tracking.TrackingWriter`: the same offset guard, PostgreSQL
locking, refused-record isolation and error classification as the projection
store. An ``event_id`` already held (by this subscriber or another one
sharing the database) is counted as a duplicate and not written again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Column, Connection, Engine, MetaData, Table, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateColumn

from consumers.sinks.avro_types import COORDINATE_COLUMNS, event_table, json_value
from consumers.sinks.base import SINK_FAILURES, Sink, SinkError, SinkRecord, TopicPartition, WriteResult
from hub.sql import make_engine
from hub.tracking import OffsetsTable, TrackingWriter

OFFSETS_TABLE: Final = "subscriber_offsets"
#: ``subscriber_offsets``: the next offset to read per (subscriber, topic, partition).
SUBSCRIBER_OFFSETS: Final = OffsetsTable(OFFSETS_TABLE, owner_column="subscriber", aware_timestamps=True)
_FORMS: Final = "sqlite:///path.db, postgresql+psycopg://... or jsonl:///dir"
_IN_CHUNK: Final = 500


def offsets_table(metadata: MetaData) -> Table:
    """``subscriber_offsets`` in ``metadata``."""
    return SUBSCRIBER_OFFSETS.build(metadata)


def sql_engine(url: str) -> Engine:
    """An engine for a SQL sink: PostgreSQL with pre-ping; SQLite in WAL mode, writes as ``BEGIN IMMEDIATE``
    (take the write lock first: no failed lock upgrade) and ``synchronous=FULL`` (a committed batch survives
    a power cut too). An in-memory SQLite database is refused: it would keep nothing."""
    return make_engine(url, setting="--sink", forms=_FORMS, needs_file=True, synchronous="FULL", begin="IMMEDIATE")


class SqlSink(Sink):
    """Events in SQL tables, one per event type; rows and offsets commit in one transaction."""

    def __init__(self, url: str, subscriber: str, *, engine: Engine | None = None) -> None:
        self.subscriber = subscriber
        self.engine = engine if engine is not None else sql_engine(url)
        self.metadata = MetaData()
        self.offsets = offsets_table(self.metadata)
        self.tables: dict[str, Table] = {}
        self._json: dict[str, frozenset[str]] = {}
        self._writer = TrackingWriter(
            self.engine,
            self.offsets,
            owner_column=SUBSCRIBER_OFFSETS.owner_column,
            owner=subscriber,
            failures=SINK_FAILURES,
        )

    @property
    def description(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def writer(self) -> TrackingWriter:
        """The tracking writer of this subscriber's rows and offsets."""
        return self._writer

    def _insert(self, table: Table) -> Any:
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)

    def prepare(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        """Create the tables of ``schemas`` and ``subscriber_offsets``; add columns a newer reader schema has."""
        for event_type, schema in schemas.items():
            if event_type not in self.tables:
                self.tables[event_type], self._json[event_type] = event_table(self.metadata, event_type, schema)
        try:
            with self.engine.begin() as conn:
                self.metadata.create_all(conn, checkfirst=True)
                self._add_missing_columns(conn)
        except SQLAlchemyError as exc:
            raise SINK_FAILURES.translate(exc, f"sink {self.description}: cannot create the tables") from exc

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
        return self._writer.stored(doing=f"sink {self.description}: cannot read the offsets")

    def write(self, records: Sequence[SinkRecord]) -> WriteResult:
        if not records:
            return WriteResult(0, 0, 0, {})
        missing = sorted({r.event_type for r in records if r.event is not None} - set(self.tables))
        if missing:
            raise SinkError(f"sink {self.description}: no table for event type {missing[0]} (prepare it first)")
        done = self._writer.apply(
            records, self._write_rows, doing=f"sink {self.description}", has_rows=lambda r: r.event is not None
        )
        written, duplicates = done.rows
        return WriteResult(written, duplicates, done.skipped, done.offsets)

    def _write_rows(self, conn: Connection, fresh: Sequence[SinkRecord]) -> tuple[int, int]:
        """Insert the events of ``fresh`` not held yet; returns (written, duplicates)."""
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
        return written, duplicates

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

    def _existing(self, conn: Connection, table: Table, ids: list[str]) -> set[str]:
        found: set[str] = set()
        key = table.c.event_id
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            found.update(str(v) for v in conn.execute(select(key).where(key.in_(chunk))).scalars())
        return found

    def close(self) -> None:
        self.engine.dispose()


__all__ = ["OFFSETS_TABLE", "SUBSCRIBER_OFFSETS", "SqlSink", "offsets_table", "sql_engine"]
