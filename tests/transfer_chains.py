"""Builders of consistent transfer logs for the tests: a flow's chain and the records it describes.

``flow_world(key, batches=[2, 1, 3])`` replicates three transactions of 2, 1 and 3
records from ``shared.gba.case-opened`` on ``cn`` to ``cn.shared.gba.case-opened``
on ``hk``, as a transactional replicator lays them out: each transaction's data
records are followed by its commit marker, which takes an offset but is no
committed record. The world holds the signed records (seq 1..n) and what landed
on each side, with the schema ids differing between the clusters as the
replicator rewrites them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub import naming
from hub.transfers.chain import ChainHead, append
from hub.transfers.record import Transfer, TransferRecord, encode, flow_of, payload_digest
from hub.transfers.signing import SigningKey
from hub.transfers.verify import LandedPartition, LogEntry
from hub.wire import frame

SOURCE_TOPIC = "shared.gba.case-opened"
SOURCE_SCHEMA_ID = 7
TARGET_SCHEMA_ID = 3


@dataclass(frozen=True)
class FlowWorld:
    source: str
    target: str
    records: tuple[TransferRecord, ...]
    source_landed: LandedPartition
    target_landed: LandedPartition

    @property
    def flow(self) -> str:
        return flow_of(self.source, self.target)

    def values(self) -> list[bytes]:
        return [encode(r) for r in self.records]


def body(flow: str, seq: int, index: int) -> bytes:
    """An Avro-looking body, distinct per flow, transaction and record."""
    return f"{flow}|{seq}|{index}".encode() * 3


def flow_world(
    key: SigningKey,
    batches: Sequence[int],
    *,
    source: str = "cn",
    target: str = "hk",
    partition: int = 0,
    source_start: int = 0,
    target_start: int = 0,
) -> FlowWorld:
    flow = flow_of(source, target)
    target_topic = naming.remote_topic(source, SOURCE_TOPIC)
    head = ChainHead.start()
    records: list[TransferRecord] = []
    src: list[tuple[int, bytes | None]] = []
    tgt: list[tuple[int, bytes | None]] = []
    s_next, t_next = source_start, target_start
    for seq, size in enumerate(batches, start=1):
        bodies = [body(flow, seq, i) for i in range(size)]
        s_vals = [frame(SOURCE_SCHEMA_ID, b) for b in bodies]
        t_vals = [frame(TARGET_SCHEMA_ID, b) for b in bodies]
        src.extend((s_next + i, v) for i, v in enumerate(s_vals))
        tgt.extend((t_next + i, v) for i, v in enumerate(t_vals))
        transfer = Transfer(
            source=source,
            target=target,
            source_topic=SOURCE_TOPIC,
            target_topic=target_topic,
            partition=partition,
            source_first=s_next,
            source_last=s_next + size - 1,
            target_first=t_next,
            target_last=t_next + size - 1,
            count=size,
            payload_sha256=payload_digest(s_vals),
            replicated_at_ms=1_767_225_600_000 + seq,
            transactional_id=f"replicator.{source}-{target}-{partition}",
        )
        record, head = append(head, transfer, key)
        records.append(record)
        s_next += size + 1  # the commit marker
        t_next += size + 1
    return FlowWorld(
        source,
        target,
        tuple(records),
        LandedPartition(flow, SOURCE_TOPIC, partition, tuple(src)),
        LandedPartition(flow, target_topic, partition, tuple(tgt)),
    )


def entries(values: Sequence[bytes | None], *, partition: int = 0) -> list[LogEntry]:
    """Log entries of ``values`` at offsets 0, 1, …"""
    return [LogEntry(partition, offset, value) for offset, value in enumerate(values)]
