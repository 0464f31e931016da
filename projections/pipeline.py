"""One batch of shared Kafka records in, applied to the read models (or dead-lettered) out.

Shared by the live worker (:mod:`projections.worker`) and the rebuild
(:mod:`projections.rebuild`), so both apply exactly the same logic:

1. **decode** each record: Confluent framing, the writer schema from the
   registry by id, resolved to the *pinned* shared schema of its event type
   (the reader schema, from the topic name);
2. **project** it: :func:`projections.rules.project` gives its row changes;
3. **dead-letter** every record that failed 1 or 2 (``hub.dlq``, with the
   stage, the reason and the source coordinates) and wait for the broker's
   acknowledgement;
4. **apply** the batch with :func:`projections.store.apply_batch` (rows and
   offsets in one transaction). Records the database refuses
   (:class:`~projections.store.RecordsRejected`) are dead-lettered too, then
   the batch is applied again with their changes emptied, so their offsets
   advance and the rest of the batch lands.

A failed record is therefore never acknowledged silently: its offset only
moves past it once its dead letter is on the broker.

Outages are waited out, never dead-lettered: a registry that cannot be
reached, a broker that does not take the dead letters, a database that is
down or busy (:class:`~projections.store.StoreUnavailable`). :class:`Pipeline`
waits them out with the one retry policy (:mod:`hub.retry`: its list of
transient errors, its capped backoff) until they succeed or ``stopping`` is
set (then :class:`Stopping` is raised and nothing of the batch was
acknowledged). No Kafka client here: the dead letters go through a
:class:`DeadLetterSink`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Protocol, TypeVar

from sqlalchemy import Engine

from hub.dlq import DeadLetter
from hub.errors import ProjectionError, SerializationError
from hub.naming import parse_shared_topic
from hub.retry import Backoff, Stopped, log_waits, retry
from hub.schemas import event_types, schema_text
from hub.serde import AvroDeserializer, SchemaSource
from hub.stream_runner.batch import Consumed
from projections import store
from projections.rules import ProjectionContext, project
from projections.store import BatchSummary, RecordsRejected, SourceRecord

log = logging.getLogger("hub.projections")
T = TypeVar("T")

#: Stages of a projection's dead letters.
DECODE: Final = "decode"
PROJECT: Final = "project"
APPLY: Final = "apply"


@dataclass(frozen=True)
class Failure:
    """Why one record cannot be projected."""

    stage: str
    reason: str
    event_id: str | None = None


class DeadLetterSink(Protocol):
    """Where dead letters go (e.g. :class:`hub.dlq.DeadLetterProducer`).

    ``send`` returns once every letter is durably stored, else raises
    :class:`~hub.errors.BrokerError`.
    """

    def send(self, letters: Sequence[DeadLetter]) -> None: ...


class Stopping(ProjectionError, Stopped):
    """The pipeline was asked to stop while waiting out an outage; the batch was not (fully) applied."""


class Decoder:
    """Decodes shared records with the pinned reader schemas and projects them into row changes.

    Raises :class:`~hub.errors.SchemaRegistryError` only for a registry
    outage; every per-record problem is returned as a :class:`Failure`.
    """

    def __init__(self, registry: SchemaSource, ctx: ProjectionContext) -> None:
        self._registry = registry
        self._ctx = ctx
        self._readers: dict[str, AvroDeserializer] = {}
        self._shared_types = frozenset(event_types("shared"))

    def _reader(self, event_type: str) -> AvroDeserializer:
        reader = self._readers.get(event_type)
        if reader is None:
            reader = AvroDeserializer(self._registry, schema_text("shared", event_type))
            self._readers[event_type] = reader
        return reader

    def decode(self, record: Consumed) -> SourceRecord | Failure:
        """The record's row changes, or why it cannot be projected."""
        try:
            coordinates = parse_shared_topic(record.topic)
        except ValueError as exc:
            return Failure(DECODE, f"topic: {exc}")
        if coordinates.event_type not in self._shared_types:
            return Failure(DECODE, f"topic {record.topic}: no shared schema for event type {coordinates.event_type}")
        if record.value is None:
            return Failure(DECODE, "value: empty record (tombstone); a shared event is never deleted")
        try:
            _schema_id, decoded = self._reader(coordinates.event_type).decode(record.value)
        except SerializationError as exc:
            return Failure(DECODE, str(exc))
        event_id = decoded.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        try:
            changes = project(coordinates.zone, coordinates.event_type, decoded, self._ctx)
        except ProjectionError as exc:
            return Failure(PROJECT, str(exc), event_id)
        return SourceRecord(record.topic, record.partition, record.offset, changes, record.timestamp_ms)


@dataclass
class Outcome:
    """What :meth:`Pipeline.process` did with one batch."""

    summary: BatchSummary
    dead: Counter[str] = field(default_factory=Counter)
    """Dead letters sent, per stage."""
    retries: int = 0
    """Outages waited out while processing the batch."""


class Pipeline:
    """Decode, project, dead-letter and apply batches of one projection (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        projection: str,
        decoder: Decoder,
        dead_letters: DeadLetterSink,
        *,
        consumer: str,
        suffix: str = "",
        backoff: Backoff = Backoff(),
        stopping: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.decoder = decoder
        self.dead_letters = dead_letters
        self.consumer = consumer
        self.suffix = suffix
        self.backoff = backoff
        self.stopping = stopping if stopping is not None else threading.Event()

    def process(self, batch: Sequence[Consumed]) -> Outcome:
        """Apply ``batch`` exactly once (rows and offsets in one transaction), dead-lettering what fails.

        Blocking; waits out outages (raises :class:`Stopping` if asked to stop meanwhile).
        Raises :class:`~hub.errors.ProjectionError` for a failure that is
        neither an outage nor attributable to a record (a bug: stop, do not
        acknowledge).
        """
        retries = Counter[str]()
        records: list[SourceRecord] = []
        letters: list[DeadLetter] = []
        for item in batch:
            result = self._until_done("decoding a record", functools.partial(self.decoder.decode, item), retries)
            if isinstance(result, Failure):
                letters.append(self._letter(item, result))
                records.append(SourceRecord(item.topic, item.partition, item.offset, (), item.timestamp_ms))
            else:
                records.append(result)
        dead = Counter(letter.stage for letter in letters)
        self._send(letters, retries)
        by_position = {(i.topic, i.partition, i.offset): i for i in batch}
        while True:
            try:
                apply = functools.partial(store.apply_batch, self.engine, self.projection, records, suffix=self.suffix)
                summary = self._until_done("applying a batch", apply, retries)
            except RecordsRejected as exc:
                refused = {(r.topic, r.partition, r.offset): r.reason for r in exc.rejected}
                rejected_letters = [
                    self._letter(by_position[position], Failure(APPLY, reason, None))
                    for position, reason in sorted(refused.items())
                ]
                self._send(rejected_letters, retries)
                dead.update(APPLY for _ in rejected_letters)
                records = [
                    replace(r, changes=()) if (r.topic, r.partition, r.offset) in refused else r for r in records
                ]
                continue
            return Outcome(summary, dead, sum(retries.values()))

    def _send(self, letters: Sequence[DeadLetter], retries: Counter[str]) -> None:
        if letters:
            for letter in letters:
                log.warning(
                    "dead letter %s[%d]@%d (%s): %s",
                    letter.source_topic,
                    letter.source_partition,
                    letter.source_offset,
                    letter.stage,
                    letter.reason,
                )
            self._until_done("delivering dead letters", lambda: self.dead_letters.send(letters), retries)

    def _letter(self, record: Consumed, failure: Failure) -> DeadLetter:
        return DeadLetter.of(
            record, consumer=self.consumer, stage=failure.stage, reason=failure.reason, event_id=failure.event_id
        )

    def _until_done(self, what: str, step: Callable[[], T], retries: Counter[str]) -> T:
        """Run ``step`` until it gets past outages (:data:`hub.retry.TRANSIENT`), counting them in ``retries``."""
        report = log_waits(log, f"{self.consumer}: ")

        def waited(what: str, exc: BaseException, delay: float) -> None:
            retries[what] += 1
            report(what, exc, delay)

        try:
            return retry(step, what=what, backoff=self.backoff, stop=self.stopping, on_wait=waited)
        except Stopped as exc:
            raise Stopping(f"{self.consumer}: {exc}") from exc


__all__ = [
    "APPLY",
    "DECODE",
    "PROJECT",
    "Consumed",
    "DeadLetterSink",
    "Decoder",
    "Failure",
    "Outcome",
    "Pipeline",
    "Stopping",
]
