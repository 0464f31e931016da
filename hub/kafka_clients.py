"""Every Kafka client the hub opens is configured here, from :class:`~hub.settings.HubSettings`.

This is the one place where a client learns how to reach the cluster: the
bootstrap servers and the login (SASL/SCRAM over plaintext or TLS) are put
together in :func:`connection_config` and its aiokafka and faust forms and
nowhere else. Guarantees:

- every client of a configured cluster logs in with the settings' principal;
  SASL_SSL verifies the broker against ``kafka_ssl_cafile`` (or the system's
  CAs) and its host name;

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

import logging
import socket
import ssl
import time
from collections import deque
from typing import Any, Final, Literal, NamedTuple, TypedDict, Unpack

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import errors as kafka_errors
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, SaslAuthenticationFailedError

from hub.errors import BrokerError, KafkaAuthError
from hub.kafka_auth import is_refusal, principal_of, refusal
from hub.settings import HubSettings

Cluster = HubSettings
"""Where a client connects: always the settings, which carry the login with the bootstrap servers (a bare
bootstrap list, which would connect as nobody, is not accepted)."""

#: The hub's consumers have always allowed a request at least 31 s (older kafka-python required more than its
#: 30 s session timeout); a slow fetch or offset look-up is not an outage.
_MIN_CONSUMER_REQUEST_TIMEOUT_S: Final = 31.0
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: kafka-python producers' linger: 100 ms measured ~12% less CPU per published event than 10 ms (fewer, fuller
#: produce requests, fewer sender wake-ups), and nobody waits for it: senders flush.
_LINGER_MS: Final = 100


# -- connection (the one place for bootstrap and, later, security settings) --------------------------
def bootstrap_of(cluster: Cluster) -> list[str]:
    """The bootstrap servers of ``cluster``."""
    return cluster.bootstrap_list


def describe(cluster: Cluster) -> str:
    """``host:port,...`` for messages."""
    return ",".join(bootstrap_of(cluster))


def security_protocol(settings: HubSettings) -> str:
    """The settings' protocol; unset, SASL_PLAINTEXT when a user is named and PLAINTEXT otherwise."""
    if settings.kafka_security_protocol:
        return settings.kafka_security_protocol
    return "SASL_PLAINTEXT" if settings.kafka_sasl_username else "PLAINTEXT"


def ssl_context(settings: HubSettings) -> ssl.SSLContext:
    """A client TLS context that verifies the broker's certificate and host name."""
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)


def _login(settings: HubSettings) -> dict[str, Any]:
    protocol = security_protocol(settings)
    if protocol == "PLAINTEXT":
        return {"security_protocol": protocol}
    return {
        "security_protocol": protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
    }


def connection_config(cluster: Cluster) -> dict[str, Any]:
    """kafka-python options that say how to reach the cluster; every kafka-python client starts from these."""
    config: dict[str, Any] = {"bootstrap_servers": cluster.bootstrap_list, **_login(cluster)}
    if config["security_protocol"] == "SASL_SSL":
        config["ssl_check_hostname"] = True
        if cluster.kafka_ssl_cafile:
            config["ssl_cafile"] = str(cluster.kafka_ssl_cafile)
    return config


def aiokafka_connection(settings: HubSettings) -> dict[str, Any]:
    """aiokafka options that say how to reach the cluster (same meaning as :func:`connection_config`)."""
    config: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_list, **_login(settings)}
    if config["security_protocol"] == "SASL_SSL":
        config["ssl_context"] = ssl_context(settings)
    return config


def faust_connection(settings: HubSettings) -> dict[str, Any]:
    """The ``faust.App`` arguments that say how to reach the cluster (``broker=`` and, secured, the login)."""
    out: dict[str, Any] = {"broker": [f"kafka://{b}" for b in settings.bootstrap_list]}
    protocol = security_protocol(settings)
    if protocol != "PLAINTEXT":
        import faust  # only the workers need it, and it is slow to import

        out["broker_credentials"] = faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
        )
    return out


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
        # every sender of the hub flushes what it sent (a batch, a dead letter, a transaction), so linger only
        # says how often the sender thread drains partitions still being filled: rarely, in few full requests
        "linger_ms": _LINGER_MS,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 5,
        "max_block_ms": ms,
        "request_timeout_ms": max(1000, min(ms, 30000)),
        "delivery_timeout_ms": max(ms, min(ms, 30000) + _LINGER_MS + 10),
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


# -- librdkafka (confluent-kafka) config (pure) ----------------------------------------------------
def confluent_config(settings: HubSettings, *, client_id: str, timeout_s: float | None = None) -> dict[str, Any]:
    """A librdkafka producer config as durable as :func:`producer_config` (acks=all, idempotent), same login.

    For a confluent-kafka ``Producer`` (a dev dependency; the benchmarks' fastest raw baseline): the
    bootstrap servers and the SASL/SCRAM (or TLS) login come from the same settings as every kafka-python
    client's, so a client of either library reaches the cluster as the same principal."""
    ms = int((timeout_s if timeout_s is not None else settings.request_timeout_s) * 1000)
    protocol = security_protocol(settings)
    config: dict[str, Any] = {
        "bootstrap.servers": ",".join(settings.bootstrap_list),
        "security.protocol": protocol.lower(),
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 10,
        "batch.size": 256 * 1024,
        "max.in.flight.requests.per.connection": 5,
        "message.timeout.ms": max(ms, min(ms, 30000) + 10),
        "request.timeout.ms": max(1000, min(ms, 30000)),
    }
    if protocol != "PLAINTEXT":
        config.update(
            {
                "sasl.mechanism": settings.kafka_sasl_mechanism,
                "sasl.username": settings.kafka_sasl_username,
                "sasl.password": settings.kafka_sasl_password.get_secret_value(),
            }
        )
    if protocol == "SASL_SSL":
        config["ssl.endpoint.identification.algorithm"] = "https"
        if settings.kafka_ssl_cafile:
            config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
    return config


# -- kafka-python clients -----------------------------------------------------------------------------
def new_producer(
    settings: HubSettings, *, client_id: str, timeout_s: float | None = None, **overrides: Any
) -> KafkaProducer:
    """An open :func:`producer_config` producer; :class:`BrokerError` if the cluster does not answer."""
    config = {**producer_config(settings, timeout_s, client_id=client_id), **overrides}
    bound = timeout_s if timeout_s is not None else settings.request_timeout_s
    return _open(KafkaProducer, config, settings, bound)


# -- librdkafka producer (confluent-kafka), for the hot produce path ----------------------------------
ProducerClient = Literal["kafka-python", "confluent"]
"""Which library a publisher's producer uses: kafka-python (the default) or librdkafka through confluent-kafka."""


class DeliveryMetadata(NamedTuple):
    """Where a record landed (the fields of kafka-python's ``RecordMetadata`` the hub reads)."""

    topic: str
    partition: int
    offset: int


class DeliveryFuture:
    """One record's delivery, shaped like kafka-python's ``FutureRecordMetadata`` (``is_done``, ``succeeded``,
    ``value``, ``exception``, ``get``); a failure is the kafka-python exception of the same Kafka error."""

    __slots__ = ("_producer", "exception", "is_done", "value")

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self.is_done = False
        self.value: DeliveryMetadata | None = None
        self.exception: KafkaError | None = None

    def __call__(self, err: Any, msg: Any) -> None:  # librdkafka's delivery report, served by poll() or flush()
        if err is None:
            self.value = DeliveryMetadata(msg.topic(), msg.partition(), msg.offset())
        else:
            self.exception = _kafka_python_error(err)
        self.is_done = True

    def succeeded(self) -> bool:
        return self.is_done and self.exception is None

    def failed(self) -> bool:
        return self.is_done and self.exception is not None

    def get(self, timeout: float | None = None) -> DeliveryMetadata:
        """The record's metadata once delivered (serving delivery reports meanwhile); its error if it failed."""
        deadline = time.monotonic() + (timeout if timeout is not None else 365 * 86400.0)
        while not self.is_done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KafkaTimeoutError(f"record not acknowledged within {timeout:g}s")
            self._producer.poll(min(left, 0.1))
        if self.exception is not None:
            raise self.exception
        assert self.value is not None
        return self.value


class ConfluentProducer:
    """A librdkafka producer with the kafka-python calls the publisher makes: ``send`` -> future, ``flush``,
    ``close``. Durable like every producer here (acks=all, idempotent: :func:`confluent_config`); delivery
    reports are served on ``send``, ``flush`` and a future's ``get`` (no thread of its own); a send that finds
    the local queue full waits for room at most ``max_block_s``, then raises ``KafkaTimeoutError`` as
    kafka-python does. Every librdkafka error is raised as the kafka-python exception of the same code."""

    def __init__(self, producer: Any, max_block_s: float, library_error: type[Exception]) -> None:
        self._producer = producer
        self._max_block_s = max_block_s
        self._library_error = library_error
        self._unpolled = 0

    def send(self, topic: str, *, key: bytes | None = None, value: bytes | None = None) -> DeliveryFuture:
        future = DeliveryFuture(self._producer)
        deadline: float | None = None
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=future)
                break
            except BufferError:  # the local queue is full: serve delivery reports until there is room
                deadline = deadline or time.monotonic() + self._max_block_s
                if time.monotonic() > deadline:
                    raise KafkaTimeoutError(
                        f"{topic}: no room in the producer's queue in {self._max_block_s:g}s"
                    ) from None
                self._producer.poll(0.05)
            except self._library_error as exc:
                raise (
                    _kafka_python_error(exc.args[0])
                    if exc.args and hasattr(exc.args[0], "code")
                    else KafkaError(str(exc))
                ) from exc
        self._unpolled += 1
        if self._unpolled >= 256:  # serve delivery reports now and then, so that they never pile up
            self._unpolled = 0
            self._producer.poll(0)
        return future

    def flush(self, timeout: float | None = None) -> None:
        left = self._producer.flush(timeout if timeout is not None else -1)
        if left:
            raise KafkaTimeoutError(f"{left} record(s) not delivered within {timeout}s")

    def close(self, timeout: float | None = None) -> None:
        self.flush(timeout)


def _kafka_python_error(err: Any) -> KafkaError:
    """The kafka-python exception for a librdkafka ``KafkaError`` (so :func:`hub.kafka_auth.refusal` knows it)."""
    code = err.code()
    text = err.str()
    if code == -169:  # _AUTHENTICATION: the SASL login was refused
        return SaslAuthenticationFailedError(text)
    if code in (-192, -185):  # _MSG_TIMED_OUT, _TIMED_OUT
        return KafkaTimeoutError(text)
    if code > 0:
        return kafka_errors.for_code(code)(text)  # type: ignore[no-any-return]
    return KafkaConnectionError(text) if code in (-195, -187) else KafkaError(text)


def new_confluent_producer(
    settings: HubSettings, *, client_id: str, timeout_s: float | None = None
) -> ConfluentProducer:
    """An open librdkafka producer (:func:`confluent_config`), logged in and connected, like :func:`new_producer`:
    :class:`BrokerError` if the cluster does not answer within ``timeout_s``, :class:`KafkaAuthError` if it
    refuses the login. Needs confluent-kafka installed."""
    from confluent_kafka import KafkaException, Producer  # optional: only a librdkafka producer needs it

    bound = timeout_s if timeout_s is not None else settings.request_timeout_s
    errors: deque[Any] = deque(maxlen=16)  # the latest client-level errors (a refused login among them)
    config = {
        **confluent_config(settings, client_id=client_id, timeout_s=bound),
        "error_cb": errors.append,
        "logger": logging.getLogger("kafka.librdkafka"),  # its log lines through logging, as kafka-python's
    }
    producer = Producer(config)
    for last in (False, True):  # a timeout while the port is open is tried once more, as _open says why
        try:
            producer.list_topics(timeout=bound)  # connect and log in now, as kafka-python's constructor does
            break
        except KafkaException as exc:  # why is in the error callback
            refused = [e for e in errors if e.code() == -169]
            if refused:
                denied = refusal(SaslAuthenticationFailedError(refused[0].str()), settings)
                if denied is not None:
                    raise denied from exc
            if not _tcp_open(settings):
                raise BrokerError(f"no Kafka broker answered at {describe(settings)} within {bound:g}s") from exc
            if last:
                raise _no_session(settings, security_protocol(settings), bound) from exc
    return ConfluentProducer(producer, bound, KafkaException)


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
    return cluster.request_timeout_s


class _RefusalCatcher(logging.Handler):
    """Keeps the refusals kafka-python logs while it retries a bootstrap (it raises only a timeout)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[BaseException] = []
        self.tls: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.seen.extend(a for a in args if isinstance(a, BaseException) and is_refusal(a))
        self.tls.extend(a for a in args if isinstance(a, BaseException) and _is_tls_failure(a))


def _is_tls_failure(exc: BaseException) -> bool:
    # kafka-python wraps the handshake's SSLError in a KafkaConnectionError("Handshake failed: ...")
    return isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError) or "Handshake failed" in str(exc)


def _tcp_open(cluster: Cluster) -> bool:
    host, _, port = bootstrap_of(cluster)[0].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=1.0).close()
        return True
    except (OSError, ValueError):
        return False


def _quiet_clear_text_warning(config: dict[str, Any]) -> None:
    # kafka-python warns on every SCRAM login without TLS; on loopback there is no wire to protect.
    hosts = {b.rpartition(":")[0] for b in config.get("bootstrap_servers", [])}
    if config.get("security_protocol") == "SASL_PLAINTEXT" and hosts <= _LOOPBACK:
        logging.getLogger("kafka.net.sasl.scram").setLevel(logging.ERROR)


def _no_session(settings: HubSettings, protocol: str, timeout_s: float) -> KafkaAuthError:
    """A broker that accepts TCP but gives no session: a login it requires, or refuses."""
    where = describe(settings)
    if protocol == "PLAINTEXT":
        return KafkaAuthError(
            f"Kafka at {where} accepted the connection but no session without a login: it requires SASL "
            "(set HUB_KAFKA_SASL_USERNAME and HUB_KAFKA_SASL_PASSWORD, or run `hub kafka start` here)",
            principal="User:ANONYMOUS",
        )
    who = principal_of(settings)
    return KafkaAuthError(
        f"Kafka at {where} accepted the connection but no session for {who} ({protocol}, "
        f"{settings.kafka_sasl_mechanism}) within {timeout_s:g}s: the login was refused (wrong user name or "
        "password) or the listener speaks another protocol",
        principal=who,
    )


def _open(kind: Any, config: dict[str, Any], cluster: Cluster, timeout_s: float, *, hint: str = "") -> Any:
    """``kind(**config)``, its failure translated: a refused login, TLS, no session, no broker.

    A timeout while the port is open is tried once more before it is called "no session": a broker that comes
    back late in the window (a restart) gets no reconnect from kafka-python before its timeout, its backoff having
    grown to many seconds while the port was closed, so only a second attempt tells that from a login refused
    without a word.
    """
    try:
        return _attempt(kind, config, cluster, timeout_s, hint=hint, last=False)
    except _PortOpen:
        return _attempt(kind, config, cluster, timeout_s, hint=hint, last=True)


class _PortOpen(Exception):
    """An attempt timed out while the broker's port accepts connections."""


def _attempt(kind: Any, config: dict[str, Any], cluster: Cluster, timeout_s: float, *, hint: str, last: bool) -> Any:
    _quiet_clear_text_warning(config)
    catcher = _RefusalCatcher()
    library = logging.getLogger("kafka")
    library.addHandler(catcher)
    try:
        return kind(**config)
    except KafkaError as exc:
        settings = cluster
        denied = refusal(exc, settings)
        if denied is None and catcher.seen:
            denied = refusal(catcher.seen[0], settings)
        if denied is not None:
            raise denied from exc
        if catcher.tls:
            ca = settings.kafka_ssl_cafile or "the system's CAs"
            raise BrokerError(
                f"TLS to Kafka at {describe(cluster)} failed: {catcher.tls[0]} (trusting {ca}; "
                "HUB_KAFKA_SSL_CAFILE names the CA that signed the brokers' certificates)"
            ) from exc
        if isinstance(exc, KafkaTimeoutError) and _tcp_open(cluster):
            if not last:
                raise _PortOpen from exc
            raise _no_session(settings, config["security_protocol"], timeout_s) from exc
        if isinstance(exc, KafkaTimeoutError):
            raise BrokerError(f"no Kafka broker answered at {describe(cluster)} within {timeout_s:g}s{hint}") from exc
        raise BrokerError(f"cannot reach Kafka at {describe(cluster)}: {exc}") from exc
    finally:
        library.removeHandler(catcher)


__all__ = [
    "Cluster",
    "ConfluentProducer",
    "ConsumerOptions",
    "DeliveryFuture",
    "DeliveryMetadata",
    "ProducerClient",
    "admin_config",
    "aiokafka_connection",
    "aiokafka_producer_config",
    "bootstrap_of",
    "confluent_config",
    "connection_config",
    "consumer_config",
    "describe",
    "faust_connection",
    "new_admin",
    "new_confluent_producer",
    "new_consumer",
    "new_producer",
    "producer_config",
    "security_protocol",
    "ssl_context",
]
