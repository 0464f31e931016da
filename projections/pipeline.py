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
from hub.naming import SharedCoordinates, parse_shared_topic
from hub.retry import Backoff, Stopped, log_waits, retry
from hub.schemas import event_types, schema_text
from hub.serde import AvroDeserializer, SchemaSource
from hub.stream_runner.batch import Consumed
from projections import store
from projections.rules import ProjectionContext, project
from projections.store import BatchSummary, RecordsRejected, SourceRecord

log = logging.getLogger("hub.projections")
T = TypeVar("T")

#: Dead letters named in the one log line of a batch's.
_LOGGED_LETTERS: Final = 3
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
        self._topics: dict[str, SharedCoordinates | Failure] = {}

    def _topic(self, topic: str) -> SharedCoordinates | Failure:
        """The zone and event type a topic carries (read once per topic), or why its records cannot be decoded."""
        found = self._topics.get(topic)
        if found is None:
            try:
                found = parse_shared_topic(topic)
            except ValueError as exc:
                found = Failure(DECODE, f"topic: {exc}")
            else:
                if found.event_type not in self._shared_types:
                    found = Failure(DECODE, f"topic {topic}: no shared schema for event type {found.event_type}")
            self._topics[topic] = found
        return found

    def _reader(self, event_type: str) -> AvroDeserializer:
        reader = self._readers.get(event_type)
        if reader is None:
            reader = AvroDeserializer(self._registry, schema_text("shared", event_type))
            self._readers[event_type] = reader
        return reader

    def decode(self, record: Consumed) -> SourceRecord | Failure:
        """The record's row changes, or why it cannot be projected."""
        coordinates = self._topic(record.topic)
        if isinstance(coordinates, Failure):
            return coordinates
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


@dataclass(frozen=True)
class Prepared:
    """A batch decoded and projected, its failed records dead-lettered (:meth:`Pipeline.prepare`)."""

    batch: Sequence[Consumed]
    records: list[SourceRecord]
    """One per consumed record, in batch order; a dead-lettered one has no changes."""
    dead: Counter[str]
    """Dead letters sent, per stage."""
    retries: Counter[str]
    """Outages waited out so far, per step."""


@dataclass
class Outcome:
    """What :meth:`Pipeline.process` did with one batch."""

    summary: BatchSummary
    dead: Counter[str] = field(default_factory=Counter)
    """Dead letters sent, per stage."""
    retries: int = 0
    """Outages waited out while processing the batch."""
    records: Sequence[SourceRecord] = ()
    """The batch's records as applied (a dead-lettered one without changes), in batch order."""


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
        acknowledge). The same as :meth:`apply` of :meth:`prepare`.
        """
        return self.apply(self.prepare(batch))

    def prepare(self, batch: Sequence[Consumed]) -> Prepared:
        """Steps 1-3 of the module docstring: decode and project ``batch``, dead-letter what fails (and wait
        for the broker's acknowledgement). Nothing is written to the database; :meth:`apply` does that.

        A caller may prepare a batch while the previous one is being applied (the rebuild does): the
        batches must still be applied in order, and a batch's dead letters are on the broker before any
        of its offsets is stored, as :meth:`process` guarantees."""
        retries = Counter[str]()
        decode = self.decoder.decode
        results = self._until_done("decoding records", lambda: [decode(item) for item in batch], retries)
        records: list[SourceRecord] = []
        letters: list[DeadLetter] = []
        for item, result in zip(batch, results, strict=True):
            if isinstance(result, Failure):
                letters.append(self._letter(item, result))
                records.append(SourceRecord(item.topic, item.partition, item.offset, (), item.timestamp_ms))
            else:
                records.append(result)
        self._send(letters, retries)
        return Prepared(batch, records, Counter(letter.stage for letter in letters), retries)

    def apply(self, prepared: Prepared) -> Outcome:
        """Step 4 of the module docstring: apply a prepared batch (rows and offsets in one transaction);
        records the database refuses are dead-lettered, and the rest applied again."""
        records, dead, retries = prepared.records, Counter(prepared.dead), Counter(prepared.retries)
        by_position = {(i.topic, i.partition, i.offset): i for i in prepared.batch}
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
            return Outcome(summary, dead, sum(retries.values()), records)

    def _send(self, letters: Sequence[DeadLetter], retries: Counter[str]) -> None:
        """Deliver ``letters`` (waiting out the broker), logged as one line per batch, not one per record."""
        if letters:
            shown = "; ".join(
                f"{x.source_topic}[{x.source_partition}]@{x.source_offset} ({x.stage}): {x.reason}"
                for x in letters[:_LOGGED_LETTERS]
            )
            more = f" (and {len(letters) - _LOGGED_LETTERS} more)" if len(letters) > _LOGGED_LETTERS else ""
            log.warning("%d dead letter(s): %s%s", len(letters), shown, more)
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
    "Prepared",
    "Stopping",
]
