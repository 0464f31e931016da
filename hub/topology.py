"""The topic layout, declared once and expanded into concrete topics.

Pure: this module says what should exist; :mod:`hub.kafka_admin` makes it so.
With a :class:`~hub.principals.ClusterScope` (one jurisdiction's cluster) the
layout is that cluster's: the raw topics of the districts it homes only, the
shared topics of the zones it holds, the copies (``<source>.shared.<zone>.*``)
its incoming flows write, and the replication's own topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub import naming
from hub.catalogue import EVENT_TYPES
from hub.orgunits import OrgUnits
from hub.principals import ClusterScope
from hub.settings import HubSettings
from hub.zones import ZONES

FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)
    kind: str = "event"


@dataclass(frozen=True)
class TopicFamily:
    """One line of the layout: a name pattern and how its topics are made."""

    pattern: str
    kind: str
    partitions: int
    config: dict[str, str]
    description: str


def families(settings: HubSettings, scope: ClusterScope | None = None) -> list[TopicFamily]:
    found = [
        TopicFamily(
            "raw.<region>.<district>.<event>",
            "raw",
            settings.raw_partitions,
            FOREVER,
            "private district events (PII); written by that district only",
        ),
        TopicFamily(
            "shared.<zone>.<event>",
            "shared",
            settings.shared_partitions,
            FOREVER,
            "de-identified events of every region allowed into the zone",
        ),
        TopicFamily(
            naming.AUDIT_TOPIC, "audit", settings.shared_partitions, FOREVER, "one record per crossing of the boundary"
        ),
        TopicFamily(naming.DLQ_TOPIC, "dlq", 1, FOREVER, "records that could not be decoded, validated or applied"),
        TopicFamily(
            naming.SCHEMAS_TOPIC,
            "schemas",
            1,
            {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "0"},
            "schema registry storage (compacted)",
        ),
    ]
    if scope is not None:
        found[2:2] = [
            TopicFamily(
                "<source>.shared.<zone>.<event>",
                "remote",
                settings.shared_partitions,
                FOREVER,
                "copies of another cluster's shared topics, written by its replicator (exactly once)",
            ),
            TopicFamily(
                naming.TRANSFERS_TOPIC,
                "transfers",
                1,
                FOREVER,
                "signed, hash-chained record of every replicated transaction (one partition: one order)",
            ),
            TopicFamily(
                naming.REPLICATION_OFFSETS_TOPIC,
                "offsets",
                1,
                {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "0"},
                "source positions each incoming flow reached, written in its transactions (compacted)",
            ),
        ]
    return found


def expand(settings: HubSettings, units: OrgUnits, scope: ClusterScope | None = None) -> list[TopicSpec]:
    """Every concrete topic the hub (or, with ``scope``, one cluster of it) needs, sorted by name."""
    rf = settings.replication_factor
    specs: list[TopicSpec] = []
    if scope is not None:
        units = scope.units(units)
    zones = ZONES if scope is None else scope.zones
    for fam in families(settings, scope):
        if fam.kind == "raw":
            names = [naming.raw_topic(d.region, d.code, ev) for d in units.districts.values() for ev in EVENT_TYPES]
        elif fam.kind == "shared":
            names = [naming.shared_topic(z, ev) for z in zones for ev in EVENT_TYPES]
        elif fam.kind == "remote" and scope is not None:
            names = [
                naming.remote_topic(source, naming.shared_topic(z, ev))
                for z, sources in scope.sources.items()
                for source in sources
                for ev in EVENT_TYPES
            ]
        else:
            names = [fam.pattern]
        specs.extend(TopicSpec(n, fam.partitions, rf, dict(fam.config), fam.kind) for n in names)
    return sorted(specs, key=lambda s: s.name)


@dataclass(frozen=True)
class Drift:
    topic: str
    setting: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.setting} is {self.actual}, declared {self.expected}"


def drift(spec: TopicSpec, partitions: int, config: dict[str, str]) -> list[Drift]:
    """Differences between what is declared and what the broker has."""
    out: list[Drift] = []
    if partitions != spec.partitions:
        out.append(Drift(spec.name, "partitions", str(spec.partitions), str(partitions)))
    for key, want in spec.config.items():
        have = config.get(key)
        if have != want:
            out.append(Drift(spec.name, key, want, "unset" if have is None else have))
    return out
