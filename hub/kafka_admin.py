"""Thin kafka-python adapter: metadata checks, the topics of a zone or region, and applying the topology.

Every function takes the cluster as :data:`hub.kafka_clients.Cluster` (the
settings, or a bootstrap list for the local development broker) and opens its
clients through :mod:`hub.kafka_clients`. Kafka failures leave as
:class:`~hub.errors.BrokerError`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from kafka import KafkaAdminClient, TopicPartition
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError, TopicAlreadyExistsError, TopicAuthorizationFailedError

from hub import naming
from hub.errors import BrokerError, KafkaAuthError
from hub.kafka_auth import principal_of, refusal
from hub.kafka_clients import Cluster, describe, new_admin, new_consumer
from hub.settings import HubSettings
from hub.topology import Drift, TopicSpec, drift

T = TypeVar("T")


def admin_client(cluster: Cluster, timeout_s: float) -> KafkaAdminClient:
    """An open admin client (see :func:`hub.kafka_clients.new_admin`); close it when done."""
    return new_admin(cluster, timeout_s)


def cluster_info(cluster: Cluster, timeout_s: float = 5.0) -> dict[str, object]:
    """Describe the cluster; raises :class:`BrokerError` if nobody answers."""
    admin = admin_client(cluster, timeout_s)
    try:
        return dict(admin.describe_cluster())
    except KafkaError as exc:
        raise BrokerError(f"Kafka at {describe(cluster)} did not answer a metadata request: {exc}") from exc
    finally:
        admin.close()


def wait_for_metadata(cluster: Cluster, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Poll until the broker answers metadata requests, or raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise BrokerError("the broker process exited while starting")
        try:
            cluster_info(cluster, timeout_s=2.0)
            return
        except (BrokerError, KafkaAuthError) as exc:  # a listener that opens before it can log anyone in
            last = exc
            time.sleep(0.5)
    raise BrokerError(f"Kafka did not answer metadata requests within {timeout_s:.0f}s: {last}")


def _admin_call(
    cluster: Cluster,
    call: Callable[[KafkaAdminClient], T],
    *,
    operation: str,
    failing: str,
    resource: str | None = None,
) -> T:
    """``call`` on an admin client opened for it and closed after; a broker refusal is one
    :class:`KafkaAuthError` line, any other Kafka failure a :class:`BrokerError` saying ``failing``."""
    admin = admin_client(cluster, cluster.request_timeout_s)
    try:
        return call(admin)
    except KafkaError as exc:
        raise refusal(exc, cluster, resource=resource, operation=operation) or BrokerError(f"{failing}: {exc}") from exc
    finally:
        admin.close()


def topics_matching(settings: HubSettings, patterns: Iterable[str]) -> list[str]:
    """Topics on the broker that fully match any of the regular expressions ``patterns``, sorted."""
    compiled = [re.compile(p) for p in patterns]
    names = _admin_call(
        settings,
        lambda admin: admin.list_topics(),
        operation="DESCRIBE",
        failing=f"cannot list topics at {settings.bootstrap_servers}",
    )
    return sorted(n for n in names if any(p.fullmatch(n) for p in compiled))


def shared_topics(settings: HubSettings, zones: Iterable[str]) -> list[str]:
    """Topics on the broker of any of ``zones``, sorted: the local shared topics and the copies replicated
    from other clusters (:func:`hub.naming.copied_shared_pattern`); the caller sees only those its ACLs allow."""
    return topics_matching(
        settings, [p for z in zones for p in (naming.shared_pattern(z), naming.copied_shared_pattern(z))]
    )


def raw_topics(settings: HubSettings, regions: Iterable[str]) -> list[str]:
    """Topics on the broker matching :func:`hub.naming.raw_pattern` of any of ``regions``, sorted."""
    return topics_matching(settings, [naming.raw_pattern(r) for r in regions])


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drifted: list[Drift] = field(default_factory=list)


def apply_topics(cluster: Cluster, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> ApplyReport:
    """Create missing topics and report drift of existing ones. Idempotent."""
    specs = list(specs)
    report = ApplyReport()
    admin = admin_client(cluster, timeout_s)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for start in range(0, len(missing), 100):
            chunk = missing[start : start + 100]
            result = admin.create_topics(
                {
                    s.name: {
                        "num_partitions": s.partitions,
                        "replication_factor": s.replication_factor,
                        "configs": s.config,
                    }
                    for s in chunk
                },
                timeout_ms=int(timeout_s * 1000),
                raise_errors=False,
            )
            errors = [
                t for t in result.get("topics", []) if t.get("error_code") not in (0, TopicAlreadyExistsError.errno)
            ]
            denied = [t["name"] for t in errors if t.get("error_code") == TopicAuthorizationFailedError.errno]
            if denied:  # a refusal is the caller's ACLs, never transient: one line, not retried
                raise KafkaAuthError(
                    f"Kafka at {cluster.bootstrap_servers} denied {principal_of(cluster)} CREATE on topic "
                    f"{denied[0]}{f' (and {len(denied) - 1} more)' if len(denied) > 1 else ''}: no ACL allows it "
                    "(see `hub kafka acls plan`)",
                    principal=principal_of(cluster),
                    resource=f"topic {denied[0]}",
                    operation="CREATE",
                )
            failed = [f"{t['name']}: {t.get('error_message') or t['error_code']}" for t in errors]
            if failed:
                raise BrokerError("could not create topics: " + "; ".join(failed[:5]))
            admin.wait_for_topics([s.name for s in chunk], timeout_ms=int(timeout_s * 1000))
        report.created = [s.name for s in missing]
        present = [s for s in specs if s.name in existing]
        if present:
            parts = _partition_counts(admin, cluster, [s.name for s in present])
            configs = _topic_configs(admin, [s.name for s in present])
            for spec in present:
                found = drift(spec, parts.get(spec.name) or 0, configs.get(spec.name, {}))
                if found:
                    report.drifted.extend(found)
                else:
                    report.unchanged.append(spec.name)
        return report
    except KafkaError as exc:
        raise BrokerError(f"applying topics failed: {exc}") from exc
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient, cluster: Cluster, names: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for meta in admin.describe_topics(sorted(names)):
        name = str(meta.get("name") or meta.get("topic"))
        error = kafka_errors.for_code(int(meta.get("error_code") or 0))
        if error is kafka_errors.NoError:
            out[name] = len(meta["partitions"])
        elif error is kafka_errors.UnknownTopicOrPartitionError:
            out[name] = None
        else:
            failure = error()
            denied = refusal(failure, cluster, resource=f"topic {name}", operation="DESCRIBE")
            if denied is not None:
                raise denied from failure
            raise BrokerError(f"cannot describe topic {name} at {cluster.bootstrap_servers}: {error.__name__}")
    return out


def partition_counts(cluster: Cluster, names: Collection[str]) -> dict[str, int | None]:
    """Partitions of each named topic; None for a topic the cluster does not hold.

    Every name is described by name, so a topic the principal may not describe raises the broker's
    refusal as one :class:`KafkaAuthError` line instead of looking absent.
    """
    if not names:
        return {}
    return _admin_call(
        cluster,
        lambda admin: _partition_counts(admin, cluster, list(names)),
        operation="DESCRIBE",
        failing=f"cannot describe topics at {cluster.bootstrap_servers}",
    )


def topic_configs(cluster: Cluster, names: Collection[str]) -> dict[str, dict[str, str]]:
    """Each named topic's settings as the broker reports them (kafka-python leaves out, silently, a topic
    whose configs the principal may not describe)."""
    if not names:
        return {}
    return _admin_call(
        cluster,
        lambda admin: _topic_configs(admin, list(names)),
        operation="DESCRIBE_CONFIGS",
        failing=f"cannot describe topic configs at {cluster.bootstrap_servers}",
    )


def _topic_configs(admin: KafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for start in range(0, len(names), 200):
        resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names[start : start + 200]]
        result = admin.describe_configs(resources)
        for name, entries in _iter_config_results(result):
            out[name] = entries
    return out


def _iter_config_results(result: object) -> Iterable[tuple[str, dict[str, str]]]:
    # kafka-python 3.x returns {"topic": {name: {key: {"value": ...}}}}
    if isinstance(result, dict):
        for name, entries in result.get("topic", {}).items():
            yield name, {k: v["value"] for k, v in entries.items() if v.get("value") is not None}
        return
    raise BrokerError(f"unexpected describe_configs result from kafka-python: {type(result).__name__}")


@dataclass(frozen=True)
class GroupLag:
    """How far a consumer group's committed offsets are behind the end of its topics."""

    behind: int
    total: int  # records in the non-empty partitions considered

    @property
    def done(self) -> int:
        return self.total - self.behind


def check_group_access(settings: HubSettings, group_id: str) -> None:
    """Raise :class:`~hub.errors.KafkaAuthError` unless the settings' principal may use consumer group ``group_id``.

    A consumer whose group no ACL allows never joins, and neither aiokafka nor faust says why: workers ask
    first (the same FindCoordinator request a joining member makes). Anything else, such as a coordinator
    not available yet on a fresh broker, is a :class:`~hub.errors.BrokerError`, which the retry policy waits out.
    """
    _admin_call(
        settings,
        lambda admin: admin.describe_groups([group_id]),
        resource=f"group {group_id}",
        operation="READ",
        failing=f"cannot look up consumer group {group_id}",
    )


def group_lag(cluster: Cluster, group_id: str, topics: Iterable[str], timeout_s: float = 10.0) -> GroupLag:
    """Committed offsets of ``group_id`` against the end offsets of ``topics`` (read-only: joins no group)."""
    consumer = new_consumer(cluster, client_id="hub-lag", group_id=group_id, request_timeout_s=timeout_s + 1.0)
    timeout_ms = int(timeout_s * 1000)
    try:
        tps = [
            TopicPartition(t, p) for t in sorted(set(topics)) for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends = consumer.end_offsets(tps, timeout_ms=timeout_ms)
        begins = consumer.beginning_offsets(tps, timeout_ms=timeout_ms)
        behind = total = 0
        for tp in tps:
            end, begin = ends.get(tp, 0), begins.get(tp, 0)
            if end <= begin:
                continue
            committed = consumer.committed(tp)
            done = max(committed or begin, begin)
            total += end - begin
            behind += max(0, end - done)
        return GroupLag(behind, total)
    except KafkaError as exc:
        raise BrokerError(f"cannot read the offsets of group {group_id}: {exc}") from exc
    finally:
        consumer.close()
