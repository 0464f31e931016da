"""The tracking writer's contract on the partner sinks: the SQL sink on SQLite and PostgreSQL, and the JSON Lines sink.

The sink-specific tests (tables, column types, URLs, JSON Lines segments and
their crash windows) stay in test_sinks.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from consumers.sinks import JsonlSink, Sink, SinkError, SinkRecord, SqlSink, read_jsonl
from hub.schemas import load_schema
from hub.tracking import TrackingWriter
from tests.partner_events import as_decoded, event
from tests.tracking_contract import Item, SqlTrackingContract, TopicPartition, TrackingContract, Wrote

SUBSCRIBER = "contract"
EVENT_TYPE = "CaseOpened"


@cache
def _readers() -> dict[str, Mapping[str, Any]]:
    return {EVENT_TYPE: load_schema("shared", EVENT_TYPE)}


@cache
def _template() -> dict[str, Any]:
    """A decoded CaseOpened as a partner's reader sees it; each item gets its own ``event_id``."""
    return as_decoded(EVENT_TYPE, event(EVENT_TYPE, "HK").shared_record)


def _record(item: Item, refused: Mapping[str, Any]) -> SinkRecord:
    """``refused``: the fields that make the sink refuse the event."""
    values: dict[str, Any] | None = None
    if item.kind != "dead":
        values = {**_template(), "event_id": item.ident, **(refused if item.kind == "refused" else {})}
    return SinkRecord(item.topic, item.partition, item.offset, "gba", EVENT_TYPE, values)


class _SinkWriter:
    """A sink of subscriber ``contract``; a subclass opens it and says what it refuses and what it holds."""

    #: The fields that make the sink refuse an event.
    REFUSED: ClassVar[Mapping[str, Any]]
    sink: Sink

    def write(self, items: Sequence[Item]) -> Wrote:
        result = self.sink.write([_record(i, self.REFUSED) for i in items])
        return Wrote(len(items) - result.skipped, result.skipped)

    def positions(self) -> dict[TopicPartition, int]:
        return self.sink.positions()

    def close(self) -> None:
        self.sink.close()


# -- SQL sink --------------------------------------------------------------------------------------------
class SqlSinkWriter(_SinkWriter):
    """A SQL sink on its own engine."""

    REFUSED: ClassVar[Mapping[str, Any]] = {"case_ref": None}  # NOT NULL in the table of CaseOpened

    def __init__(self, url: str) -> None:
        self.sql = SqlSink(url, SUBSCRIBER)
        self.sql.prepare(_readers())
        self.sink = self.sql

    def contents(self) -> list[str]:
        table = self.sql.tables[EVENT_TYPE]
        with self.sql.engine.connect() as conn:
            return sorted(str(v) for v in conn.execute(select(table.c.event_id)).scalars())


def open_sql_sink_writer(location: str) -> SqlSinkWriter:
    return SqlSinkWriter(location)


class _SqlSinkContract(SqlTrackingContract):
    writer_factory = "tests.test_tracking_sinks:open_sql_sink_writer"

    def make_storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        url = self.database_url(request, tmp_path)
        SqlSinkWriter(url).close()  # the tables exist before any writer races to create them
        return url

    def offsets_writer(self) -> tuple[TrackingWriter, Callable[[], None]]:
        holder = SqlSink(self.location, SUBSCRIBER)
        return holder.writer, holder.close


class TestSqlSinkOnSqlite(_SqlSinkContract):
    dialect = "sqlite"


@pytest.mark.postgres
class TestSqlSinkOnPostgres(_SqlSinkContract):
    dialect = "postgresql"


# -- JSON Lines sink -------------------------------------------------------------------------------------
class JsonlSinkWriter(_SinkWriter):
    """A JSON Lines sink (it holds the folder's lock while open)."""

    REFUSED: ClassVar[Mapping[str, Any]] = {
        "case_ref": float("nan")
    }  # a float JSON cannot carry (the sink writes strict JSON)

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.sink = JsonlSink(self.directory, SUBSCRIBER)
        self.sink.prepare(_readers())

    def contents(self) -> list[str]:
        return sorted(str(line["event"]["event_id"]) for line in read_jsonl(self.directory))


def open_jsonl_sink_writer(location: str) -> JsonlSinkWriter:
    return JsonlSinkWriter(location)


class TestJsonlSink(TrackingContract):
    """No SQL transaction: a segment is committed by its rename and rolled forward after a crash; a folder has
    one writer at a time, so a concurrent writer is locked out (it does not wait) and resumes from the offsets."""

    writer_factory = "tests.test_tracking_sinks:open_jsonl_sink_writer"
    crash_point = "consumers.sinks.jsonl:JsonlSink._write_offsets_file"
    crash_keeps_rows = True

    def make_storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        return str(tmp_path / "partner-jsonl")

    def write_concurrently(self, plans: Sequence[Sequence[Sequence[Item]]]) -> list[list[Wrote]]:
        results: list[list[Wrote]] = []
        for plan in plans:
            writer = self.open_writer()
            with pytest.raises(SinkError, match="another subscriber process writes to this folder"):
                self.open_writer()  # while one writer holds the folder, no other gets in
            results.append([writer.write(batch) for batch in plan])
            writer.close()
        return results
