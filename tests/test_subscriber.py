"""The partner subscriber on the real broker and the hub's registry; standard clients; schema evolution."""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from sqlalchemy import create_engine, select

from consumers.partners import Partner, partner
from consumers.sinks import JsonlSink, Sink, SinkUnavailable, SqlSink, WriteResult, read_jsonl
from consumers.subscriber import Progress, Subscriber, load_reader, pinned_readers
from hub.agreements import Crossing
from hub.dlq import DeadLetter, decode_dead_letter
from hub.errors import SchemaRegistryError
from hub.naming import DLQ_TOPIC, subject_for
from hub.registry.client import RegistryClient
from hub.retry import Backoff
from hub.schemas import load_schema, schema_text
from hub.settings import HubSettings
from hub.wire import frame
from tests.partner_events import SharedProducer, as_decoded, event, mix, zone_event_ids
from tests.shared_events import agreements

HUB = str(Path(sys.executable).with_name("hub"))
DOCS = Path(__file__).resolve().parents[1] / "docs" / "subscribers.md"
READERS = {t: load_reader(text) for t, text in pinned_readers().items()}
FAST_RETRY = Backoff(first_s=0.05, max_s=0.2)


@pytest.fixture(scope="module")
def settings(topics: HubSettings, registry: str) -> HubSettings:
    return topics.model_copy(update={"schema_registry_url": registry})


@pytest.fixture(scope="module")
def client(registry: str) -> Iterator[RegistryClient]:
    with RegistryClient(registry) as c:
        yield c


@pytest.fixture(scope="module")
def producer(settings: HubSettings, client: RegistryClient) -> Iterator[SharedProducer]:
    p = SharedProducer(settings, client)
    try:
        yield p
    finally:
        p.close()


def hk() -> Partner:
    return partner("hk", agreements())


def subscribe(settings: HubSettings, sink: Sink, who: Partner | None = None, **options: Any) -> Progress:
    sub = Subscriber(settings, who or hk(), sink, backoff=FAST_RETRY, linger_s=0.05, **options)
    try:
        return sub.run(until_caught_up=True)
    finally:
        sub.close()


def sql_rows(url: str) -> list[dict[str, Any]]:
    """Every stored event of a SQL sink: event_id, zone, source_topic (over all event tables)."""
    sink = SqlSink(url, "reader")
    sink.prepare(READERS)
    try:
        with sink.engine.connect() as conn:
            return [
                dict(r._mapping)
                for table in sink.tables.values()
                for r in conn.execute(select(table.c.event_id, table.c.zone, table.c.source_topic))
            ]
    finally:
        sink.close()


def hub_env(settings: HubSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(
        HUB_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
        HUB_SCHEMA_REGISTRY_URL=settings.schema_registry_url,
        HUB_DATA_DIR=str(settings.data_dir),
    )
    return env


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def zone_end(settings: HubSettings, zone: str) -> int:
    """Sum of the end offsets of the zone's shared topics."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_list, group_id=None)
    try:
        tps = [
            KafkaTopicPartition(t, p)
            for t in consumer.topics()
            if t.startswith(f"shared.{zone}.")
            for p in consumer.partitions_for_topic(t) or ()
        ]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


# -- the done-when of issue 7 -------------------------------------------------------------------------
def test_hk_receives_every_gba_event_exactly_once_and_nothing_from_mainland(
    settings: HubSettings, client: RegistryClient, producer: SharedProducer, tmp_path: Path
) -> None:
    crossings = mix(48)
    producer.send(crossings)
    producer.send(crossings[:6])  # the gateway re-sent some after a crash: same event_id, new offsets
    gba = {c.event_id for c in crossings if "gba" in c.zones}
    mainland_only = {c.event_id for c in crossings if c.zones == ("mainland",)}
    assert gba and mainland_only and any(len(c.zones) == 2 for c in crossings)

    url = f"sqlite:///{tmp_path / 'hk.db'}"
    with SqlSink(url, "hk") as sink:
        progress = subscribe(settings, sink)
    assert progress.caught_up and progress.state == "caught up"
    assert progress.duplicates >= 6
    assert all(t.startswith("shared.gba.") for t in progress.topics)

    stored = sql_rows(url)
    ids = [r["event_id"] for r in stored]
    assert gba <= set(ids)
    assert not mainland_only & set(ids)
    assert {r["zone"] for r in stored} == {"gba"}
    assert all(r["source_topic"].startswith("shared.gba.") for r in stored)
    # everything in the zone, each once: compared with an independent read of every shared.gba.* topic
    assert sorted(ids) == sorted(set(zone_event_ids(settings, client, "gba")))

    donation = next(c for c in crossings if c.event_type == "DonationReceived" and c.shared_record["region"] == "HK")
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT amount, currency, donor_type FROM donation_received WHERE event_id = ?", (donation.event_id,)
        ).one()
    engine.dispose()
    expected = as_decoded("DonationReceived", donation.shared_record)
    assert (row[0], row[1], row[2]) == (str(expected["amount"]), expected["currency"], expected["donor_type"])


def _stored_count(kind: str, target: Path) -> int:
    """Records the sink has passed (sum of its stored next offsets), read like an operator would."""
    if kind == "sqlite":
        if not target.exists():
            return 0
        with sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=30) as conn:
            try:
                return int(conn.execute("SELECT COALESCE(SUM(next_offset), 0) FROM subscriber_offsets").fetchone()[0])
            except sqlite3.OperationalError:  # the tables do not exist yet
                return 0
    offsets = target / "offsets.json"
    if not offsets.exists():
        return 0
    doc = json.loads(offsets.read_text())
    return sum(n for parts in doc["offsets"].values() for n in parts.values())


def _stored_ids(kind: str, target: Path) -> list[str]:
    if kind == "sqlite":
        return [r["event_id"] for r in sql_rows(f"sqlite:///{target}")]
    return [line["event"]["event_id"] for line in read_jsonl(target)]


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_sigkill_and_restart_lose_and_duplicate_nothing(
    kind: str, settings: HubSettings, client: RegistryClient, producer: SharedProducer, tmp_path: Path
) -> None:
    crossings = [
        event(t, place)
        for t in ("CaseOpened", "VisitMade", "DonationReceived")
        for place in ("HK", "MO", "SZ")
        for _ in range(120)
    ]
    crossings += [event("CaseOpened", "JS") for _ in range(30)]
    producer.send(crossings)
    producer.send(crossings[::40])  # duplicates with the same event_id
    total = zone_end(settings, "gba")
    target = tmp_path / ("hk.db" if kind == "sqlite" else "hk-jsonl")
    url = f"sqlite:///{target}" if kind == "sqlite" else f"jsonl://{target}"
    args = [HUB, "subscribe", "--as", "hk", "--sink", url, "--batch-size", "10", "--linger", "0", "--no-progress"]

    first = subprocess.Popen(args, env=hub_env(settings), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # several batches committed, far from the end: batches are 10 records
        wait_until(lambda: _stored_count(kind, target) >= 50 or first.poll() is not None, "the first batches")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.kill()
        _, err = first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL, err.decode()
    at_kill = _stored_count(kind, target)
    assert 0 < at_kill < total, f"the kill must land in the middle of the stream ({at_kill} of {total})"

    second = subprocess.run(
        [*args, "--until-caught-up"], env=hub_env(settings), cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr
    assert "caught up" in second.stdout

    ids = _stored_ids(kind, target)
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    assert duplicated == []
    assert {c.event_id for c in crossings if "gba" in c.zones} <= set(ids)
    assert not {c.event_id for c in crossings if c.zones == ("mainland",)} & set(ids)
    assert set(ids) == set(zone_event_ids(settings, client, "gba"))
    assert _stored_count(kind, target) >= total


def test_asking_for_a_zone_outside_the_entitlement_is_a_one_line_error(settings: HubSettings, tmp_path: Path) -> None:
    target = tmp_path / "never"
    for extra in (["--zone", "mainland"], ["--topic", "shared.mainland.case-opened"]):
        proc = subprocess.run(
            [HUB, "subscribe", "--as", "hk", "--sink", f"jsonl://{target}", *extra],
            env=hub_env(settings),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "partner hk may not read" in lines[0] and "mainland" in lines[0] and "gba" in lines[0]
    assert not target.exists()  # refused before the sink was touched


# -- dead letters and outages ----------------------------------------------------------------------------
def _dead_letters(settings: HubSettings, consumer_name: str) -> list[DeadLetter]:
    reader = KafkaConsumer(bootstrap_servers=settings.bootstrap_list, group_id=None, enable_auto_commit=False)
    try:
        tp = KafkaTopicPartition(DLQ_TOPIC, 0)
        reader.assign([tp])
        end = reader.end_offsets([tp])[tp]
        reader.seek_to_beginning(tp)
        out: list[DeadLetter] = []
        deadline = time.monotonic() + 60
        while reader.position(tp) < end:
            assert time.monotonic() < deadline, f"read {DLQ_TOPIC} to {reader.position(tp)} of {end}"
            for records in reader.poll(timeout_ms=500).values():
                out.extend(decode_dead_letter(r.value) for r in records)
        return [d for d in out if d.consumer == consumer_name]
    finally:
        reader.close()


def test_undecodable_records_go_to_the_dlq_and_the_offset_advances(
    settings: HubSettings, producer: SharedProducer, tmp_path: Path
) -> None:
    topic = "shared.gba.case-closed"
    before = producer.send([event("CaseClosed", "HK")], zones=["gba"])
    garbage = producer.send_raw(topic, b"not avro at all", key=b"x")
    unknown_id = producer.send_raw(topic, frame(987654, b"\x00\x02"), key=b"x")
    after = producer.send([event("CaseClosed", "MO")], zones=["gba"])
    url = f"sqlite:///{tmp_path / 'dlq.db'}"
    with SqlSink(url, "hk-dlq") as sink:
        progress = subscribe(settings, sink, topics=[topic])
        positions = sink.positions()
    assert progress.dead_letters == 2
    ids = {r["event_id"] for r in sql_rows(url)}
    assert {before[0].event_id, after[0].event_id} <= ids
    for p in (garbage, unknown_id, after[0]):
        assert positions[(topic, p.partition)] > p.offset
    letters = {
        (d.source_topic, d.source_partition, d.source_offset): d for d in _dead_letters(settings, "subscriber:hk-dlq")
    }
    bad = letters[(topic, garbage.partition, garbage.offset)]
    assert bad.stage == "decode" and "magic byte" in bad.reason and bad.original_value == b"not avro at all"
    missing = letters[(topic, unknown_id.partition, unknown_id.offset)]
    assert "987654" in missing.reason and "unknown" in missing.reason


class _FlakyRegistry:
    """The real registry client behind a link that drops the first ``failures`` schema look-ups."""

    def __init__(self, real: RegistryClient, failures: int) -> None:
        self.real = real
        self.failures = failures

    def register(self, subject: str, schema: str | dict[str, Any]) -> int:
        return self.real.register(subject, schema)

    def get_schema(self, schema_id: int) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise SchemaRegistryError(f"cannot reach the schema registry at {self.real.url}: connection refused")
        return self.real.get_schema(schema_id)


class _FlakySqlSink(SqlSink):
    """A real SQLite sink whose first ``failures`` writes find the database locked."""

    def __init__(self, url: str, subscriber: str, failures: int) -> None:
        super().__init__(url, subscriber)
        self.failures = failures

    def write(self, records: Any) -> WriteResult:
        if self.failures > 0:
            self.failures -= 1
            raise SinkUnavailable(f"sink {self.description}: database is locked")
        return super().write(records)


def test_registry_and_sink_outages_are_waited_out_not_skipped(
    settings: HubSettings, client: RegistryClient, producer: SharedProducer, tmp_path: Path
) -> None:
    topic = "shared.gba.training-held"
    produced = producer.send([event("TrainingHeld", "HK") for _ in range(5)], zones=["gba"])
    url = f"sqlite:///{tmp_path / 'outage.db'}"
    waits: list[str] = []
    with RegistryClient(client.url) as fresh:  # empty caches: the look-ups really happen
        sink = _FlakySqlSink(url, "hk-outage", failures=2)
        sub = Subscriber(
            settings, hk(), sink, topics=[topic], registry=_FlakyRegistry(fresh, 3), backoff=FAST_RETRY, linger_s=0.05
        )
        progress = sub.run(until_caught_up=True, on_progress=lambda p: waits.append(p.waiting or ""))
        sink.close()
    assert progress.caught_up and progress.dead_letters == 0
    assert any(w.startswith("schema registry:") for w in waits)
    assert any(w.startswith("sink:") and "locked" in w for w in waits)
    assert {p.event_id for p in produced} <= {r["event_id"] for r in sql_rows(url)}


# -- interoperability ---------------------------------------------------------------------------------------
def test_a_standard_client_decodes_the_hubs_messages_through_the_hubs_registry(
    settings: HubSettings, registry: str, producer: SharedProducer
) -> None:
    from confluent_kafka import DeserializingConsumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import StringDeserializer

    crossings = [event("DonationReceived", "HK"), event("CaseOpened", "MO"), event("ProjectEvaluated", "SZ")]
    produced = producer.send(crossings, zones=["gba"])
    by_coords = {(p.topic, p.partition, p.offset): c for p, c in zip(produced, crossings, strict=True)}
    consumer = DeserializingConsumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"standard-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "key.deserializer": StringDeserializer("utf_8"),
            "value.deserializer": AvroDeserializer(SchemaRegistryClient({"url": registry})),
        }
    )
    got: dict[tuple[str, int, int], Any] = {}
    try:
        consumer.assign([TopicPartition(p.topic, p.partition, p.offset) for p in produced])
        deadline = time.monotonic() + 60
        while len(got) < len(produced):
            assert time.monotonic() < deadline, f"read {len(got)} of {len(produced)}"
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            coords = (msg.topic(), msg.partition(), msg.offset())
            if coords in by_coords:
                got[coords] = msg
    finally:
        consumer.close()
    for coords, msg in got.items():
        c = by_coords[coords]
        assert msg.key() == c.key
        assert msg.value() == as_decoded(c.event_type, c.shared_record)


def _snippet(name: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- snippet: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/subscribers.md has no snippet {name}"
    return match.group(1)


@pytest.mark.parametrize("name", ["confluent-kafka", "kafka-python"])
def test_the_documented_snippets_read_a_shared_topic(
    name: str, settings: HubSettings, registry: str, producer: SharedProducer, tmp_path: Path
) -> None:
    produced = producer.send([event("VisitMade", "HK"), event("CaseOpened", "MO")], zones=["gba"])
    wanted = {p.event_id for p in produced}
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(
        KAFKA_BOOTSTRAP=settings.bootstrap_servers, SCHEMA_REGISTRY_URL=registry, GROUP_ID=f"doc-{uuid.uuid4().hex[:8]}"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", _snippet(name)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None

    def _pump() -> None:
        for line in proc.stdout or ():
            lines.put(line)

    threading.Thread(target=_pump, daemon=True).start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 90
        while not wanted <= seen:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, f"the snippet printed {len(seen)} events, not ours"
            try:
                topic, _partition, _offset, event_id = lines.get(timeout=0.5).split()
            except queue.Empty:
                continue
            assert topic.startswith("shared.gba.")
            seen.add(event_id)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- evolution ----------------------------------------------------------------------------------------------
def _v2_case_opened() -> str:
    doc = load_schema("shared", "CaseOpened")
    doc["fields"].append(
        {
            "name": "referral_channel",
            "type": ["null", "string"],
            "default": None,
            "doc": "How the referral reached the station, if recorded.",
        }
    )
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def test_a_compatible_schema_change_while_subscribed(
    settings: HubSettings, client: RegistryClient, producer: SharedProducer, tmp_path: Path
) -> None:
    topic = "shared.gba.case-opened"
    subject = subject_for(topic)
    v1_id = client.register(subject, schema_text("shared", "CaseOpened"))
    url = f"sqlite:///{tmp_path / 'evolution.db'}"
    sink = SqlSink(url, "hk-evolution")
    sub = Subscriber(settings, hk(), sink, topics=[topic], backoff=FAST_RETRY, linger_s=0.05)
    failures: list[BaseException] = []

    def _run() -> None:
        try:
            sub.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    runner = threading.Thread(target=_run, daemon=True)
    runner.start()
    try:
        old = producer.send([event("CaseOpened", "HK") for _ in range(3)], zones=["gba"])
        wait_until(lambda: {p.event_id for p in old} <= {r["event_id"] for r in sql_rows(url)}, "the v1 events")
        dead_before = sub.progress.dead_letters

        v2 = _v2_case_opened()
        assert client.check_compatibility(subject, v2) == []
        v2_id = client.register(subject, v2)
        assert v2_id != v1_id and client.get_latest(subject).id == v2_id
        new = [_with(event("CaseOpened", "MO"), referral_channel="hotline") for _ in range(3)]
        produced = producer.send(new, zones=["gba"], schema=v2)
        assert producer.serializer("CaseOpened", v2).schema_id(subject) == v2_id
        wait_until(lambda: {p.event_id for p in produced} <= {r["event_id"] for r in sql_rows(url)}, "the v2 events")
    finally:
        sub.stop()
        runner.join(timeout=60)
        sub.close()
        sink.close()
    assert not runner.is_alive() and failures == []
    assert sub.progress.dead_letters == dead_before
    coords = {(p.topic, p.partition, p.offset) for p in produced}
    assert not [
        d
        for d in _dead_letters(settings, "subscriber:hk-evolution")
        if (d.source_topic, d.source_partition, d.source_offset) in coords
    ]

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = {r.event_id: r for r in conn.execute(select(_case_opened_table(url)))}
    engine.dispose()
    for c in new:
        row = stored[c.event_id]._mapping
        v1_view = as_decoded("CaseOpened", {k: v for k, v in c.shared_record.items() if k != "referral_channel"})
        assert {k: row[k] for k in v1_view} == v1_view
        assert "referral_channel" not in row


def _with(c: Crossing, **fields: Any) -> Crossing:
    return dataclasses.replace(c, shared_record={**c.shared_record, **fields})


def _case_opened_table(url: str) -> Any:
    sink = SqlSink(url, "x")
    sink.prepare({"CaseOpened": READERS["CaseOpened"]})
    table = sink.tables["CaseOpened"]
    sink.close()
    return table


def test_the_upgraded_reader_receives_the_new_field(
    settings: HubSettings, client: RegistryClient, producer: SharedProducer, tmp_path: Path
) -> None:
    """After the v2 registration (above, or here if run alone), a subscriber pinning v2 gets the field."""
    topic = "shared.gba.case-opened"
    v2 = _v2_case_opened()
    client.register(subject_for(topic), v2)
    c = _with(event("CaseOpened", "HK"), referral_channel="walk-in")
    producer.send([c], zones=["gba"], schema=v2)
    target = tmp_path / "upgraded"
    with JsonlSink(target, "hk-upgraded") as sink:
        subscribe(settings, sink, topics=[topic], readers={**pinned_readers(), "CaseOpened": v2})
    [line] = [line for line in read_jsonl(target) if line["event"]["event_id"] == c.event_id]
    assert line["event"]["referral_channel"] == "walk-in"
