"""Dead letters for ``hub.dlq``: what failed, where it came from, and why, and the one producer that sends them.

A dead letter is JSON, not Avro, on purpose: it must be writable when the
thing that failed is the schema registry or the Avro decoder, and readable by
an operator with any Kafka tool. The original key and value travel as base64.
Every component that gives up on a record (the projection worker and its
rebuild, the partner subscriber) sends it through :class:`DeadLetterProducer`.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from hub.errors import BrokerError
from hub.kafka_clients import new_producer
from hub.naming import DLQ_TOPIC
from hub.settings import HubSettings

__all__ = ["DLQ_TOPIC", "DeadLetter", "DeadLetterProducer", "FailedRecord", "decode_dead_letter"]


class FailedRecord(Protocol):
    """What a dead letter needs of the record that failed (a kafka-python or faust record, a hub record type)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class DeadLetter:
    consumer: str  # which component gave up, e.g. "gateway", "projection:cases"
    stage: str  # decode | validate | policy | apply | encode
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    original_key: bytes | None
    original_value: bytes | None
    failed_at: datetime
    event_id: str | None = None

    @classmethod
    def now(cls, **fields: Any) -> DeadLetter:
        return cls(failed_at=datetime.now(UTC), **fields)

    @classmethod
    def of(
        cls, record: FailedRecord, *, consumer: str, stage: str, reason: str, event_id: str | None = None
    ) -> DeadLetter:
        """The dead letter of ``record``, failed now: its coordinates and its original key and value."""
        return cls.now(
            consumer=consumer,
            stage=stage,
            reason=reason,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            original_key=None if record.key is None else bytes(record.key),
            original_value=None if record.value is None else bytes(record.value),
            event_id=event_id,
        )

    def key(self) -> bytes:
        """Keyed by source coordinates, so a re-sent dead letter is recognisable."""
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}".encode()

    def value(self) -> bytes:
        doc = asdict(self)
        doc["failed_at"] = self.failed_at.isoformat()
        doc["original_key"] = _b64(self.original_key)
        doc["original_value"] = _b64(self.original_value)
        return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def headers(self) -> list[tuple[str, bytes]]:
        return [("hub.dlq.stage", self.stage.encode()), ("hub.dlq.consumer", self.consumer.encode())]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def decode_dead_letter(value: bytes) -> DeadLetter:
    doc = json.loads(value)
    doc["failed_at"] = datetime.fromisoformat(doc["failed_at"])
    for k in ("original_key", "original_value"):
        doc[k] = None if doc[k] is None else base64.b64decode(doc[k])
    return DeadLetter(**doc)


class DeadLetterProducer:
    """Delivers dead letters to ``hub.dlq`` durably (acks=all, idempotent); the producer opens on first use.

    :meth:`send` returns only once the broker acknowledged every letter, so a
    caller may then move its offsets past the failed records. Any Kafka failure
    raises :class:`~hub.errors.BrokerError` (transient: wait and send again) and
    drops the producer, so the next attempt starts from a fresh connection.
    """

    def __init__(self, settings: HubSettings, *, client_id: str) -> None:
        self.settings = settings
        self.client_id = client_id
        self._producer: KafkaProducer | None = None

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Send every letter and wait until each is acknowledged; raises :class:`BrokerError` otherwise."""
        if not letters:
            return
        timeout = self.settings.request_timeout_s
        try:
            if self._producer is None:
                self._producer = new_producer(self.settings, client_id=self.client_id)
            producer = self._producer
            futures = [
                producer.send(DLQ_TOPIC, key=letter.key(), value=letter.value(), headers=letter.headers())
                for letter in letters
            ]
            producer.flush(timeout=timeout)
            for future in futures:
                future.get(timeout=timeout)
        except (KafkaError, BrokerError) as exc:
            self.close()
            raise BrokerError(f"cannot deliver {len(letters)} dead letter(s) to {DLQ_TOPIC}: {exc}") from exc

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(KafkaError):
                producer.close(timeout=self.settings.request_timeout_s)
