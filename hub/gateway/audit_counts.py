"""What crossed, read back from Kafka: audit records per zone and dead letters per stage.

For the demo ("how many events crossed into each zone") and for operators.
Counts come from ``hub.audit`` (not from a worker's memory), deduplicated by
crossing identity, so they survive restarts and ignore at-least-once copies.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hub import naming
from hub.dlq import decode_dead_letter
from hub.errors import SerializationError
from hub.kafka_reader import read_topic
from hub.registry.client import RegistryClient
from hub.serde import AvroDeserializer, SchemaSource
from hub.settings import HubSettings


@dataclass
class AuditCounts:
    """Crossings found in ``hub.audit``."""

    crossings: int = 0
    """Distinct crossings: (event_id, source topic, partition, offset)."""
    copies: int = 0
    """Audit records beyond the first of a crossing (at-least-once re-deliveries)."""
    per_zone: Counter[str] = field(default_factory=Counter)
    """Distinct crossings per target zone."""
    per_region: Counter[str] = field(default_factory=Counter)
    withheld: int = 0
    """Crossings with no target (the agreement let the event go nowhere)."""


def audit_counts(settings: HubSettings, registry: SchemaSource | None = None) -> AuditCounts:
    """Count distinct crossings per zone and region from ``hub.audit``."""
    source = registry or RegistryClient(settings.schema_registry_url, settings.request_timeout_s)
    decoder = AvroDeserializer(source)
    seen: set[tuple[str, str, int, int]] = set()
    out = AuditCounts()
    for record in read_topic(settings, naming.AUDIT_TOPIC, client_id="hub-audit-counts"):
        try:
            doc = decoder(record.value)
        except SerializationError:
            continue  # not an audit record of ours; nothing to count
        ident = (
            str(doc["event_id"]),
            str(doc["source_topic"]),
            int(doc["source_partition"]),
            int(doc["source_offset"]),
        )
        if ident in seen:
            out.copies += 1
            continue
        seen.add(ident)
        out.crossings += 1
        out.per_region[ident[1].split(".")[1].upper()] += 1
        targets = [str(t) for t in doc["targets"]]
        if not targets:
            out.withheld += 1
        for target in targets:
            out.per_zone[naming.parse_shared_topic(target).zone] += 1
    return out


def dead_letter_counts(settings: HubSettings, consumer: str | None = "gateway") -> Counter[str]:
    """Dead letters in ``hub.dlq`` per stage (of one consumer, or all with None), one per source record."""
    seen: set[bytes] = set()
    out: Counter[str] = Counter()
    for record in read_topic(settings, naming.DLQ_TOPIC, client_id="hub-audit-counts"):
        if record.key in seen:
            continue
        try:
            letter = decode_dead_letter(record.value)
        except (ValueError, KeyError, TypeError):
            continue
        if consumer is not None and letter.consumer != consumer:
            continue
        seen.add(record.key)
        out[letter.stage] += 1
    return out


__all__ = ["AuditCounts", "audit_counts", "dead_letter_counts"]
