"""Every Kafka client the hub opens is configured here, from :class:`~hub.settings.HubSettings`.

This is the one place where a client learns how to reach the cluster
(bootstrap servers today; the security settings - SASL, TLS - go into
:func:`connection_config` and its aiokafka/faust forms and nowhere else).
Guarantees:

- a producer is durable: ``acks=all`` and idempotent, so retries within one
  producer session never duplicate a record;
- a consumer built here never commits by itself (``enable_auto_commit=False``);
  offsets live with the data they produced or in an explicit commit;
- building a kafka-python client that cannot reach the cluster raises
  :class:`~hub.errors.BrokerError` (a transient error the one retry policy waits
  out), never a kafka-python exception.

The ``*_config`` functions are pure (settings in, a dict out); the ``new_*``
functions open the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypedDict, Unpack

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from hub.errors import BrokerError
from hub.settings import HubSettings

Cluster = HubSettings | Sequence[str]
"""Where a client connects: the settings, or (for the local development broker and older callers) a
bootstrap list. A bare list carries no security settings, so code that serves a configured cluster
passes the settings."""

#: The hub's consumers have always allowed a request at least 31 s (older kafka-python required more than its
#: 30 s session timeout); a slow fetch or offset look-up is not an outage.
_MIN_CONSUMER_REQUEST_TIMEOUT_S: Final = 31.0
#: The round-trip bound of a client given only a bootstrap list (the settings' own default).
_DEFAULT_REQUEST_TIMEOUT_S: Final = 10.0


# -- connection (the one place for bootstrap and, later, security settings) --------------------------
def bootstrap_of(cluster: Cluster) -> list[str]:
    """The bootstrap servers of ``cluster``."""
    return cluster.bootstrap_list if isinstance(cluster, HubSettings) else [str(b) for b in cluster]


def describe(cluster: Cluster) -> str:
    """``host:port,...`` for messages."""
    return ",".join(bootstrap_of(cluster))


def connection_config(cluster: Cluster) -> dict[str, Any]:
    """kafka-python options that say how to reach the cluster; every kafka-python client starts from these."""
    return {"bootstrap_servers": bootstrap_of(cluster)}


def aiokafka_connection(settings: HubSettings) -> dict[str, Any]:
    """aiokafka options that say how to reach the cluster (same meaning as :func:`connection_config`)."""
    return {"bootstrap_servers": settings.bootstrap_list}


def faust_connection(settings: HubSettings) -> dict[str, Any]:
    """The ``faust.App`` arguments that say how to reach the cluster (``broker=``)."""
    return {"broker": [f"kafka://{b}" for b in settings.bootstrap_list]}


# -- kafka-python configs (pure) ----------------------------------------------------------------------
def producer_config(
    settings: HubSettings, timeout_s: float | None = None, *, client_id: str = "hub-publisher"
) -> dict[str, Any]:
    """A durable (acks=all, idempotent), batched producer; ``timeout_s`` bounds blocking and delivery."""
    ms = int((timeout_s if timeout_s is not None else settings.request_timeout_s) * 1000)
    return {
        **connection_config(settings),
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 10,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 5,
        "max_block_ms": ms,
        "request_timeout_ms": max(1000, min(ms, 30000)),
        "delivery_timeout_ms": max(ms, min(ms, 30000) + 10),
        "bootstrap_timeout_ms": ms,
    }


def consumer_config(
    cluster: Cluster,
    *,
    client_id: str,
    group_id: str | None = None,
    max_poll_records: int = 500,
    read_committed: bool = False,
    request_timeout_s: float | None = None,
) -> dict[str, Any]:
    """A consumer that never auto-commits; group-less (manual assignment) unless ``group_id`` is given.

    Reaching the cluster at all is bounded by ``request_timeout_s`` (default: the settings'); a request
    once connected by at least 31 s."""
    bound = request_timeout_s or _request_timeout_s(cluster)
    timeout = max(bound, _MIN_CONSUMER_REQUEST_TIMEOUT_S)
    return {
        **connection_config(cluster),
        "client_id": client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed" if read_committed else "read_uncommitted",
        "max_poll_records": max_poll_records,
        "request_timeout_ms": int(timeout * 1000),
        "bootstrap_timeout_ms": int(bound * 1000),
    }


def admin_config(cluster: Cluster, timeout_s: float, *, client_id: str = "hub-admin") -> dict[str, Any]:
    """An admin client whose every request (and the first connection) is bounded by ``timeout_s``."""
    ms = int(timeout_s * 1000)
    return {**connection_config(cluster), "client_id": client_id, "request_timeout_ms": ms, "bootstrap_timeout_ms": ms}


# -- aiokafka configs (pure), for the gateway's output producer -----------------------------------
def aiokafka_producer_config(settings: HubSettings, *, client_id: str) -> dict[str, Any]:
    """An aiokafka producer as durable as :func:`producer_config` (acks=all, idempotent), lightly batched."""
    return {
        **aiokafka_connection(settings),
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": int(settings.request_timeout_s * 1000),
    }


# -- kafka-python clients -----------------------------------------------------------------------------
def new_producer(
    settings: HubSettings, *, client_id: str, timeout_s: float | None = None, **overrides: Any
) -> KafkaProducer:
    """An open :func:`producer_config` producer; :class:`BrokerError` if the cluster does not answer."""
    config = {**producer_config(settings, timeout_s, client_id=client_id), **overrides}
    bound = timeout_s if timeout_s is not None else settings.request_timeout_s
    return _open(KafkaProducer, config, settings, bound)


class ConsumerOptions(TypedDict, total=False):
    """The optional arguments of :func:`consumer_config`, as :func:`new_consumer` passes them on."""

    group_id: str | None
    max_poll_records: int
    read_committed: bool
    request_timeout_s: float | None


def new_consumer(cluster: Cluster, *, client_id: str, **options: Unpack[ConsumerOptions]) -> KafkaConsumer:
    """An open :func:`consumer_config` consumer; :class:`BrokerError` if the cluster does not answer."""
    config = consumer_config(cluster, client_id=client_id, **options)
    return _open(KafkaConsumer, config, cluster, options.get("request_timeout_s") or _request_timeout_s(cluster))


def new_admin(cluster: Cluster, timeout_s: float | None = None, *, client_id: str = "hub-admin") -> KafkaAdminClient:
    """An open admin client; :class:`BrokerError` if the cluster does not answer within ``timeout_s``."""
    if timeout_s is None:
        timeout_s = _request_timeout_s(cluster)
    config = admin_config(cluster, timeout_s, client_id=client_id)
    return _open(KafkaAdminClient, config, cluster, timeout_s, hint=" (start one with `hub kafka start`)")


def _request_timeout_s(cluster: Cluster) -> float:
    return cluster.request_timeout_s if isinstance(cluster, HubSettings) else _DEFAULT_REQUEST_TIMEOUT_S


def _open(kind: Any, config: dict[str, Any], cluster: Cluster, timeout_s: float, *, hint: str = "") -> Any:
    try:
        return kind(**config)
    except KafkaTimeoutError as exc:
        raise BrokerError(f"no Kafka broker answered at {describe(cluster)} within {timeout_s:g}s{hint}") from exc
    except KafkaError as exc:
        raise BrokerError(f"cannot reach Kafka at {describe(cluster)}: {exc}") from exc


__all__ = [
    "Cluster",
    "ConsumerOptions",
    "admin_config",
    "aiokafka_connection",
    "aiokafka_producer_config",
    "bootstrap_of",
    "connection_config",
    "consumer_config",
    "describe",
    "faust_connection",
    "new_admin",
    "new_consumer",
    "new_producer",
    "producer_config",
]
