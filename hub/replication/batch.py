"""One batch of a flow: the records it copies, the positions it reaches, the transfers it records. Pure.

Guarantees:

- a copy keeps the source record's key, headers, timestamp and partition; only
  the topic (``<source>.<topic>``) and the schema id in the value change;
- :func:`positions_after` gives, per source partition of the batch, the offset
  after its last record: where the next transaction starts;
- :func:`transfers` gives one :class:`~hub.transfers.record.Transfer` per
  copied source partition, in (topic, partition) order, with the source and
  target offset ranges, the record count and the digest of the Avro bodies
  (equal on both sides: the id rewrite leaves the bodies alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.errors import ReplicationError
from hub.replication.flow import FlowSpec
from hub.transfers.record import Transfer, payload_digest

TopicPartitionKey = tuple[str, int]
Header = tuple[str, bytes]


@dataclass(frozen=True)
class SourceRecord:
    """What the flow needs of a consumed record (independent of the client library)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    timestamp_ms: int


@dataclass(frozen=True)
class Copy:
    """A source record as the target receives it."""

    source: SourceRecord
    topic: str
    value: bytes

    @property
    def partition(self) -> int:
        return self.source.partition


def positions_after(records: Sequence[SourceRecord]) -> dict[TopicPartitionKey, int]:
    """(topic, partition) -> the offset after the batch's last record of that partition."""
    out: dict[TopicPartitionKey, int] = {}
    for r in records:
        key = (r.topic, r.partition)
        out[key] = max(out.get(key, 0), r.offset + 1)
    return out


def transfers(
    flow: FlowSpec,
    copies: Sequence[Copy],
    target_offsets: Sequence[int],
    *,
    replicated_at_ms: int,
) -> list[Transfer]:
    """One transfer per source partition of ``copies``; ``target_offsets[i]`` is where ``copies[i]`` landed."""
    if len(copies) != len(target_offsets):
        raise ValueError(f"{len(copies)} copies but {len(target_offsets)} target offsets")
    groups: dict[TopicPartitionKey, list[tuple[Copy, int]]] = {}
    for copy, offset in zip(copies, target_offsets, strict=True):
        groups.setdefault((copy.source.topic, copy.partition), []).append((copy, offset))
    out: list[Transfer] = []
    for (topic, partition), items in sorted(groups.items()):
        sources = [c.source.offset for c, _ in items]
        targets = [o for _, o in items]
        if sources != sorted(sources) or targets != sorted(targets):
            raise ReplicationError(f"flow {flow.name}: {topic}[{partition}] was copied out of order")
        out.append(
            Transfer(
                source=flow.source,
                target=flow.target,
                source_topic=topic,
                target_topic=items[0][0].topic,
                partition=partition,
                source_first=sources[0],
                source_last=sources[-1],
                target_first=targets[0],
                target_last=targets[-1],
                count=len(items),
                payload_sha256=payload_digest(c.value for c, _ in items),
                replicated_at_ms=replicated_at_ms,
                transactional_id=flow.transactional_id,
            )
        )
    return out


__all__ = ["Copy", "Header", "SourceRecord", "positions_after", "transfers"]
