"""The tracking writer's contract on the partner sinks: the SQL sink on SQLite and PostgreSQL, and the JSON Lines sink.

The sink-specific tests (tables, column types, URLs, JSON Lines segments and
their crash windows) stay in test_sinks.py.
"""

# ruff: noqa: E402 - the contract module is registered for assertion rewriting before it is imported
from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.tracking_contract")  # its assertions report their values, as a test module's do

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from consumers.sinks import JsonlSink, SinkError, SinkRecord, SqlSink, WriteResult, read_jsonl
from hub.schemas import load_schema
from tests.partner_events import as_decoded, event
from tests.tracking_contract import Item, TopicPartition, TrackingContract, Wrote, holding_sql_offsets

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


def _wrote(items: Sequence[Item], result: WriteResult) -> Wrote:
    return Wrote(len(items) - result.skipped, result.skipped)


# -- SQL sink --------------------------------------------------------------------------------------------
class SqlSinkWriter:
    """A SQL sink of subscriber ``contract`` on its own engine."""

    #: case_ref is NOT NULL in the table of CaseOpened.
    REFUSED: Mapping[str, Any] = {"case_ref": None}

    def __init__(self, url: str) -> None:
        self.sink = SqlSink(url, SUBSCRIBER)
        self.sink.prepare(_readers())

    def write(self, items: Sequence[Item]) -> Wrote:
        return _wrote(items, self.sink.write([_record(i, self.REFUSED) for i in items]))

    def positions(self) -> dict[TopicPartition, int]:
        return self.sink.positions()

    def contents(self) -> list[str]:
        table = self.sink.tables[EVENT_TYPE]
        with self.sink.engine.connect() as conn:
            return sorted(str(v) for v in conn.execute(select(table.c.event_id)).scalars())

    def close(self) -> None:
        self.sink.close()


def open_sql_sink_writer(location: str) -> SqlSinkWriter:
    return SqlSinkWriter(location)


class _SqlSinkContract(TrackingContract):
    writer_factory = "tests.test_tracking_sinks:open_sql_sink_writer"
    crash_point = "hub.tracking:TrackingWriter._advance"

    def make_storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        url = self.database_url(request, tmp_path)
        SqlSinkWriter(url).close()  # the tables exist before any writer races to create them
        return url

    def database_url(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        raise NotImplementedError

    @contextmanager
    def holding_the_offsets(self, tps: Sequence[TopicPartition]) -> Iterator[Any]:
        holder = SqlSink(self.location, SUBSCRIBER)
        try:
            with holding_sql_offsets(holder.writer, self.location, tps) as until_waiting:
                yield until_waiting
        finally:
            holder.close()


class TestSqlSinkOnSqlite(_SqlSinkContract):
    def database_url(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'partner.db'}"


@pytest.mark.postgres
class TestSqlSinkOnPostgres(_SqlSinkContract):
    def database_url(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        return str(request.getfixturevalue("fresh_postgres_url"))


# -- JSON Lines sink -------------------------------------------------------------------------------------
class JsonlSinkWriter:
    """A JSON Lines sink of subscriber ``contract`` (it holds the folder's lock while open)."""

    #: A float that JSON cannot carry (the sink writes strict JSON).
    REFUSED: Mapping[str, Any] = {"case_ref": float("nan")}

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.sink = JsonlSink(self.directory, SUBSCRIBER)
        self.sink.prepare(_readers())

    def write(self, items: Sequence[Item]) -> Wrote:
        return _wrote(items, self.sink.write([_record(i, self.REFUSED) for i in items]))

    def positions(self) -> dict[TopicPartition, int]:
        return self.sink.positions()

    def contents(self) -> list[str]:
        return sorted(str(line["event"]["event_id"]) for line in read_jsonl(self.directory))

    def close(self) -> None:
        self.sink.close()


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
