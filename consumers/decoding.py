"""Pinned reader schemas, and turning a shared record into a sink record or a dead letter.

A partner reads every event type with the reader schema its installation
pins (the shared ``.avsc`` it shipped with), whatever schema the writer used:
a newer writer schema that adds an optional field resolves to the pinned one,
so no partner has to redeploy for a compatible change.

Guarantees of :meth:`RecordDecoder.decode`: every record yields a
:class:`~consumers.sinks.SinkRecord` carrying its coordinates (so its offset
advances), with the event, or with None and a :class:`~hub.dlq.DeadLetter`
saying why (a tombstone, bytes that do not decode with the pinned schema, an
event without ``event_id``). A registry outage is not a reason: the look-up
goes through the caller's retry and is waited out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from kafka.consumer.fetcher import ConsumerRecord

from consumers.partners import zone_of
from consumers.sinks import SinkError, SinkRecord
from hub.dlq import DeadLetter
from hub.errors import SerializationError
from hub.schemas import event_types, schema_text
from hub.serde import AvroDeserializer, SchemaSource

log = logging.getLogger("consumers.subscriber")
T = TypeVar("T")


class Retrying(Protocol):
    """Runs ``step`` until it succeeds, waiting out outages of ``what`` (the subscriber's retry)."""

    def __call__(self, what: str, step: Callable[[], T]) -> T: ...


def pinned_readers(types: Sequence[str] | None = None) -> dict[str, str]:
    """The reader schemas this installation pins: the shared ``.avsc`` of each event type (event type -> text)."""
    return {t: schema_text("shared", t) for t in (types if types is not None else event_types("shared"))}


def load_reader(text: str) -> dict[str, Any]:
    """A reader schema's JSON document (for the sink's columns)."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise SinkError("reader schema: expected a record schema")
    return doc


class RecordDecoder:
    """Decodes shared records of known topics with the pinned reader schemas; dead letters name ``consumer``."""

    def __init__(
        self, registry: SchemaSource, readers: Mapping[str, str], *, consumer: str, retrying: Retrying
    ) -> None:
        self.consumer = consumer
        self._retrying = retrying
        self._decoders = {t: AvroDeserializer(registry, text) for t, text in readers.items()}
        self.event_types: dict[str, str] = {}
        """Topic -> event type of every topic being read (set when the topics are assigned)."""

    def decode(self, rec: ConsumerRecord) -> tuple[SinkRecord, DeadLetter | None]:
        """The sink record of ``rec``, and the dead letter when its event is None (see the module docstring)."""
        event_type = self.event_types[rec.topic]
        zone = zone_of(rec.topic)
        empty = SinkRecord(rec.topic, rec.partition, rec.offset, zone, event_type, None)
        if rec.value is None:
            return empty, self.letter(rec, "decode", "the record has no value (a tombstone)")
        decoder = self._decoders[event_type]
        try:
            event = self._retrying("schema registry", lambda: decoder(bytes(rec.value)))
        except SerializationError as exc:
            return empty, self.letter(rec, "decode", f"{event_type} with the pinned reader schema: {exc}")
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id.strip():
            return empty, self.letter(rec, "validate", "event_id: missing or empty, so the event cannot be deduped")
        return SinkRecord(rec.topic, rec.partition, rec.offset, zone, event_type, event), None

    def letter(self, rec: ConsumerRecord, stage: str, reason: str, *, event_id: str | None = None) -> DeadLetter:
        """The dead letter of ``rec`` (logged), with its original key and value."""
        log.warning("dead letter %s[%d]@%d (%s): %s", rec.topic, rec.partition, rec.offset, stage, reason)
        return DeadLetter.of(rec, consumer=self.consumer, stage=stage, reason=reason, event_id=event_id)


__all__ = ["RecordDecoder", "Retrying", "load_reader", "pinned_readers"]
