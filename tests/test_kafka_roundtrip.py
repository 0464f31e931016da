"""Produce and consume through kafka-python on the session's real broker."""

from __future__ import annotations

import uuid

from kafka import KafkaConsumer, KafkaProducer

from hub import topology
from hub.kafka_admin import apply_topics
from hub.settings import HubSettings


def test_produce_consume_round_trip(kafka: HubSettings) -> None:
    topic = f"it.roundtrip.{uuid.uuid4().hex[:8]}"
    apply_topics(kafka.bootstrap_list, [topology.TopicSpec(topic, 3, 1, dict(topology.FOREVER))])
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_list, acks="all", enable_idempotence=True)
    sent = {}
    for i in range(20):
        key = f"case-{i % 4}".encode()
        meta = producer.send(topic, key=key, value=f"v{i}".encode()).get(timeout=10)
        sent[f"v{i}"] = (key, meta.partition)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_list,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=10000,
    )
    received = {}
    for msg in consumer:
        received[msg.value.decode()] = (msg.key, msg.partition)
        if len(received) == len(sent):
            break
    consumer.close()
    assert received == sent
    # one key always lands on one partition, so an aggregate's events stay in order
    by_key: dict[bytes, set[int]] = {}
    for key, part in received.values():
        by_key.setdefault(key, set()).add(part)
    assert all(len(parts) == 1 for parts in by_key.values())
