"""The stream-runner's delivery (hub.stream_runner.delivery): where records land, in what order, on the real broker.

A batch delivered as record batches must put every record where a plain
``producer.send`` would (the default partitioner's murmur2), in order per
partition, and return only once each is acknowledged.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, TopicPartition

from hub.kafka_admin import apply_topics
from hub.kafka_clients import aiokafka_producer_config, connection_config
from hub.settings import HubSettings
from hub.stream_runner.delivery import deliver, murmur2, partition_for
from hub.topology import FOREVER, TopicSpec


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_murmur2_is_the_default_partitioners(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)
    partitions = list(range(1 + len(data) % 7))
    assert partition_for(data, partitions) == DefaultPartitioner()(data, partitions, partitions)


@pytest.mark.kafka
def test_delivered_records_land_where_send_puts_them_in_order(topics: HubSettings) -> None:
    names = [f"test.delivery.{os.urandom(4).hex()}.{n}" for n in ("a", "b")]
    apply_topics(topics, [TopicSpec(n, 3, 1, dict(FOREVER), "shared") for n in names], timeout_s=60)
    # keys repeat (one key on both topics, as an event in two zones); one value is larger than a whole record batch
    outputs = [
        (names[i % 2], f"key-{i % 17}".encode(), f"value-{i}".encode() * (1 if i != 7 else 40000), ())
        for i in range(400)
    ]

    async def run() -> int:
        producer = AIOKafkaProducer(**aiokafka_producer_config(topics, client_id="test-delivery"))
        await producer.start()
        try:
            return await deliver(producer, outputs)
        finally:
            await producer.stop()

    batches = asyncio.run(run())
    assert batches < len(outputs) / 10  # record batches, not one send per record

    consumer = KafkaConsumer(**connection_config(topics), enable_auto_commit=False)
    try:
        parts = [TopicPartition(n, p) for n in names for p in range(3)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got: dict[tuple[str, int], list[bytes]] = {}
        while sum(len(v) for v in got.values()) < len(outputs):
            for tp, msgs in consumer.poll(timeout_ms=2000).items():
                got.setdefault((tp.topic, tp.partition), []).extend(m.value for m in msgs)
    finally:
        consumer.close()
    expected: dict[tuple[str, int], list[bytes]] = {}
    for topic, key, value, _ in outputs:
        expected.setdefault((topic, partition_for(key, [0, 1, 2])), []).append(value)
    assert got == expected
