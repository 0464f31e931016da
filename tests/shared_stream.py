"""Streams of SHARED events on the real broker, for the worker, rebuild and lag tests.

Each test works in a zone of its own (``t<hex>``), so that its
``shared.<zone>.<event>`` topics, registry subjects, consumer group and
worker files are its own on the session broker. The records are made the way
the gateway makes them (:mod:`tests.shared_events`: raw doc -> validate ->
agreement) and written the way it writes them: Confluent-framed Avro of the
pinned shared schema, keyed by the shared aggregate key.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hub import naming
from hub.agreements import Crossing
from hub.catalogue import EVENT_TYPES
from hub.dlq import DeadLetter, decode_dead_letter
from hub.kafka_admin import apply_topics
from hub.kafka_clients import connection_config
from hub.registry.client import RegistryClient
from hub.schemas import schema_text
from hub.serde import AvroSerializer
from hub.settings import HubSettings
from hub.sql import make_engine
from hub.topology import FOREVER, TopicSpec
from projections import migrations, store
from projections.fx import load_rates
from projections.rules import ProjectionContext, project
from projections.store import SourceRecord
from tests.fixtures.postgres import PostgresServer
from tests.shared_events import HK, MO, crossing

Position = tuple[str, int, int]


def new_zone() -> str:
    """A zone name of this test's own."""
    return "t" + uuid.uuid4().hex[:10]


def create_zone_topics(settings: HubSettings, zone: str) -> list[str]:
    """Every ``shared.<zone>.<event>`` topic, as the topology creates them."""
    names = [naming.shared_topic(zone, et) for et in EVENT_TYPES]
    specs = [TopicSpec(n, settings.shared_partitions, 1, dict(FOREVER), "shared") for n in names]
    apply_topics(settings, specs, timeout_s=60)
    return names


def worker_context(settings: HubSettings) -> ProjectionContext:
    """The context the worker builds: the settings' reporting currency and the shipped FX rates."""
    return ProjectionContext(reporting_currency=settings.reporting_currency, fx=load_rates())


class SharedProducer:
    """Writes shared records of one zone like the gateway does; use as a context manager."""

    def __init__(self, settings: HubSettings, registry_url: str) -> None:
        self.registry = RegistryClient(registry_url)
        self.producer = KafkaProducer(**connection_config(settings), acks="all", enable_idempotence=True, linger_ms=5)
        self._serializers: dict[str, AvroSerializer] = {}

    def __enter__(self) -> SharedProducer:
        return self

    def __exit__(self, *_: object) -> None:
        self.producer.close()
        self.registry.close()

    def encode(self, zone: str, c: Crossing) -> tuple[str, bytes]:
        topic = naming.shared_topic(zone, c.event_type)
        serializer = self._serializers.get(c.event_type)
        if serializer is None:
            serializer = AvroSerializer(self.registry, schema_text("shared", c.event_type))
            self._serializers[c.event_type] = serializer
        return topic, serializer(c.shared_record, naming.subject_for(topic))

    def publish(self, zone: str, crossings: Iterable[Crossing]) -> list[Position]:
        """Write each crossing's shared record to ``shared.<zone>.<event>``; returns where each landed."""
        futures = []
        for c in crossings:
            topic, value = self.encode(zone, c)
            futures.append(self.producer.send(topic, key=c.key.encode(), value=value))
        self.producer.flush()
        return [(m.topic, m.partition, m.offset) for m in (f.get(timeout=30) for f in futures)]

    def publish_raw(self, topic: str, key: bytes, value: bytes) -> Position:
        meta = self.producer.send(topic, key=key, value=value).get(timeout=30)
        return (meta.topic, meta.partition, meta.offset)


def targets(positions: Iterable[Position]) -> dict[tuple[str, int], int]:
    """``next_offset`` to wait for so that every position is applied."""
    out: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        out[(topic, partition)] = max(out.get((topic, partition), 0), offset + 1)
    return out


# -- a realistic stream --------------------------------------------------------------------------
@dataclass(frozen=True)
class Stream:
    """A stream of shared events with aggregates that refer to each other."""

    events: list[Crossing]

    def out_of_order(self) -> list[Crossing]:
        """The same events with every case's visits and closing before its opening (reversed)."""
        return list(reversed(self.events))


def _at(rng: random.Random) -> str:
    month = rng.randint(1, 6)
    return f"2026-{month:02d}-{rng.randint(1, 28):02d}T{rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:00+08:00"


def make_stream(cases: int, seed: int = 7, prefix: str | None = None) -> Stream:
    """About ``cases * 5`` events: cases with visits and closings, and every other event type."""
    rng = random.Random(seed)
    p = prefix or uuid.uuid4().hex[:6].upper()
    out: list[Crossing] = []
    for i in range(cases):
        case_id = f"{p}-C{i}"
        out.append(crossing("CaseOpened", case_id=case_id, risk_level=rng.choice(["LOW", "MEDIUM", "HIGH"]),
                            occurred_at=f"2026-01-{1 + i % 28:02d}T09:00:00+08:00"))  # fmt: skip
        for v in range(rng.randint(0, 3)):
            out.append(crossing("VisitMade", case_id=case_id, visit_id=f"{p}-V{i}-{v}",
                                visit_type=rng.choice(["HOME", "PHONE", "OFFICE"]),
                                occurred_at=f"2026-02-{1 + (i + v) % 28:02d}T10:00:00+08:00"))  # fmt: skip
        if rng.random() < 0.4:
            out.append(crossing("CaseClosed", case_id=case_id, outcome="GOAL_MET",
                                occurred_at=f"2026-03-{1 + i % 28:02d}T16:00:00+08:00"))  # fmt: skip
        kind = i % 8
        if kind == 0:
            out.append(crossing("DonationReceived", donation_id=f"{p}-D{i}", amount=f"{rng.randint(1, 900)}.50",
                                occurred_at=_at(rng)))  # fmt: skip
        elif kind == 1:
            out.append(crossing("DonationReceived", **HK, donation_id=f"{p}-HKD{i}", amount="1000.00",
                                currency="HKD", occurred_at=_at(rng)))  # fmt: skip
        elif kind == 2:
            out.append(crossing("ServiceDelivered", service_id=f"{p}-S{i}", person_times=rng.randint(1, 90),
                                occurred_at=_at(rng)))  # fmt: skip
        elif kind == 3:
            out.append(crossing("TrainingHeld", training_id=f"{p}-T{i}", occurred_at=_at(rng)))
        elif kind == 4:
            out.append(crossing("WorkerCertified", worker_id=f"{p}-W{i % 5}", level="INTERMEDIATE",
                                occurred_at=_at(rng)))  # fmt: skip
        elif kind == 5:
            out.append(crossing("VolunteerRegistered", **MO, volunteer_id=f"{p}-VOL{i % 7}", occurred_at=_at(rng)))
        elif kind == 6:
            out.append(crossing("ProjectEvaluated", evaluation_id=f"{p}-E{i}", occurred_at=_at(rng)))
        else:
            out.append(crossing("ProjectFunded", project_id=f"{p}-PRJ{i % 3}", amount=str(Decimal(1000 + i)),
                                occurred_at=_at(rng)))  # fmt: skip
    return Stream(out)


# -- a clean single run ------------------------------------------------------------------------------
def reference_dump(
    url: str, zone: str, crossings: Sequence[Crossing], ctx: ProjectionContext
) -> dict[str, list[tuple[Any, ...]]]:
    """The tables a clean in-process application of ``crossings`` (in one batch, in order) gives at ``url``."""
    migrations.upgrade(url)
    engine = make_engine(url)
    try:
        records = [
            SourceRecord("reference", 0, i, project(zone, c.event_type, c.shared_record, ctx))
            for i, c in enumerate(crossings)
        ]
        store.apply_batch(engine, "reference", records)
        return store.dump(engine)
    finally:
        engine.dispose()


def sqlite_url(folder: Path, name: str) -> str:
    return f"sqlite:///{folder}/{name}.db"


#: Parameters of a ``dialect`` fixture: every test of a store runs on SQLite and on PostgreSQL.
DIALECTS: Final = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def database_url(dialect: str, request: pytest.FixtureRequest, folder: Path, name: str) -> str:
    """A fresh database ``name`` of ``dialect``: a SQLite file in ``folder``, or a database on the session's server."""
    if dialect == "sqlite":
        return sqlite_url(folder, name)
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"hub_{name}")


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(url)
    try:
        return store.dump(engine)
    finally:
        engine.dispose()


# -- hub.dlq -----------------------------------------------------------------------------------------
def dead_letters(settings: HubSettings, topics: Iterable[str]) -> list[DeadLetter]:
    """Every dead letter in ``hub.dlq`` whose source is one of ``topics``."""
    wanted = set(topics)
    consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False)
    try:
        tps = [TopicPartition(naming.DLQ_TOPIC, p) for p in sorted(consumer.partitions_for_topic(naming.DLQ_TOPIC))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[DeadLetter] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    letter = decode_dead_letter(r.value)
                    if letter.source_topic in wanted:
                        out.append(letter)
        return out
    finally:
        consumer.close()
