"""The source side of a flow: which topics it copies, and the ``read_committed`` reader over them.

Guarantees:

- the topics come from the flow's pattern matched against the source's
  declared layout AND the broker's listing, and every match is described by
  name: a match the principal may not describe (a ``raw.`` topic under a
  too-wide pattern) gets the broker's refusal as one
  :class:`~hub.errors.KafkaAuthError` line, never an empty result; a match that
  is not a local shared topic is a :class:`~hub.errors.ReplicationError`;
- a declared topic the broker does not hold is left out (logged); a flow with
  no topic at all is a :class:`~hub.errors.ReplicationError`;
- the reader is the one group-less reader (:class:`~hub.kafka_reader.KafkaReader`)
  with ``read_committed``, no group and no commits, every partition assigned by
  hand from the flow's own positions; a position below the partition's first
  offset (records deleted before they were copied) stops the flow instead of
  skipping them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from hub.errors import ReplicationError
from hub.kafka_admin import partition_counts, topic_configs, topics_matching
from hub.kafka_reader import KafkaReader
from hub.replication.batch import SourceRecord
from hub.replication.flow import FlowSpec, candidates, replicable
from hub.settings import HubSettings

log = logging.getLogger("hub.replication")

#: The topic settings a copy takes from its source (the rest are the target cluster's defaults).
COPIED_CONFIG: tuple[str, ...] = ("cleanup.policy", "retention.ms", "retention.bytes")

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class SourceTopic:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def resolve(
    settings: HubSettings,
    flow: FlowSpec,
    declared: Mapping[str, Mapping[str, str]],
    aliases: Collection[str],
) -> list[SourceTopic]:
    """The topics ``flow`` copies from the source, with their partition counts and retention settings.

    ``declared`` maps each topic the source cluster's layout declares to its declared settings (the
    fallback when the broker does not tell a topic's own).
    """
    names = candidates(flow, declared, topics_matching(settings, [flow.topics]))
    counts = partition_counts(settings, names)
    present = {n: c for n in names if (c := counts.get(n)) is not None}
    absent = sorted(set(names) - set(present))
    if absent:
        log.warning("flow %s: declared topics not on the source (yet): %s", flow.name, ", ".join(absent))
    for name in present:
        replicable(flow, name, aliases)
    if not present:
        raise ReplicationError(
            f"flow {flow.name}: no topic at {settings.bootstrap_servers} matches {flow.topics!r} "
            "(on the source cluster: `hub topics apply`)"
        )
    own = topic_configs(settings, list(present))  # a topic left out there keeps its declared settings
    out = []
    for name, count in present.items():
        copied = {**declared.get(name, {}), **own.get(name, {})}
        out.append(SourceTopic(name, count, {k: str(v) for k, v in copied.items() if k in COPIED_CONFIG}))
    return out


class SourceReader:
    """The flow's ``read_committed`` reader over every partition of its topics."""

    def __init__(self, settings: HubSettings, flow: FlowSpec, *, max_records: int) -> None:
        self.flow = flow
        self.settings = settings
        self._reader = KafkaReader(
            settings, client_id=f"{flow.principal}.source", max_poll_records=max_records, read_committed=True
        )
        self.partitions: list[TopicPartitionKey] = []

    def assign(
        self, topics: Collection[SourceTopic], positions: Mapping[TopicPartitionKey, int]
    ) -> dict[TopicPartitionKey, int]:
        """Read every partition of ``topics`` from its stored position (new partitions from their start)."""
        self.partitions = [(t.name, p) for t in sorted(topics, key=lambda t: t.name) for p in range(t.partitions)]
        firsts = self._reader.beginning_offsets(self.partitions)
        start: dict[TopicPartitionKey, int] = {}
        for tp in self.partitions:
            first = firsts.get(tp, 0)
            stored = positions.get(tp)
            if stored is not None and stored < first:
                raise ReplicationError(
                    f"flow {self.flow.name}: {tp[0]} partition {tp[1]} starts at offset {first} but the flow "
                    f"copied only up to {stored}: records were deleted before they were copied"
                )
            start[tp] = first if stored is None else stored
        self._reader.assign(start)
        return start

    def poll(self, timeout_s: float, max_records: int) -> list[SourceRecord]:
        return [
            SourceRecord(
                r.topic,
                r.partition,
                r.offset,
                r.key,
                r.value,
                tuple((str(k), bytes(v) if v is not None else b"") for k, v in (r.headers or ())),
                int(r.timestamp),
            )
            for r in self._reader.poll(timeout_s, max_records)
        ]

    def ends(self) -> dict[TopicPartitionKey, int]:
        """The last stable offset of every assigned partition."""
        return self._reader.end_offsets(self.partitions)

    def positions(self) -> dict[TopicPartitionKey, int]:
        """Where the reader stands in each partition (past transaction markers)."""
        return {tp: self._reader.position(tp) for tp in self.partitions}

    def close(self) -> None:
        self._reader.close()


__all__ = ["COPIED_CONFIG", "SourceReader", "SourceTopic", "resolve"]
