"""The district SDK: validate, serialize and publish events to raw topics.

``Publisher`` wraps one idempotent kafka-python producer (acks=all), built by
:func:`hub.kafka_clients.new_producer` like every producer of the hub. Every
event is validated at the edge before anything is sent; the topic is
``raw.<region>.<district>.<event>`` and the key is the aggregate id.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError

from hub import naming
from hub.errors import BrokerError, HubError, PublishError, SchemaRegistryError, SerializationError, ValidationError
from hub.kafka_clients import new_producer
from hub.schemas import schema_text
from hub.serde import AvroSerializer, SchemaSource
from hub.settings import HubSettings
from hub.validation import ValidatedEvent, validate_event


@dataclass(frozen=True)
class Ack:
    """Where an event landed."""

    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
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


class Publisher:
    """Publish district events. Use as a context manager, or call :meth:`close`.

    >>> with Publisher(settings, registry) as pub:          # doctest: +SKIP
    ...     ack = pub.publish({"type": "CaseOpened", ...})
    """

    def __init__(self, settings: HubSettings, registry: SchemaSource, *, timeout_s: float | None = None) -> None:
        self._settings = settings
        self._timeout_s = timeout_s if timeout_s is not None else settings.request_timeout_s
        self._registry = registry
        self._serializers: dict[str, AvroSerializer] = {}
        try:
            self._producer = new_producer(settings, client_id="hub-publisher", timeout_s=self._timeout_s)
        except BrokerError as exc:
            raise PublishError(str(exc)) from exc

    # -- encoding ---------------------------------------------------------
    def _serializer(self, event_type: str) -> AvroSerializer:
        ser = self._serializers.get(event_type)
        if ser is None:
            ser = AvroSerializer(self._registry, schema_text("raw", event_type))
            self._serializers[event_type] = ser
        return ser

    def encode(self, event: ValidatedEvent) -> tuple[str, bytes, bytes]:
        """Topic, key and framed value of a validated event."""
        topic = naming.raw_topic(event.region, event.district, event.event_type)
        value = self._serializer(event.event_type)(event.record, naming.subject_for(topic))
        return topic, event.key.encode("utf-8"), value

    # -- publishing -------------------------------------------------------
    def publish(self, event: Mapping[str, Any] | ValidatedEvent, *, timeout_s: float | None = None) -> Ack:
        """Validate and publish one event; wait for the broker's acknowledgement."""
        validated = event if isinstance(event, ValidatedEvent) else validate_event(event)
        topic, key, value = self.encode(validated)
        future = self._send(topic, key, value)
        return self._await(validated, future, timeout_s if timeout_s is not None else self._timeout_s)

    def publish_many(self, events: Iterable[Mapping[str, Any] | ValidatedEvent]) -> list[Result]:
        """Publish a batch; one result per input, in order. Invalid events are reported, not sent."""
        pending: list[tuple[int, ValidatedEvent, Any]] = []
        results: list[Result | None] = []
        broken: PublishError | None = None  # once the broker is unreachable, fail the rest fast
        for index, event in enumerate(events):
            results.append(None)
            try:
                validated = event if isinstance(event, ValidatedEvent) else validate_event(event)
                topic, key, value = self.encode(validated)
            except ValidationError as exc:
                results[index] = Rejected(index, _event_id(event), exc.errors, "validation")
                continue
            except SerializationError as exc:
                results[index] = Rejected(index, _event_id(event), [("event", str(exc))], "serialization")
                continue
            except SchemaRegistryError as exc:
                results[index] = Rejected(index, _event_id(event), [("schema", str(exc))], "registry")
                continue
            if broken is not None:
                results[index] = Rejected(index, validated.event_id, [("event", str(broken))], "publish")
                continue
            try:
                pending.append((index, validated, self._send(topic, key, value)))
            except PublishError as exc:
                broken = exc
                results[index] = Rejected(index, validated.event_id, [("event", str(exc))], "publish")
        if pending:
            with contextlib.suppress(PublishError):  # each pending future below reports its own outcome
                self.flush()
        deadline = time.monotonic() + self._timeout_s
        for index, validated, future in pending:
            try:
                results[index] = self._await(validated, future, max(0.1, deadline - time.monotonic()))
            except PublishError as exc:
                results[index] = Rejected(index, validated.event_id, [("event", str(exc))], "publish")
        return [r for r in results if r is not None]

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every sent event is acknowledged or failed."""
        try:
            self._producer.flush(timeout=timeout_s if timeout_s is not None else self._timeout_s)
        except KafkaError as exc:
            raise PublishError(f"flush did not complete: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(KafkaError):  # closing a producer whose broker went away must not raise
            self._producer.close(timeout=self._timeout_s)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals --------------------------------------------------------
    def _send(self, topic: str, key: bytes, value: bytes) -> Any:
        try:
            return self._producer.send(topic, key=key, value=value)
        except KafkaTimeoutError as exc:
            raise PublishError(
                f"{topic}: no metadata from Kafka at {self._settings.bootstrap_servers} within {self._timeout_s:g}s "
                "(is the broker running and the topic created with `hub topics apply`?)"
            ) from exc
        except KafkaError as exc:
            raise PublishError(f"{topic}: {exc}") from exc

    def _await(self, event: ValidatedEvent, future: Any, timeout_s: float) -> Ack:
        try:
            meta = future.get(timeout=timeout_s)
        except KafkaTimeoutError as exc:
            raise PublishError(
                f"event {event.event_id}: not acknowledged by Kafka at {self._settings.bootstrap_servers} "
                f"within {timeout_s:g}s"
            ) from exc
        except KafkaError as exc:
            raise PublishError(f"event {event.event_id}: {exc}") from exc
        return Ack(event.event_id, event.event_type, meta.topic, meta.partition, meta.offset)


def _event_id(event: Mapping[str, Any] | ValidatedEvent) -> str | None:
    if isinstance(event, ValidatedEvent):
        return event.event_id
    value = event.get("event_id") if isinstance(event, Mapping) else None
    return value if isinstance(value, str) else None


__all__ = ["Ack", "HubError", "Publisher", "Rejected", "Result"]
