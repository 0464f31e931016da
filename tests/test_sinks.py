"""The partner sinks: SQL (SQLite and PostgreSQL) and JSON Lines, including their crash windows."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from consumers.sinks import (
    COORDINATE_COLUMNS,
    OFFSETS_FILE,
    JsonlSink,
    RecordsRejected,
    SinkError,
    SinkRecord,
    SinkUnavailable,
    SqlSink,
    column_type,
    json_value,
    open_sink,
    read_jsonl,
    segment_name,
)
from consumers.subscriber import load_reader, pinned_readers
from hub.errors import ConfigError
from hub.schemas import load_schema
from tests.conftest import free_port
from tests.partner_events import as_decoded, event

READERS = {t: load_reader(text) for t, text in pinned_readers().items()}
REPO = Path(__file__).resolve().parents[1]


def record(event_type: str, place: str, offset: int, *, partition: int = 0, **overrides: Any) -> SinkRecord:
    c = event(event_type, place, **overrides)
    zone = c.zones[0]
    topic = c.topics[0]
    return SinkRecord(topic, partition, offset, zone, event_type, as_decoded(event_type, c.shared_record))


def dead(r: SinkRecord) -> SinkRecord:
    return SinkRecord(r.topic, r.partition, r.offset, r.zone, r.event_type, None)


def again(r: SinkRecord, offset: int) -> SinkRecord:
    """The same event re-delivered at another offset (a gateway re-send)."""
    return SinkRecord(r.topic, r.partition, offset, r.zone, r.event_type, r.event)


# -- SQL sink ------------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'partner.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def sql_sink(sql_url: str) -> Iterator[SqlSink]:
    sink = SqlSink(sql_url, "hk")
    sink.prepare(READERS)
    try:
        yield sink
    finally:
        sink.close()


def rows(sink: SqlSink, event_type: str) -> list[dict[str, Any]]:
    table = sink.tables[event_type]
    with sink.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.source_offset))]


def test_one_table_per_event_type_with_the_schema_fields_and_coordinates(sql_sink: SqlSink) -> None:
    found = inspect(sql_sink.engine)
    names = set(found.get_table_names())
    assert {"case_opened", "visit_made", "donation_received", "training_held", "subscriber_offsets"} <= names
    for event_type, table in (("CaseOpened", "case_opened"), ("TrainingHeld", "training_held")):
        fields = [f["name"] for f in load_schema("shared", event_type)["fields"]]
        columns = [c["name"] for c in found.get_columns(table)]
        assert columns == fields + list(COORDINATE_COLUMNS)
        assert found.get_pk_constraint(table)["constrained_columns"] == ["event_id"]
    # TrainingHeld has a field named "topic": the coordinates are source_* so nothing clashes
    assert "topic" in [c["name"] for c in found.get_columns("training_held")]


def test_rows_hold_the_decoded_events_exactly(sql_sink: SqlSink) -> None:
    batch = [
        record("CaseOpened", "HK", 0),
        record("DonationReceived", "MO", 1, amount="1234567890123456.78"),
        record("ProjectEvaluated", "HK", 2),
    ]
    result = sql_sink.write(batch)
    assert (result.written, result.duplicates, result.skipped) == (3, 0, 0)
    for r in batch:
        assert r.event is not None
        [row] = rows(sql_sink, r.event_type)
        stored = {k: v for k, v in row.items() if k not in COORDINATE_COLUMNS}
        assert stored == dict(r.event)
        assert (row["zone"], row["source_topic"], row["source_partition"], row["source_offset"]) == (
            r.zone,
            r.topic,
            r.partition,
            r.offset,
        )
    [donation] = rows(sql_sink, "DonationReceived")
    assert donation["amount"] == Decimal("1234567890123456.78")  # 18 digits: no float on the way
    assert donation["occurred_at"].tzinfo is not None
    [evaluation] = rows(sql_sink, "ProjectEvaluated")
    assert evaluation["period_start"] == date(2025, 1, 1)
    assert isinstance(evaluation["evaluator_refs"], list) and len(evaluation["evaluator_refs"]) == 3


def test_redelivery_changes_nothing_and_offsets_advance(sql_sink: SqlSink) -> None:
    first = [record("CaseOpened", "HK", 0), record("CaseOpened", "MO", 1)]
    assert sql_sink.write(first).written == 2
    topic = first[0].topic
    assert sql_sink.positions() == {(topic, 0): 2}
    before = rows(sql_sink, "CaseOpened")
    replay = sql_sink.write(first)  # the same records again (a restart before the offsets were seen)
    assert (replay.written, replay.skipped) == (0, 2)
    resent = sql_sink.write([again(first[0], 2), again(first[1], 3)])  # the gateway re-sent them at new offsets
    assert (resent.written, resent.duplicates, resent.skipped) == (0, 2, 0)
    assert rows(sql_sink, "CaseOpened") == before
    assert sql_sink.positions() == {(topic, 0): 4}
    in_batch = record("CaseOpened", "HK", 4)
    twice = sql_sink.write([in_batch, again(in_batch, 5)])
    assert (twice.written, twice.duplicates) == (1, 1)
    assert sql_sink.positions() == {(topic, 0): 6}


def test_a_refused_record_rolls_back_rows_and_offsets_together(sql_sink: SqlSink) -> None:
    good = record("CaseOpened", "HK", 0)
    bad = record("CaseOpened", "HK", 1)
    assert bad.event is not None
    broken = SinkRecord(bad.topic, 0, 1, bad.zone, bad.event_type, {**bad.event, "case_ref": None})
    later = record("CaseOpened", "MO", 2)
    with pytest.raises(RecordsRejected) as err:
        sql_sink.write([good, broken, later])
    assert [(r.offset, r.partition) for r in err.value.rejected] == [(1, 0)]
    assert "case_ref" in err.value.rejected[0].reason.lower() or "null" in err.value.rejected[0].reason.lower()
    assert rows(sql_sink, "CaseOpened") == [] and sql_sink.positions() == {}
    result = sql_sink.write([good, dead(broken), later])  # what the subscriber does after dead-lettering it
    assert result.written == 2
    assert [r["source_offset"] for r in rows(sql_sink, "CaseOpened")] == [0, 2]
    assert sql_sink.positions() == {(good.topic, 0): 3}


def test_dead_lettered_records_advance_the_offsets(sql_sink: SqlSink) -> None:
    r = record("VisitMade", "HK", 7, partition=2)
    assert sql_sink.write([dead(r)]).written == 0
    assert sql_sink.positions() == {(r.topic, 2): 8}


def test_offsets_are_kept_per_subscriber(sql_sink: SqlSink, sql_url: str) -> None:
    r = record("CaseOpened", "HK", 0)
    sql_sink.write([r])
    other = SqlSink(sql_url, "mo")
    try:
        other.prepare(READERS)
        assert other.positions() == {}
        result = other.write([r])
        assert (result.written, result.duplicates) == (0, 1)  # the event is held once, whoever wrote it
        assert other.positions() == {(r.topic, 0): 1}
    finally:
        other.close()


def test_a_newer_reader_schema_adds_its_optional_column(sql_sink: SqlSink, sql_url: str) -> None:
    sql_sink.write([record("CaseOpened", "HK", 0)])
    v2 = load_schema("shared", "CaseOpened")
    v2["fields"].append({"name": "referral_channel", "type": ["null", "string"], "default": None})
    upgraded = SqlSink(sql_url, "hk")
    try:
        upgraded.prepare({**READERS, "CaseOpened": v2})
        r = record("CaseOpened", "MO", 1)
        assert r.event is not None
        upgraded.write([SinkRecord(r.topic, 0, 1, r.zone, r.event_type, {**r.event, "referral_channel": "hotline"})])
        assert [row["referral_channel"] for row in rows(upgraded, "CaseOpened")] == [None, "hotline"]
    finally:
        upgraded.close()


def test_an_unreachable_database_is_an_outage_not_a_fault() -> None:
    sink = SqlSink(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2", "hk")
    with pytest.raises(SinkUnavailable, match="cannot create the tables"):
        sink.prepare(READERS)
    with pytest.raises(SinkUnavailable):
        sink.positions()


def test_column_types() -> None:
    nullable_int = column_type(["null", "int"])
    assert nullable_int.nullable and not nullable_int.json
    assert column_type({"type": "map", "values": "string"}).json
    assert column_type(["null", "string", "int"]).json
    assert not column_type({"type": "array", "items": "string"}).json  # TEXT[] on PostgreSQL
    named = {"Level": {"type": "enum", "name": "Level", "symbols": ["A"]}}
    assert not column_type("Level", named).json
    with pytest.raises(ConfigError, match="unknown type name 'Nope'"):
        column_type("Nope")


def test_json_values() -> None:
    doc = {
        "amount": Decimal("10.50"),
        "at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        "on": date(2026, 3, 2),
        "raw": b"\x00\x01",
        "list": [Decimal("1.00")],
    }
    assert json_value(doc) == {
        "amount": "10.50",
        "at": "2026-03-02T09:30:00+00:00",
        "on": "2026-03-02",
        "raw": "AAE=",
        "list": ["1.00"],
    }


@pytest.mark.parametrize(
    ("url", "kind"),
    [("sqlite:///{tmp}/a.db", SqlSink), ("jsonl://{tmp}/out", JsonlSink), ("postgresql://u@localhost/db", SqlSink)],
)
def test_open_sink_url_forms(url: str, kind: type, tmp_path: Path) -> None:
    sink = open_sink(url.format(tmp=tmp_path), "hk")
    try:
        assert isinstance(sink, kind)
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("sqlite://", "in-memory SQLite database keeps nothing"),
        ("jsonl:/x", "expected jsonl:///path/to/dir"),
        ("not a url", "cannot parse"),
    ],
)
def test_open_sink_refuses_other_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_sink(url, "hk")


# -- JSON Lines sink ------------------------------------------------------------------------------------
def jsonl(directory: Path, subscriber: str = "hk") -> JsonlSink:
    sink = JsonlSink(directory, subscriber)
    sink.prepare(READERS)
    return sink


def event_ids(directory: Path) -> list[str]:
    return [line["event"]["event_id"] for line in read_jsonl(directory)]


def test_jsonl_segments_are_named_by_offset_range_and_hold_the_events(tmp_path: Path) -> None:
    sink = jsonl(tmp_path)
    batch = [record("CaseOpened", "HK", 0), record("CaseOpened", "MO", 1), record("DonationReceived", "HK", 0)]
    result = sink.write(batch)
    assert result.written == 3
    case_topic, donation_topic = batch[0].topic, batch[2].topic
    assert sorted(p.name for p in (tmp_path / case_topic).iterdir()) == [segment_name(0, 0, 2)]
    assert sorted(p.name for p in (tmp_path / donation_topic).iterdir()) == [segment_name(0, 0, 1)]
    offsets = json.loads((tmp_path / OFFSETS_FILE).read_text())
    assert offsets["subscriber"] == "hk"
    assert offsets["offsets"] == {case_topic: {"0": 2}, donation_topic: {"0": 1}}
    [line] = read_jsonl(tmp_path, donation_topic)
    assert batch[2].event is not None
    assert line == {
        "type": "DonationReceived",
        "zone": "gba",
        "topic": donation_topic,
        "partition": 0,
        "offset": 0,
        "event": json_value(batch[2].event),
    }
    assert line["event"]["amount"] == "50000.00"
    sink.close()


def test_jsonl_dedupes_by_event_id_across_batches_and_restarts(tmp_path: Path) -> None:
    sink = jsonl(tmp_path)
    first = [record("CaseOpened", "HK", 0), record("CaseOpened", "HK", 1)]
    sink.write(first)
    assert sink.write(first).skipped == 2
    resent = sink.write([again(first[0], 2), dead(record("CaseOpened", "HK", 3))])
    assert (resent.written, resent.duplicates) == (0, 1)
    sink.close()
    reopened = jsonl(tmp_path)
    assert reopened.positions() == {(first[0].topic, 0): 4}
    late = reopened.write([again(first[1], 4), record("CaseOpened", "MO", 5)])
    assert (late.written, late.duplicates) == (1, 1)
    ids = event_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 3
    reopened.close()


def test_jsonl_folder_has_one_writer_and_one_subscriber(tmp_path: Path) -> None:
    sink = jsonl(tmp_path)
    with pytest.raises(SinkError, match="another subscriber process writes to this folder"):
        jsonl(tmp_path)
    sink.close()
    with pytest.raises(SinkError, match="belongs to subscriber 'hk', not 'mo'"):
        jsonl(tmp_path, "mo")
    jsonl(tmp_path).close()


def test_jsonl_refuses_overlapping_segments(tmp_path: Path) -> None:
    sink = jsonl(tmp_path)
    r = record("CaseOpened", "HK", 0)
    sink.write([r, record("CaseOpened", "HK", 1)])
    sink.close()
    (tmp_path / r.topic / segment_name(0, 1, 3)).write_text("")
    with pytest.raises(SinkError, match="overlap"):
        jsonl(tmp_path)


_CRASHING_WRITER = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from consumers.sinks import JsonlSink, SinkRecord, jsonl

    directory, window = Path(sys.argv[1]), sys.argv[2]
    batches = json.loads(sys.stdin.read())
    real_replace = os.replace

    def crashing_replace(src, dst):
        name = Path(dst).name
        if window == "before-segment-rename" and name.endswith(".jsonl"):
            os.kill(os.getpid(), signal.SIGKILL)  # the temporary segment is written and fsynced, not renamed
        real_replace(src, dst)
        if window == "after-segment-rename" and name.endswith(".jsonl"):
            os.kill(os.getpid(), signal.SIGKILL)  # the segment is committed, offsets.json is not replaced yet

    sink = JsonlSink(directory, "hk")
    sink.prepare({})
    for i, batch in enumerate(batches):
        if i == len(batches) - 1:
            jsonl.os.replace = crashing_replace
        sink.write([SinkRecord(**r) for r in batch])
    """
)


def _as_json(r: SinkRecord) -> dict[str, Any]:
    return {
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "zone": r.zone,
        "event_type": r.event_type,
        "event": None if r.event is None else json_value(r.event),
    }


@pytest.mark.parametrize("window", ["before-segment-rename", "after-segment-rename"])
def test_jsonl_crash_windows_lose_and_duplicate_nothing(tmp_path: Path, window: str) -> None:
    """A writer SIGKILLed inside a flush; the restarted sink and a re-delivery end with each event once."""
    stream = [record("CaseOpened", "HK", i) for i in range(6)]
    batches = [stream[:3], stream[3:]]
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(tmp_path), window],
        input=json.dumps([[_as_json(r) for r in b] for b in batches]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    topic = stream[0].topic
    recorded = json.loads((tmp_path / OFFSETS_FILE).read_text())["offsets"][topic]["0"]
    assert recorded == 3  # the crash happened before the second flush recorded its offsets
    leftovers = [p.name for p in (tmp_path / topic).iterdir() if p.name.endswith(".tmp")]
    assert bool(leftovers) == (window == "before-segment-rename")

    sink = jsonl(tmp_path)  # restart: recovery
    if window == "after-segment-rename":
        assert sink.positions() == {(topic, 0): 6}
        assert any("rolled forward" in note for note in sink.recovered)
    else:
        assert sink.positions() == {(topic, 0): 3}
        assert any("temporary file" in note for note in sink.recovered)
    assert not [p for p in (tmp_path / topic).iterdir() if p.name.endswith(".tmp")]
    # the subscriber resumes from positions(); an at-least-once source may also re-deliver all of it
    resumed = [r for r in stream if r.offset >= sink.positions()[(topic, 0)]]
    sink.write(resumed)
    sink.write(stream)
    assert sink.positions() == {(topic, 0): 6}
    assert json.loads((tmp_path / OFFSETS_FILE).read_text())["offsets"][topic]["0"] == 6
    assert sorted(event_ids(tmp_path)) == sorted(str(r.event_id) for r in stream)
    sink.close()


def test_jsonl_disk_errors_are_outages(tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("a file where the folder should be")
    with pytest.raises(SinkUnavailable):
        JsonlSink(target, "hk").prepare(READERS)
