"""Produce and consume on the session's real broker with the clients the hub builds (hub.kafka_clients)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from hub import topology
from hub.errors import BrokerError
from hub.kafka_admin import apply_topics
from hub.kafka_clients import new_admin, new_consumer, new_producer
from hub.kafka_reader import KafkaReader
from hub.settings import HubSettings, load_settings
from tests.conftest import free_port


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


def test_a_cluster_that_does_not_answer_is_a_broker_error_within_the_request_timeout() -> None:
    """Every client the hub opens fails the same way: a BrokerError naming the address, not a library error."""
    port = free_port()  # nothing listens there
    dead = load_settings(env_file=None, bootstrap_servers=f"127.0.0.1:{port}", request_timeout_s=1.0)
    opens: dict[str, Callable[[], object]] = {
        "producer": lambda: new_producer(dead, client_id="test-dead"),
        "consumer": lambda: new_consumer(dead, client_id="test-dead"),
        "admin": lambda: new_admin(dead),
    }
    for kind, open_client in opens.items():
        with pytest.raises(BrokerError, match=rf"127\.0\.0\.1:{port} within 1s") as info:
            open_client()
        assert info.value.__cause__ is not None, kind  # translated at the boundary, with the library's error kept

    # The reader opens on first use: made while Kafka is down it fails in its first call (inside a retry).
    with KafkaReader(dead, client_id="test-dead") as reader, pytest.raises(BrokerError, match=f"127.0.0.1:{port}"):
        reader.topics()


def test_the_reader_replays_assigned_partitions_from_given_offsets(kafka: HubSettings) -> None:
    topic = f"it.reader.{uuid.uuid4().hex[:8]}"
    apply_topics(kafka, [topology.TopicSpec(topic, 2, 1, dict(topology.FOREVER))])
    producer = new_producer(kafka, client_id="test-reader")
    try:
        metas = [
            producer.send(topic, key=b"k", value=f"v{i}".encode(), partition=i % 2).get(timeout=10) for i in range(6)
        ]
    finally:
        producer.close()
    with KafkaReader(kafka, client_id="test-reader", max_poll_records=2) as reader:
        tps = reader.partitions([topic])
        assert tps == [(topic, 0), (topic, 1)]
        assert reader.beginning_offsets(tps) == {(topic, 0): 0, (topic, 1): 0}
        assert reader.end_offsets(tps) == {(topic, 0): 3, (topic, 1): 3}
        assert reader.partitions([topic, f"{topic}.missing"], missing_ok=True) == tps
        with pytest.raises(BrokerError, match="does not exist"):
            reader.partitions([f"{topic}.missing"])
        stamps = reader.timestamps_at({(topic, 0): 1, (topic, 1): 3})
        assert stamps == {(topic, 0): metas[2].timestamp}  # partition 1 holds nothing at or after offset 3
        reader.assign({(topic, 0): 1, (topic, 1): 0})
        got: list[tuple[int, int, bytes]] = []
        deadline = time.monotonic() + 60
        while reader.position((topic, 0)) < 3 or reader.position((topic, 1)) < 3:
            assert time.monotonic() < deadline, f"read {got}"
            batch = reader.poll(timeout_s=0.5, max_records=2)
            assert len(batch) <= 2
            got.extend((r.partition, r.offset, r.value) for r in batch)
    assert sorted(got) == [(0, 1, b"v2"), (0, 2, b"v4"), (1, 0, b"v1"), (1, 1, b"v3"), (1, 2, b"v5")]
