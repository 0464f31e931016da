"""A cluster's transfer log and the data its records describe, read from Kafka for :mod:`hub.transfers.verify`.

Guarantees:

- everything is read with the hub's one read_committed, group-less reader
  (:func:`hub.kafka_reader.read_ranges`): records of aborted or open transactions are never seen, and
  nothing is committed;
- the log is read from its beginning to its high watermark at the start of the read, every
  partition (:func:`hub.kafka_reader.written_ends`): every record committed before the read is in
  it, and a transaction still open there is waited for, never read past;
- what landed is read per topic partition once, however many records or flows name it: every
  partition of each topic the cluster's side of a record names (a partition no record names is
  checked too), and with ``discover`` every partition of the copies ``<source>.shared.*`` of the
  flows into this cluster, so data that no record covers is found even where no record names it;
  a target partition is read to its end, a source partition up to the last offset a record covers
  (past it is replication lag);
- Kafka refusing the reader's principal is the hub's one-line :class:`~hub.errors.KafkaAuthError`;
  any other failure a :class:`~hub.errors.BrokerError`; a missing landed topic is no error (the
  verifier reports the records that name it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from hub import naming
from hub.credentials import as_principal
from hub.errors import BrokerError, TransferLogError
from hub.jurisdictions import Topology, cluster_settings
from hub.kafka_reader import KafkaReader, TopicPartitionKey, read_ranges, written_ends
from hub.principals import ADMIN
from hub.settings import HubSettings
from hub.transfers.record import TransferRecord, decode, flow_of
from hub.transfers.signing import load_public, public_key_path
from hub.transfers.verify import LandedPartition, LogEntry, Report, Verifier, verify

CLIENT_ID = "hub-audit-verify"


@dataclass(frozen=True)
class TransferLog:
    """What :func:`hub.transfers.verify.verify` needs of one cluster."""

    cluster: str
    entries: tuple[LogEntry, ...]
    landed: tuple[LandedPartition, ...]


def read_log(settings: HubSettings, topic: str = naming.TRANSFERS_TOPIC) -> list[LogEntry]:
    """Every committed record of ``topic`` (all partitions, from the beginning), in log order."""
    with KafkaReader(settings, client_id=CLIENT_ID, read_committed=True) as reader:
        tps = reader.partitions([topic], missing_ok=True)
        if not tps:
            # On a secured cluster a topic the principal may not DESCRIBE looks absent: the offset look-up
            # is refused by name (a KafkaAuthError); only a topic that really is not there gets further.
            try:
                reader.end_offsets([(topic, 0)])
            except BrokerError as exc:
                raise BrokerError(f"topic {topic} does not exist at {settings.bootstrap_servers} ({exc})") from exc
            raise BrokerError(f"topic {topic} has no partition at {settings.bootstrap_servers}")
        starts = reader.beginning_offsets(tps)
    ends = written_ends(settings, tps, client_id=CLIENT_ID)
    windows = {tp: (starts[tp], ends[tp]) for tp in tps}
    out = [
        LogEntry(r.partition, r.offset, r.value, r.topic) for r in read_ranges(settings, windows, client_id=CLIENT_ID)
    ]
    return sorted(out, key=lambda e: (e.partition, e.offset))


def read_transfer_log(
    settings: HubSettings,
    *,
    cluster: str,
    topic: str = naming.TRANSFERS_TOPIC,
    aliases: Iterable[str] = (),
    discover: bool = False,
) -> TransferLog:
    """The log of ``cluster`` and what landed there, ready to verify.

    ``aliases`` are the jurisdictions that may send to this cluster (their copies are ``<alias>.shared.*``);
    with ``discover`` those copies are all checked, not only the topics the records name.
    """
    entries = read_log(settings, topic)
    records = list(_decodable(entries))
    # (topic, flow) -> side; then the partitions of every such topic, read once.
    target_topics: dict[str, set[str]] = defaultdict(set)
    source_topics: dict[str, set[str]] = defaultdict(set)
    source_ceiling: dict[tuple[str, TopicPartitionKey], int] = {}
    for record in records:
        t = record.transfer
        if t.target == cluster:
            target_topics[t.target_topic].add(record.flow)
        if t.source == cluster:
            source_topics[t.source_topic].add(record.flow)
            key = (record.flow, (t.source_topic, t.partition))
            source_ceiling[key] = max(source_ceiling.get(key, -1), t.source_last)
    with KafkaReader(settings, client_id=CLIENT_ID, read_committed=True) as reader:
        if discover:
            senders = frozenset(a for a in aliases if a != cluster)
            for name in reader.topics():
                alias, upstream = naming.split_remote(name, senders)
                if alias is not None and _is_shared(upstream):
                    target_topics[name].add(flow_of(alias, cluster))
        tps = reader.partitions(set(target_topics) | set(source_topics), missing_ok=True)
        starts = reader.beginning_offsets(tps)
    ends = written_ends(settings, tps, client_id=CLIENT_ID)
    windows: dict[TopicPartitionKey, tuple[int, int]] = {}
    for tp in tps:
        stop = ends[tp] if tp[0] in target_topics else 0
        for flow in source_topics.get(tp[0], ()):
            stop = max(stop, min(ends[tp], source_ceiling.get((flow, tp), -1) + 1))
        windows[tp] = (starts[tp], stop)
    found: dict[TopicPartitionKey, list[tuple[int, bytes | None]]] = defaultdict(list)
    for r in read_ranges(settings, windows, client_id=CLIENT_ID):
        found[(r.topic, r.partition)].append((r.offset, r.value))
    landed: list[LandedPartition] = []
    for tp in tps:
        held = sorted(found.get(tp, []))
        for flow in sorted(target_topics.get(tp[0], ())):
            landed.append(LandedPartition(flow, tp[0], tp[1], tuple(held)))
        for flow in sorted(source_topics.get(tp[0], ())):
            ceiling = source_ceiling.get((flow, tp), -1)
            landed.append(LandedPartition(flow, tp[0], tp[1], tuple(x for x in held if x[0] <= ceiling)))
    return TransferLog(cluster, tuple(entries), tuple(landed))


def published_keys(base: HubSettings, topology: Topology) -> dict[str, list[Verifier]]:
    """The public key each cluster of ``topology`` published beside its data folder, where there is one."""
    out: dict[str, list[Verifier]] = defaultdict(list)
    for name in topology.names:
        path = public_key_path(cluster_settings(base, topology, name))
        if path.is_file():
            out[name].append(load_public(path))
    return out


def verify_cluster(
    base: HubSettings,
    topology: Topology,
    name: str,
    *,
    topic: str = naming.TRANSFERS_TOPIC,
    extra_keys: Mapping[str, Sequence[Verifier]] | None = None,
) -> Report:
    """What ``hub audit verify --cluster NAME`` checks, as a report: the log of cluster ``name`` read as the
    admin principal, the public keys the topology's clusters published (plus ``extra_keys``), and with the
    default topic every copy that lands there."""
    settings = as_principal(cluster_settings(base, topology, name), ADMIN)
    keys = published_keys(base, topology)
    for jurisdiction, more in (extra_keys or {}).items():
        keys[jurisdiction].extend(more)
    log = read_transfer_log(
        settings, cluster=name, topic=topic, aliases=topology.aliases, discover=topic == naming.TRANSFERS_TOPIC
    )
    return verify(log.entries, keys, cluster=name, landed=log.landed)


def _decodable(entries: Iterable[LogEntry]) -> Iterator[TransferRecord]:
    for entry in entries:
        try:
            yield decode(entry.value)
        except TransferLogError:
            continue  # the verifier reports it as malformed


def _is_shared(topic: str) -> bool:
    try:
        naming.parse_shared_topic(topic)
    except ValueError:
        return False
    return True


__all__ = ["CLIENT_ID", "TransferLog", "published_keys", "read_log", "read_transfer_log", "verify_cluster"]
