"""Shared events for the partner-subscriber tests: real crossings, produced as the gateway writes them.

Each event is a raw factory document taken across the boundary by the real
agreements (:func:`tests.shared_events.crossing`), then written to every
``shared.<zone>.<event>`` topic of its zones with the shared schema under
``<topic>-value``, keyed by its pseudonymised aggregate id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition

from hub.agreements import Crossing
from hub.errors import SerializationError
from hub.kafka_clients import connection_config, new_producer
from hub.naming import shared_pattern, subject_for
from hub.registry.client import RegistryClient
from hub.schemas import parsed_schema, schema_text
from hub.serde import AvroDeserializer, AvroSerializer, decode_body, encode_body
from hub.settings import HubSettings
from tests.shared_events import HK, MO, TINGHU, crossing

SHENZHEN: Final[dict[str, Any]] = {}  # the factory's default district: shenzhen-nanshan, in gba and mainland
PLACES: Final = {"HK": HK, "MO": MO, "SZ": SHENZHEN, "JS": TINGHU}
#: Event types whose factory documents cross for every place above.
TYPES: Final = ("CaseOpened", "VisitMade", "DonationReceived", "ProjectEvaluated", "CaseClosed", "TrainingHeld")


def event(event_type: str, place: str, **overrides: Any) -> Crossing:
    """A real crossing of ``event_type`` from ``place`` (HK, MO, SZ = Shenzhen, JS = Yancheng Tinghu)."""
    extra: dict[str, Any] = {}
    if event_type in ("DonationReceived", "ProjectFunded"):
        extra["currency"] = {"HK": "HKD", "MO": "MOP"}.get(place, "CNY")
    return crossing(event_type, **PLACES[place], **extra, **overrides)


def mix(count: int) -> list[Crossing]:
    """``count`` events cycling over the places and types (gba only, both zones, mainland only)."""
    places = tuple(PLACES)
    return [event(TYPES[i % len(TYPES)], places[(i // len(TYPES)) % len(places)]) for i in range(count)]


def as_decoded(event_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as a reader of the shared schema decodes it (Avro round trip)."""
    parsed = parsed_schema("shared", event_type)
    return decode_body(encode_body(parsed, record), parsed)


@dataclass(frozen=True)
class Produced:
    topic: str
    partition: int
    offset: int
    event_id: str


class SharedProducer:
    """Writes crossings to their shared topics like the gateway does (acks=all, idempotent)."""

    def __init__(self, settings: HubSettings, registry: RegistryClient) -> None:
        self.registry = registry
        self._producer = new_producer(settings, client_id="test-shared-producer", timeout_s=30.0)
        self._serializers: dict[str, AvroSerializer] = {}

    def serializer(self, event_type: str, schema: str | None = None) -> AvroSerializer:
        text = schema or schema_text("shared", event_type)
        ser = self._serializers.get(text)
        if ser is None:
            ser = self._serializers[text] = AvroSerializer(self.registry, text)
        return ser

    def send(
        self, crossings: Iterable[Crossing], *, zones: Sequence[str] | None = None, schema: str | None = None
    ) -> list[Produced]:
        """Write each crossing to the topics of its zones (or of ``zones`` among them); wait for the acks."""
        pending = []
        for c in crossings:
            for topic in c.topics:
                if zones is not None and topic.split(".")[1] not in zones:
                    continue
                value = self.serializer(c.event_type, schema)(c.shared_record, subject_for(topic))
                pending.append((c.event_id, self._producer.send(topic, key=c.key.encode(), value=value)))
        self._producer.flush(30)
        out = []
        for event_id, future in pending:
            meta = future.get(timeout=30)
            out.append(Produced(meta.topic, meta.partition, meta.offset, event_id))
        return out

    def send_raw(self, topic: str, value: bytes | None, key: bytes = b"k") -> Produced:
        meta = self._producer.send(topic, key=key, value=value).get(timeout=30)
        return Produced(meta.topic, meta.partition, meta.offset, "")

    def close(self) -> None:
        self._producer.close(timeout=10)


def zone_event_ids(settings: HubSettings, registry: RegistryClient, zone: str) -> list[str]:
    """Every decodable event id in the zone's shared topics (with repeats), read independently of the subscriber."""
    import re

    consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False, group_id=None)
    decoder = AvroDeserializer(registry)
    try:
        pattern = re.compile(shared_pattern(zone))
        tps = [
            KafkaTopicPartition(t, p)
            for t in sorted(consumer.topics())
            if pattern.fullmatch(t)
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends = {tp: n for tp, n in consumer.end_offsets(tps).items() if n > 0}
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        ids: list[str] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < n for tp, n in ends.items()):
            assert time.monotonic() < deadline, "could not read the zone's topics to their end"
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    try:
                        ids.append(str(decoder(rec.value)["event_id"]))
                    except SerializationError:  # undecodable records are the subscriber's dead letters
                        continue
        return ids
    finally:
        consumer.close()
