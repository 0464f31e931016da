"""The registry's state persisted in the compacted ``_schemas`` topic (kafka-python adapter).

On start the store reads the topic from the beginning to its end offset (with
the hub's one group-less :class:`~hub.kafka_reader.KafkaReader`) and rebuilds
:class:`~hub.registry.state.RegistryState`, so a restarted registry serves the
same ids. Every change goes through one idempotent ``acks=all`` producer (from
:mod:`hub.kafka_clients`) and is applied in memory only after the broker
acknowledged it.
Before each change the store reads what other writers may have appended, but
it is meant to be the topic's only writer: run one registry per topic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from kafka import KafkaProducer
from kafka.errors import KafkaError

from hub import naming, topology
from hub.errors import BrokerError
from hub.kafka_admin import apply_topics
from hub.kafka_clients import new_producer
from hub.kafka_reader import KafkaReader, TopicPartitionKey
from hub.registry import codes
from hub.registry.compat import DEFAULT_LEVEL, Level
from hub.registry.state import DeletePlan, Latest, Record, RegistryState, SchemaVersion, decode_record
from hub.settings import HubSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


def schemas_topic_spec(settings: HubSettings, topic: str = naming.SCHEMAS_TOPIC) -> topology.TopicSpec:
    """The ``_schemas`` topic as the topology declares it (under another name if given)."""
    for fam in topology.families(settings):
        if fam.kind == "schemas":
            return topology.TopicSpec(topic, fam.partitions, settings.replication_factor, dict(fam.config), fam.kind)
    raise BrokerError("the topology declares no schemas topic")


class SchemaStore:
    """A registry backed by one partition of a compacted topic. Thread-safe."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        topic: str = naming.SCHEMAS_TOPIC,
        default_level: Level = DEFAULT_LEVEL,
        topic_spec: topology.TopicSpec | None = None,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout_s = settings.request_timeout_s
        self.state = RegistryState(default_level=default_level)
        self._spec = topic_spec
        self._tp: TopicPartitionKey = (topic, 0)
        self._lock = threading.RLock()
        self._reader: KafkaReader | None = None
        self._producer: KafkaProducer | None = None

    @classmethod
    def from_settings(cls, settings: HubSettings, topic: str = naming.SCHEMAS_TOPIC) -> SchemaStore:
        """The store of ``topic``, which :meth:`start` creates as the topology declares it if missing."""
        return cls(settings, topic=topic, topic_spec=schemas_topic_spec(settings, topic))

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> int:
        """Create the topic if missing, replay it and open the producer. Returns the records replayed."""
        if self._spec is not None:
            report = apply_topics(self.settings, [self._spec], timeout_s=self.timeout_s)
            for d in report.drifted:
                log.warning("schema topic differs from the declared layout: %s", d)
        try:
            self._reader = KafkaReader(self.settings, client_id="hub-registry")
            self._reader.assign(self._reader.beginning_offsets([self._tp]))
            replayed = self._catch_up()
            # each write waits for its acknowledgement, so nothing is gained by lingering
            self._producer = new_producer(self.settings, client_id="hub-registry", linger_ms=0)
        except (BrokerError, KafkaError) as exc:
            self.close()
            raise BrokerError(
                f"the schema registry cannot read {self.topic} from Kafka at {self.settings.bootstrap_servers}: "
                f"{exc} (is Kafka running? `hub kafka start`)"
            ) from exc
        log.info("schema registry loaded %d records from %s (max id %d)", replayed, self.topic, self.state.max_id)
        return replayed

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self.timeout_s)
                self._producer = None
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def __enter__(self) -> SchemaStore:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- topic I/O -------------------------------------------------------------

    def _catch_up(self) -> int:
        """Apply every record between the consumer's position and the current end offset."""
        reader = self._require(self._reader)
        end = reader.end_offsets([self._tp])[self._tp]
        deadline = time.monotonic() + max(self.timeout_s, 30.0)
        applied = 0
        while reader.position(self._tp) < end:
            if time.monotonic() > deadline:
                raise codes.store_error(f"reading {self.topic} up to offset {end} timed out")
            for msg in reader.poll(timeout_s=0.5):
                self.state.apply(decode_record(msg.key, msg.value))
                applied += 1
        return applied

    def _write(self, records: list[Record]) -> None:
        producer = self._require(self._producer)
        for record in records:
            try:
                producer.send(self.topic, key=record.key_bytes(), value=record.value_bytes()).get(
                    timeout=self.timeout_s
                )
            except KafkaError as exc:
                raise codes.store_error(f"writing to {self.topic} failed: {exc}") from exc
            self.state.apply(record)

    def _require(self, client: T | None) -> T:
        if client is None:
            raise codes.store_error("the schema store is not started")
        return client

    def _change(self, plan: Callable[[], T], records_of: Callable[[T], list[Record]]) -> T:
        with self._lock:
            try:
                self._catch_up()
            except BrokerError as exc:
                raise codes.store_error(f"reading {self.topic} failed: {exc}") from exc
            outcome = plan()
            self._write(records_of(outcome))
            return outcome

    def _read(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return fn()

    # --- registry operations ---------------------------------------------------

    def register(self, subject: str, schema: str | Mapping[str, Any]) -> SchemaVersion:
        """Register (or find) ``schema`` under ``subject``; errors 42201 / 409 / 50001."""
        plan = self._change(lambda: self.state.plan_register(subject, schema), lambda p: p.records)
        return self.state.get_version(subject, plan.version)

    def lookup(self, subject: str, schema: str | Mapping[str, Any]) -> SchemaVersion:
        return self._read(lambda: self.state.lookup(subject, schema))

    def subjects(self, *, include_deleted: bool = False) -> list[str]:
        return self._read(lambda: self.state.subjects(include_deleted=include_deleted))

    def versions(self, subject: str, *, include_deleted: bool = False) -> list[int]:
        return self._read(lambda: self.state.versions(subject, include_deleted=include_deleted))

    def get_version(self, subject: str, version: int | Latest, *, include_deleted: bool = False) -> SchemaVersion:
        return self._read(lambda: self.state.get_version(subject, version, include_deleted=include_deleted))

    def get_schema(self, schema_id: int) -> str:
        return self._read(lambda: self.state.get_schema(schema_id))

    def usages(self, schema_id: int, *, include_deleted: bool = False) -> list[SchemaVersion]:
        return self._read(lambda: self.state.usages(schema_id, include_deleted=include_deleted))

    def check(self, subject: str, schema: str | Mapping[str, Any], version: int | Latest | None = None) -> list[str]:
        return self._read(lambda: self.state.check(subject, schema, version))

    def global_level(self) -> Level:
        return self._read(self.state.global_level)

    def subject_level(self, subject: str) -> Level | None:
        return self._read(lambda: self.state.subject_level(subject))

    def set_level(self, level: str | Level, subject: str | None = None) -> Level:
        outcome = self._change(lambda: self.state.plan_set_level(level, subject), lambda p: p[1])
        return outcome[0]

    def delete_level(self, subject: str | None = None) -> Level:
        outcome = self._change(lambda: self.state.plan_delete_level(subject), lambda p: p[1])
        return outcome[0]

    def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        plan: DeletePlan = self._change(
            lambda: self.state.plan_delete_subject(subject, permanent=permanent), lambda p: p.records
        )
        return plan.versions

    def delete_version(self, subject: str, version: int | Latest, *, permanent: bool = False) -> int:
        plan: DeletePlan = self._change(
            lambda: self.state.plan_delete_version(subject, version, permanent=permanent), lambda p: p.records
        )
        return plan.versions[0]
