"""The target side of a flow: its copies' topics, the positions it resumes from, the transfer logs.

Guarantees:

- a copy's topic is created, if missing, with the source topic's partition
  count and retention settings and the target's replication factor; one that
  exists with another partition count is a :class:`~hub.errors.ReplicationError`
  (the flow keeps partitions, so it cannot copy into it);
- the topics the flow keeps its state in (``hub.replication.offsets``,
  ``hub.transfers``) must be declared on the cluster and exist: the flow never
  creates them (their settings are the layout's), and says which is missing;
- what the flow resumes from is read whole with ``read_committed`` only
  (:func:`hub.kafka_reader.read_topic`): an aborted or still-open transaction
  (a zombie's) is never taken for state, and never hides what was committed
  after it began: the read goes to the high watermark, waiting for what is
  open there (another flow's transaction into the same topics, one whose
  markers a restarted broker has yet to write); positions and chain head come
  from the offsets topic, the flow's transfer records from a ``hub.transfers`` log.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from hub import naming
from hub.errors import ReplicationError
from hub.kafka_admin import apply_topics, partition_counts
from hub.kafka_reader import read_topic
from hub.replication.flow import FlowSpec
from hub.replication.positions import Resume, fold
from hub.replication.source import SourceTopic
from hub.settings import HubSettings
from hub.topology import TopicSpec
from hub.transfers.record import TransferRecord, decode, record_key

log = logging.getLogger("hub.replication")


def ensure_copies(settings: HubSettings, flow: FlowSpec, topics: Collection[SourceTopic]) -> list[str]:
    """Create the copies' topics that are missing; returns those created."""
    specs = [
        TopicSpec(flow.target_topic(t.name), t.partitions, settings.replication_factor, dict(t.config), "replica")
        for t in topics
    ]
    report = apply_topics(settings, specs, timeout_s=settings.request_timeout_s)
    wrong = [d for d in report.drifted if d.setting == "partitions"]
    if wrong:
        raise ReplicationError(
            f"flow {flow.name}: "
            + "; ".join(f"{d.topic} has {d.actual} partitions on the target, its source {d.expected}" for d in wrong)
            + ": a flow keeps partitions, so it cannot copy into it (delete it or give it the source's count)"
        )
    for d in report.drifted:
        log.warning("flow %s: the target's %s", flow.name, d)
    return report.created


def require(settings: HubSettings, names: Collection[str], *, side: str) -> None:
    """Raise :class:`ReplicationError` naming each of ``names`` that the cluster does not hold."""
    missing = [n for n, count in partition_counts(settings, names).items() if count is None]
    if missing:
        raise ReplicationError(
            f"the {side} cluster at {settings.bootstrap_servers} has no topic {', '.join(sorted(missing))}: "
            f"declare and create it there (`hub topics apply` on the {side})"
        )


def resume(settings: HubSettings, flow: FlowSpec) -> Resume:
    """The flow's committed positions and chain head, from ``hub.replication.offsets`` on the target."""
    found = read_topic(settings, naming.REPLICATION_OFFSETS_TOPIC, client_id=f"{flow.principal}.resume")
    return fold(flow.name, ((r.key, r.value) for r in found))


def chain_records(settings: HubSettings, flow: FlowSpec, *, side: str) -> list[TransferRecord]:
    """The flow's committed records in ``hub.transfers`` on one side, by seq (other flows' are ignored)."""
    key = record_key(flow.chain)
    found = read_topic(settings, naming.TRANSFERS_TOPIC, client_id=f"{flow.principal}.{side}-log")
    records = sorted((decode(r.value) for r in found if r.key == key), key=lambda r: r.seq)
    for expected, record in enumerate(records, start=1):
        if record.seq != expected:
            raise ReplicationError(
                f"flow {flow.name}: the {side}'s {naming.TRANSFERS_TOPIC} holds seq {record.seq} where "
                f"{expected} belongs: the transfer log has a gap or a repeat (`hub audit verify`)"
            )
    return records


def uncommitted_seqs(settings: HubSettings, flow: FlowSpec, *, above: int) -> list[int]:
    """Seqs above ``above`` of the flow's records written to the target's ``hub.transfers`` but never
    committed (aborted, or still open): a diagnostic for a log that is short, never state."""
    key = record_key(flow.chain)
    found = read_topic(settings, naming.TRANSFERS_TOPIC, client_id=f"{flow.principal}.diagnose", read_committed=False)
    return sorted({s for r in found if r.key == key and (s := decode(r.value).seq) > above})


__all__ = ["chain_records", "ensure_copies", "require", "resume", "uncommitted_seqs"]
