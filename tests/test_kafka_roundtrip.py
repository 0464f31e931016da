"""Produce and consume on the session's real broker with the clients the hub builds (hub.kafka_clients)."""

from __future__ import annotations

import time
import uuid

from hub import topology
from hub.kafka_admin import apply_topics
from hub.kafka_clients import new_consumer, new_producer
from hub.settings import HubSettings


def test_produce_consume_round_trip(kafka: HubSettings) -> None:
    topic = f"it.roundtrip.{uuid.uuid4().hex[:8]}"
    apply_topics(kafka, [topology.TopicSpec(topic, 3, 1, dict(topology.FOREVER))])
    producer = new_producer(kafka, client_id="test-roundtrip")
    sent: dict[str, tuple[bytes, int]] = {}
    try:
        for i in range(20):
            key = f"case-{i % 4}".encode()
            meta = producer.send(topic, key=key, value=f"v{i}".encode()).get(timeout=10)
            sent[f"v{i}"] = (key, meta.partition)
    finally:
        producer.close()

    consumer = new_consumer(kafka, client_id="test-roundtrip", group_id=f"g-{topic}")
    received: dict[str, tuple[bytes, int]] = {}
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(received) < len(sent):
            assert time.monotonic() < deadline, f"received {len(received)} of {len(sent)}"
            for records in consumer.poll(timeout_ms=500).values():
                received.update({r.value.decode(): (r.key, r.partition) for r in records})
    finally:
        consumer.close()
    assert received == sent
    # one key always lands on one partition, so an aggregate's events stay in order
    by_key: dict[bytes, set[int]] = {}
    for key, part in received.values():
        by_key.setdefault(key, set()).add(part)
    assert all(len(parts) == 1 for parts in by_key.values())
