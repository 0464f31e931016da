"""Helpers of the partner-subscriber tests: run a subscriber to the end, and read what it and the broker hold.

Plain functions, no fixtures (those are in ``tests/fixtures/subscribers.py``).
Every read goes to the real thing: the sink's own database, the broker's end
offsets, the ``hub.dlq`` topic. Every wait is bounded by a deadline and fails
naming what it waited for.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from sqlalchemy import select

from consumers.partners import Partner, partner
from consumers.sinks import Sink, SqlSink
from consumers.subscriber import Progress, Subscriber, load_reader, pinned_readers
from hub.dlq import DeadLetter, decode_dead_letter
from hub.kafka_clients import connection_config
from hub.naming import DLQ_TOPIC
from hub.retry import Backoff
from hub.settings import HubSettings
from tests.factories import kafka_env
from tests.shared_events import agreements

#: The ``hub`` console script of this venv, for tests that run ``hub subscribe`` as a process.
HUB = str(Path(sys.executable).with_name("hub"))
READERS = {t: load_reader(text) for t, text in pinned_readers().items()}
FAST_RETRY = Backoff(first_s=0.05, max_s=0.2)


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
        **kafka_env(settings),
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
    consumer = KafkaConsumer(**connection_config(settings), group_id=None)
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


def _letter(value: bytes) -> DeadLetter | None:
    """A record of the session's shared hub.dlq; None for one that other tests wrote without being a dead letter."""
    try:
        return decode_dead_letter(value)
    except (ValueError, KeyError, TypeError):
        return None


def dead_letters(settings: HubSettings, consumer_name: str) -> list[DeadLetter]:
    """The dead letters ``consumer_name`` has written to ``hub.dlq`` so far (read to its end offset)."""
    reader = KafkaConsumer(**connection_config(settings), group_id=None, enable_auto_commit=False)
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
                out.extend(_letter(r.value) for r in records)
        return [d for d in out if d is not None and d.consumer == consumer_name]
    finally:
        reader.close()
