"""Delivering a batch's output records with an aiokafka producer: one record batch per partition, every one awaited.

:func:`deliver` places each record where aiokafka's default partitioner (the Java
client's: murmur2 of the key, positive, modulo the partition count, over the
partitions in order) would, groups the records per partition in their order,
and submits each group as whole record batches (``create_batch`` /
``send_batch``), then awaits every batch's acknowledgement. The records land
exactly where ``producer.send(topic, value, key=key)`` would have put them, in
the same order per partition, with the producer's own guarantees (an idempotent
producer numbers the batches when it sends them); what it saves is the Python
work of one ``send`` per record. It returns only once every record is
acknowledged, and raises what the producer raises (the caller retries the whole
batch, e.g. with :mod:`hub.retry`).

Records must have a key (all of the gateway's do).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Final

from aiokafka import AIOKafkaProducer

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF

Output = tuple[str, bytes, bytes, Sequence[tuple[str, bytes]]]
"""(topic, key, value, headers) of one record to deliver."""


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of ``data`` (``org.apache.kafka.common.utils.Utils.murmur2``), as aiokafka computes it.

    The same function as :func:`aiokafka.partitioner.murmur2`, reading the input four bytes at a time.
    """
    length = len(data)
    h = _SEED ^ length
    whole = length - length % 4
    words = memoryview(data)[:whole].cast("I") if sys.byteorder == "little" else _words(data[:whole])
    for k in words:
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length - whole
    if rest >= 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition the default partitioner gives ``key`` among ``partitions`` (sorted ids)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


async def deliver(producer: AIOKafkaProducer, outputs: Iterable[Output]) -> int:
    """Send ``outputs`` and await every acknowledgement (see the module docstring); the number of record batches."""
    partitions: dict[str, list[int]] = {}
    hashes: dict[bytes, int] = {}  # a key written to several topics (one event, several zones) is hashed once
    groups: dict[tuple[str, int], list[Output]] = {}
    for out in outputs:
        topic, key = out[0], out[1]
        known = partitions.get(topic)
        if known is None:
            known = partitions[topic] = sorted(await producer.partitions_for(topic))
        hashed = hashes.get(key)
        if hashed is None:
            hashed = hashes[key] = murmur2(key) & 0x7FFFFFFF
        groups.setdefault((topic, known[hashed % len(known)]), []).append(out)
    acks: list[asyncio.Future[Any]] = []
    for (topic, partition), records in groups.items():
        batch, count = producer.create_batch(), 0
        for _, key, value, headers in records:
            if batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:  # full
                if count:
                    acks.append(await producer.send_batch(batch, topic, partition=partition))
                    batch, count = producer.create_batch(), 0
                if batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
                    # larger than a whole batch on its own: the plain way (which says why if it cannot)
                    acks.append(await producer.send(topic, value, key=key, partition=partition, headers=list(headers)))
                    continue
            count += 1
        if count:
            acks.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*acks)
    return len(acks)


__all__ = ["Output", "deliver", "murmur2", "partition_for"]
