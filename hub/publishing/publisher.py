"""The district SDK: validate, serialize and publish events to raw topics.

``Publisher`` wraps an idempotent producer (acks=all), built by
:func:`hub.kafka_clients.new_producer` like every producer of the hub: kafka-python by
default, or (``client="confluent"``) librdkafka through confluent-kafka, from
the same settings and login (:func:`hub.kafka_clients.new_confluent_producer`),
whose errors reach this module as the same kafka-python exceptions. Every
event is validated at the edge before anything is sent; the topic is
``raw.<region>.<district>.<event>`` and the key is the aggregate id.

Logins: by default one producer logs in with the settings' principal (a
district's own, in a deployment). Given ``logins`` (region, district ->
settings), the publisher opens one producer per district, each logged in as
that district's principal, so that the broker's ACLs - not this code - keep
every event inside its own district's topics. A refusal by the broker is a
:class:`~hub.errors.PublishError` naming the principal, the topic and WRITE.

Cost: a topic's name, subject, serializer and producer are found once per
(region, district, type), not per event; ``publish_many`` sends a whole batch,
then flushes once and reads each acknowledgement without a further wait.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError, UnknownTopicOrPartitionError

from hub import naming
from hub.errors import HubError, PublishError, SchemaRegistryError, SerializationError, ValidationError
from hub.kafka_auth import refusal
from hub.kafka_clients import ProducerClient, new_confluent_producer, new_producer
from hub.schemas import schema_text
from hub.serde import AvroSerializer, SchemaSource
from hub.settings import HubSettings
from hub.validation import ValidatedEvent, validate_event


@dataclass(frozen=True, slots=True)
class Ack:
    """Where an event landed."""

    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event that was not published, and why (per-field errors where known)."""

    index: int
    event_id: str | None
    errors: list[tuple[str, str]]
    phase: str  # validation | serialization | registry | publish

    @property
    def message(self) -> str:
        return "; ".join(f"{f}: {m}" for f, m in self.errors)


Result = Ack | Rejected


@dataclass(frozen=True, slots=True)
class _Route:
    """Where the events of one (region, district, type) go: built once per publisher, not per event."""

    topic: str
    subject: str
    serializer: AvroSerializer
    producer: tuple[str, str] | None
    """Key of the producer that sends them (:meth:`Publisher._key`)."""


Logins = Callable[[str, str], HubSettings]
"""(region, district) -> the settings that log in as that district's principal."""


class Publisher:
    """Publish district events. Use as a context manager, or call :meth:`close`.

    >>> with Publisher(settings, registry) as pub:          # doctest: +SKIP
    ...     ack = pub.publish({"type": "CaseOpened", ...})
    """

    def __init__(
        self,
        settings: HubSettings,
        registry: SchemaSource,
        *,
        timeout_s: float | None = None,
        logins: Logins | None = None,
        client: ProducerClient = "kafka-python",
    ) -> None:
        self._settings = settings
        self._client = client
        self._timeout_s = timeout_s if timeout_s is not None else settings.request_timeout_s
        self._registry = registry
        self._serializers: dict[str, AvroSerializer] = {}
        self._routes: dict[tuple[str, str, str], _Route] = {}
        self._logins = logins
        self._producers: dict[tuple[str, str] | None, tuple[HubSettings, Any]] = {}
        if logins is None:
            self._producer_for(None)

    def _key(self, event: ValidatedEvent) -> tuple[str, str] | None:
        """Which producer sends ``event``: its district's with ``logins``, else the one producer (None)."""
        return (event.region, event.district) if self._logins is not None else None

    def _producer_for(self, key: tuple[str, str] | None) -> tuple[HubSettings, Any]:
        found = self._producers.get(key)
        if found is None:
            settings = self._settings if key is None or self._logins is None else self._logins(*key)
            try:
                if self._client == "confluent":
                    producer: Any = new_confluent_producer(
                        settings, client_id="hub-publisher", timeout_s=self._timeout_s
                    )
                else:
                    producer = new_producer(settings, client_id="hub-publisher", timeout_s=self._timeout_s)
            except HubError as exc:  # BrokerError, KafkaAuthError, a missing local login
                raise PublishError(str(exc)) from exc
            except ImportError as exc:
                raise PublishError(f"the librdkafka producer needs confluent-kafka installed: {exc}") from exc
            found = (settings, producer)
            self._producers[key] = found
        return found

    # -- encoding ---------------------------------------------------------
    def _route(self, event: ValidatedEvent) -> _Route:
        """Topic, subject, serializer and producer of ``event``'s (region, district, type), built once each."""
        coordinates = (event.region, event.district, event.event_type)
        route = self._routes.get(coordinates)
        if route is None:
            topic = naming.raw_topic(*coordinates)
            serializer = self._serializers.get(event.event_type)
            if serializer is None:
                serializer = AvroSerializer(self._registry, schema_text("raw", event.event_type))
                self._serializers[event.event_type] = serializer
            route = _Route(topic, naming.subject_for(topic), serializer, self._key(event))
            self._routes[coordinates] = route
        return route

    def register(self, event: ValidatedEvent) -> int:
        """The schema id of ``event``'s topic, registered on first use (cached); the registry's error if it fails."""
        route = self._route(event)
        return route.serializer.schema_id(route.subject)

    def encode(self, event: ValidatedEvent) -> tuple[str, bytes, bytes]:
        """Topic, key and framed value of a validated event."""
        route = self._route(event)
        return route.topic, event.key.encode("utf-8"), route.serializer(event.record, route.subject)

    # -- publishing -------------------------------------------------------
    def publish(self, event: Mapping[str, Any] | ValidatedEvent, *, timeout_s: float | None = None) -> Ack:
        """Validate and publish one event; wait for the broker's acknowledgement."""
        validated = event if isinstance(event, ValidatedEvent) else validate_event(event)
        route = self._route(validated)
        future = self._send_to(route, validated.key.encode("utf-8"), route.serializer(validated.record, route.subject))
        bound = timeout_s if timeout_s is not None else self._timeout_s
        with contextlib.suppress(KafkaError):  # send it now rather than after the linger; _await reports a failure
            self._producers[route.producer][1].flush(timeout=bound)
        return self._await(validated, route, future, bound)

    def publish_many(self, events: Iterable[Mapping[str, Any] | ValidatedEvent]) -> list[Result]:
        """Publish a batch; one result per input, in order. Invalid events are reported, not sent.

        Every event is validated, encoded and handed to its producer first; then the producers are flushed
        once and each event's acknowledgement read (one wait for the batch, not one per event)."""
        results: list[Result | None] = []
        pending: list[tuple[int, ValidatedEvent, _Route, Any]] = []
        # once a producer cannot send (broker unreachable, login refused), fail the rest of *its* events fast
        broken: dict[tuple[str, str] | None, PublishError] = {}
        for index, event in enumerate(events):
            try:
                validated = event if isinstance(event, ValidatedEvent) else validate_event(event)
                route = self._route(validated)
                value = route.serializer(validated.record, route.subject)
            except ValidationError as exc:
                results.append(Rejected(index, _event_id(event), exc.errors, "validation"))
                continue
            except SerializationError as exc:
                results.append(Rejected(index, _event_id(event), [("event", str(exc))], "serialization"))
                continue
            except SchemaRegistryError as exc:
                results.append(Rejected(index, _event_id(event), [("schema", str(exc))], "registry"))
                continue
            failed = broken.get(route.producer)
            if failed is not None:
                results.append(Rejected(index, validated.event_id, [("event", str(failed))], "publish"))
                continue
            try:
                future = self._send_to(route, validated.key.encode("utf-8"), value)
            except PublishError as exc:
                broken[route.producer] = exc
                results.append(Rejected(index, validated.event_id, [("event", str(exc))], "publish"))
                continue
            results.append(None)  # its Ack (or Rejected) once the producers are flushed
            pending.append((index, validated, route, future))
        if pending:
            with contextlib.suppress(PublishError):  # each pending future below reports its own outcome
                self.flush()
        deadline = time.monotonic() + self._timeout_s
        for index, validated, route, future in pending:
            if future.is_done and future.succeeded():  # the usual case after the flush: no wait, no timer
                meta = future.value
                results[index] = Ack(validated.event_id, validated.event_type, meta.topic, meta.partition, meta.offset)
                continue
            try:
                results[index] = self._await(validated, route, future, max(0.1, deadline - time.monotonic()))
            except PublishError as exc:
                results[index] = Rejected(index, validated.event_id, [("event", str(exc))], "publish")
        return [r for r in results if r is not None]

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every sent event is acknowledged or failed."""
        try:
            for _, producer in self._producers.values():
                producer.flush(timeout=timeout_s if timeout_s is not None else self._timeout_s)
        except KafkaError as exc:
            raise PublishError(f"flush did not complete: {exc}") from exc

    def close(self) -> None:
        for _, producer in self._producers.values():
            with contextlib.suppress(KafkaError):  # closing a producer whose broker went away must not raise
                producer.close(timeout=self._timeout_s)
        self._producers.clear()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals --------------------------------------------------------
    def _send_to(self, route: _Route, key: bytes, value: bytes) -> Any:
        settings, producer = self._producer_for(route.producer)
        topic = route.topic
        try:
            return producer.send(topic, key=key, value=value)
        except KafkaError as exc:
            denied = refusal(exc, settings, resource=f"topic {topic}", operation="WRITE")
            if denied is not None:
                raise PublishError(str(denied)) from exc
            if not isinstance(exc, KafkaTimeoutError):
                raise PublishError(f"{topic}: {exc}") from exc
            raise PublishError(
                f"{topic}: no metadata from Kafka at {self._settings.bootstrap_servers} within {self._timeout_s:g}s "
                "(is the broker running, the topic created with `hub topics apply`, and may "
                f"{settings.kafka_sasl_username or 'this client'} write it?)"
            ) from exc

    def _await(self, event: ValidatedEvent, route: _Route, future: Any, timeout_s: float) -> Ack:
        try:
            meta = future.get(timeout=timeout_s)
        except KafkaError as exc:
            settings, _ = self._producer_for(route.producer)
            topic = route.topic
            denied = refusal(exc, settings, resource=f"topic {topic}", operation="WRITE")
            if denied is not None:
                raise PublishError(f"event {event.event_id}: {denied}") from exc
            if isinstance(exc, UnknownTopicOrPartitionError):  # librdkafka says so at delivery, not at send
                raise PublishError(
                    f"event {event.event_id}: {topic} does not exist on Kafka at {self._settings.bootstrap_servers} "
                    "(create it with `hub topics apply`)"
                ) from exc
            if not isinstance(exc, KafkaTimeoutError):
                raise PublishError(f"event {event.event_id}: {exc}") from exc
            raise PublishError(
                f"event {event.event_id}: not acknowledged by Kafka at {self._settings.bootstrap_servers} "
                f"within {timeout_s:.3g}s (is {topic} created with `hub topics apply`?)"
            ) from exc
        return Ack(event.event_id, event.event_type, meta.topic, meta.partition, meta.offset)


def _event_id(event: Mapping[str, Any] | ValidatedEvent) -> str | None:
    if isinstance(event, ValidatedEvent):
        return event.event_id
    value = event.get("event_id") if isinstance(event, Mapping) else None
    return value if isinstance(value, str) else None


__all__ = ["Ack", "HubError", "Publisher", "Rejected", "Result"]
