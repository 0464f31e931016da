"""The partner subscriber: shared topics of a partner's zones -> decoded with pinned reader schemas -> a sink.

One loop, one process per (partner, sink):

1. resolve the topics the partner may read (:mod:`consumers.partners`), assign
   their partitions manually (no consumer group) and seek each to the
   ``next_offset`` stored IN THE SINK (its oldest record when none is stored);
2. poll a batch; decode each record through the registry with the partner's
   pinned reader schema of its event type (a newer writer schema that adds an
   optional field resolves to it: no redeploy); a record that does not decode
   goes to ``hub.dlq`` with the reason and its coordinates, and its offset still
   advances;
3. write the events and the offsets reached in one atomic step of the sink,
   then poll again.

An outage (broker, registry, sink) is waited out with a growing pause and the
same step retried: nothing is skipped. ``until_caught_up`` ends the run once
every partition reached the end offset it had when the run started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from consumers.partners import Partner, select_topics, zone_of
from consumers.sinks import (
    RecordsRejected,
    Sink,
    SinkError,
    SinkRecord,
    SinkUnavailable,
    TopicPartition,
    WriteResult,
)
from hub import naming
from hub.dlq import DeadLetter
from hub.errors import BrokerError, SchemaRegistryError, SerializationError
from hub.publishing.publisher import producer_config
from hub.registry.client import RegistryClient
from hub.schemas import event_types, schema_text
from hub.serde import AvroDeserializer, SchemaSource
from hub.settings import HubSettings

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE: Final = 500
DEFAULT_LINGER_S: Final = 0.5
POLL_S: Final = 0.5
LAG_REFRESH_S: Final = 2.0
TOPIC_REFRESH_S: Final = 60.0

T = TypeVar("T")


class Stopped(Exception):
    """The run was asked to stop while it waited."""


@dataclass(frozen=True)
class RetryPolicy:
    """Pauses between attempts after an outage: ``initial_s``, doubling up to ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 15.0


def pinned_readers(types: Sequence[str] | None = None) -> dict[str, str]:
    """The reader schemas this installation pins: the shared ``.avsc`` of each event type (event type -> text)."""
    return {t: schema_text("shared", t) for t in (types if types is not None else event_types("shared"))}


# -- progress ---------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Where a run stands; handed to ``on_progress`` after every step."""

    partner: str
    subscriber: str
    zones: tuple[str, ...]
    sink: str
    topics: tuple[str, ...] = ()
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    """Next offset to store per partition (what the sink holds, or past it by markers only)."""
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    """Latest end offsets seen."""
    targets: dict[TopicPartition, int] | None = None
    """End offsets at start (``until_caught_up`` runs only)."""
    written: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_letters: int = 0
    batches: int = 0
    waiting: str | None = None
    """What the run waits for (an outage), or None."""
    state: str = "starting"
    """starting | reading | caught up | stopped"""
    started_at: float = field(default_factory=time.monotonic)

    def behind(self) -> int:
        """Records behind the latest end offsets, over every partition."""
        return sum(max(0, self.ends.get(tp, 0) - pos) for tp, pos in self.positions.items())

    def behind_by_topic(self) -> dict[str, int]:
        out: dict[str, int] = {t: 0 for t in self.topics}
        for tp, pos in self.positions.items():
            out[tp[0]] = out.get(tp[0], 0) + max(0, self.ends.get(tp, 0) - pos)
        return out

    def position_by_topic(self) -> dict[str, tuple[int, int]]:
        """Topic -> (records stored or passed, end offsets summed over its partitions)."""
        out: dict[str, tuple[int, int]] = {t: (0, 0) for t in self.topics}
        for tp, pos in self.positions.items():
            done, end = out.get(tp[0], (0, 0))
            out[tp[0]] = (done + pos, end + self.ends.get(tp, 0))
        return out

    @property
    def caught_up(self) -> bool:
        if self.targets is None:
            return False
        return all(self.positions.get(tp, 0) >= n for tp, n in self.targets.items())


# -- Kafka --------------------------------------------------------------------------------------------
class _Kafka:
    """The kafka-python side of a run; every failure is a :class:`BrokerError` (an outage to wait out)."""

    def __init__(self, settings: HubSettings, client_id: str, batch_size: int) -> None:
        self.settings = settings
        self.client_id = client_id
        self.batch_size = batch_size
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None

    def consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            try:
                self._consumer = KafkaConsumer(
                    bootstrap_servers=self.settings.bootstrap_list,
                    client_id=self.client_id,
                    group_id=None,  # offsets live in the sink, not in Kafka
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    isolation_level="read_committed",
                    max_poll_records=self.batch_size,
                    request_timeout_ms=int(max(self.settings.request_timeout_s, 31.0) * 1000),
                )
            except KafkaError as exc:
                raise BrokerError(f"cannot reach Kafka at {self.settings.bootstrap_servers}: {exc}") from exc
        return self._consumer

    def topics(self) -> set[str]:
        try:
            return set(self.consumer().topics())
        except KafkaError as exc:
            raise BrokerError(f"cannot list the topics at {self.settings.bootstrap_servers}: {exc}") from exc

    def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        out: list[TopicPartition] = []
        try:
            for topic in topics:
                out.extend((topic, p) for p in sorted(self.consumer().partitions_for_topic(topic) or ()))
        except KafkaError as exc:
            raise BrokerError(f"cannot read the partitions of {', '.join(topics)}: {exc}") from exc
        return out

    def beginning_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not tps:
            return {}
        try:
            found = self.consumer().beginning_offsets([KafkaTopicPartition(t, p) for t, p in tps])
        except KafkaError as exc:
            raise BrokerError(f"cannot read the beginning offsets: {exc}") from exc
        return {(tp.topic, tp.partition): int(n) for tp, n in found.items()}

    def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not tps:
            return {}
        try:
            found = self.consumer().end_offsets(
                [KafkaTopicPartition(t, p) for t, p in tps], timeout_ms=int(self.settings.request_timeout_s * 1000)
            )
        except KafkaError as exc:
            raise BrokerError(f"cannot read the end offsets: {exc}") from exc
        return {(tp.topic, tp.partition): int(n) for tp, n in found.items()}

    def assign(self, positions: Mapping[TopicPartition, int]) -> None:
        try:
            consumer = self.consumer()
            consumer.assign([KafkaTopicPartition(t, p) for t, p in sorted(positions)])
            for (t, p), offset in positions.items():
                consumer.seek(KafkaTopicPartition(t, p), offset)
        except KafkaError as exc:
            raise BrokerError(f"cannot assign the partitions: {exc}") from exc

    def poll(self, timeout_s: float, max_records: int) -> list[ConsumerRecord]:
        try:
            batch = self.consumer().poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except KafkaError as exc:
            raise BrokerError(f"cannot read from Kafka at {self.settings.bootstrap_servers}: {exc}") from exc
        return [r for tp in sorted(batch, key=lambda k: (k.topic, k.partition)) for r in batch[tp]]

    def position(self, tp: TopicPartition) -> int:
        try:
            return int(self.consumer().position(KafkaTopicPartition(*tp)))
        except KafkaError as exc:
            raise BrokerError(f"cannot read the position of {tp[0]}[{tp[1]}]: {exc}") from exc

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """Deliver ``letters`` to ``hub.dlq`` and wait for every acknowledgement."""
        if not letters:
            return
        try:
            if self._producer is None:
                config: dict[str, Any] = {
                    **producer_config(self.settings, self.settings.request_timeout_s),
                    "client_id": self.client_id,
                }
                self._producer = KafkaProducer(**config)
            futures = [
                self._producer.send(naming.DLQ_TOPIC, key=d.key(), value=d.value(), headers=d.headers())
                for d in letters
            ]
            self._producer.flush(timeout=self.settings.request_timeout_s)
            for future in futures:
                future.get(timeout=self.settings.request_timeout_s)
        except KafkaError as exc:
            self._close_producer()
            raise BrokerError(f"cannot deliver {len(letters)} dead letter(s) to {naming.DLQ_TOPIC}: {exc}") from exc

    def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(KafkaError):
                producer.close(timeout=self.settings.request_timeout_s)

    def close(self) -> None:
        self._close_producer()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                consumer.close()


# -- the subscriber ------------------------------------------------------------------------------------
class Subscriber:
    """A partner's subscription to its shared topics, written to a sink (see the module docstring)."""

    def __init__(
        self,
        settings: HubSettings,
        partner: Partner,
        sink: Sink,
        *,
        zones: Sequence[str] | None = None,
        topics: Sequence[str] | None = None,
        registry: SchemaSource | None = None,
        readers: Mapping[str, str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        linger_s: float = DEFAULT_LINGER_S,
        retry: RetryPolicy | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.settings = settings
        self.partner = partner
        self.sink = sink
        self.readers = dict(readers) if readers is not None else pinned_readers()
        self._zones = tuple(zones or ())
        self._topics_asked = tuple(topics or ())
        # refuse a zone or topic outside the partner's before touching anything
        select_topics(partner, (), zones=self._zones, topics=self._topics_asked, event_types=self.readers)
        self.zones = tuple(z for z in partner.zones if not self._zones or z in self._zones)
        self._own_registry = registry is None
        self.registry: SchemaSource = registry or RegistryClient(
            settings.schema_registry_url, timeout_s=settings.request_timeout_s
        )
        self._decoders = {t: AvroDeserializer(self.registry, text) for t, text in self.readers.items()}
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.retry = retry or RetryPolicy()
        self.name = f"subscriber:{sink.subscriber}"
        self.kafka = _Kafka(settings, f"hub-subscriber-{sink.subscriber}", batch_size)
        self.progress = Progress(partner.id, sink.subscriber, self.zones, sink.description)
        self._stop = threading.Event()
        self._on_progress: Callable[[Progress], None] | None = None
        self._types: dict[str, str] = {}
        self._unpinned: set[str] = set()

    # -- plumbing --------------------------------------------------------------------------------------
    def _notify(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress)

    def _retry(self, what: str, step: Callable[[], T]) -> T:
        """Run ``step`` until it succeeds, pausing after each outage; raise :class:`Stopped` if asked to stop."""
        pause = self.retry.initial_s
        while True:
            try:
                result = step()
            except (BrokerError, SchemaRegistryError, SinkUnavailable) as exc:
                message = f"{what}: {exc}"
                if self.progress.waiting != message:
                    log.warning("waiting (retry in %.1fs) - %s", pause, message)
                self.progress.waiting = message
                self._notify()
                if self._stop.wait(pause):
                    raise Stopped from None
                pause = min(pause * 2, self.retry.max_s)
                continue
            if self.progress.waiting is not None:
                log.info("%s: available again", what)
                self.progress.waiting = None
                self._notify()
            return result

    def stop(self) -> None:
        """Ask a running :meth:`run` to return after its current batch, or at once while it waits out an outage."""
        self._stop.set()

    # -- run -------------------------------------------------------------------------------------------
    def run(
        self,
        *,
        until_caught_up: bool = False,
        stop: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Subscribe until stopped (or, with ``until_caught_up``, until the end offsets taken at start)."""
        if stop is not None:
            self._stop = stop
        self._on_progress = on_progress
        try:
            self._run(until_caught_up)
        except Stopped:
            pass
        finally:
            self.progress.state = "caught up" if self.progress.caught_up else "stopped"
            self._notify()
            self.kafka.close()
        return self.progress

    def close(self) -> None:
        """Close the registry client this subscriber made (the sink belongs to the caller)."""
        if self._own_registry and isinstance(self.registry, RegistryClient):
            self.registry.close()

    def _run(self, until_caught_up: bool) -> None:
        schemas = {t: load_reader(text) for t, text in self.readers.items()}
        self._retry("sink", lambda: self.sink.prepare(schemas))
        self._retry("Kafka", self._assign)
        if until_caught_up:
            self.progress.targets = self._retry("Kafka", lambda: self.kafka.end_offsets(list(self.progress.positions)))
            self.progress.ends.update(self.progress.targets)
        else:
            self._refresh_ends()
        self.progress.state = "reading"
        self._notify()
        last_lag = last_topics = time.monotonic()
        while not self._stop.is_set():
            if until_caught_up and self.progress.caught_up:
                return
            records = self._retry("Kafka", self._poll_batch)
            if records:
                self._handle(records)
            now = time.monotonic()
            if now - last_lag >= LAG_REFRESH_S or not records:
                if now - last_lag >= LAG_REFRESH_S:
                    self._refresh_ends()
                    last_lag = now
                self._notify()
            if not until_caught_up and now - last_topics >= TOPIC_REFRESH_S:
                self._retry("Kafka", self._assign)
                last_topics = now

    def _assign(self) -> None:
        """Resolve the topics, and assign their partitions at the offsets stored in the sink."""
        available = self.kafka.topics()
        topics = select_topics(
            self.partner, available, zones=self._zones, topics=self._topics_asked, event_types=self.readers
        )
        if not topics:
            raise BrokerError(f"no shared topic of zone {', '.join(self.zones)} exists yet (`hub topics apply`)")
        if not self._topics_asked:
            unpinned = set(select_topics(self.partner, available, zones=self._zones)) - set(topics)
            if unpinned - self._unpinned:
                log.warning(
                    "not read, no pinned reader schema (a newer hub reads them): %s", ", ".join(sorted(unpinned))
                )
            self._unpinned = unpinned
        missing = sorted(set(topics) - available)
        if missing:
            raise BrokerError(f"topic {missing[0]} does not exist yet (`hub topics apply` creates the layout)")
        tps = self.kafka.partitions(topics)
        known = self.progress.positions
        if topics == list(self.progress.topics) and set(tps) == set(known):
            return
        stored = self._retry("sink", self.sink.positions)
        begins = self.kafka.beginning_offsets([tp for tp in tps if tp not in stored])
        ends = self.kafka.end_offsets([tp for tp in tps if tp in stored])
        beyond = sorted(tp for tp, n in ends.items() if stored[tp] > n)
        if beyond:
            t, p = beyond[0]
            raise SinkError(
                f"sink {self.sink.description} holds offset {stored[(t, p)]} for {t}[{p}] but the partition ends at "
                f"{ends[(t, p)]}: was the topic recreated? Move this sink aside and start a fresh one"
            )
        positions = {tp: known.get(tp, stored.get(tp, begins.get(tp, 0))) for tp in tps}
        self.kafka.assign(positions)
        self._types = {t: naming.parse_shared_topic(t).event_type for t in topics}
        self.progress.topics = tuple(topics)
        self.progress.positions = dict(positions)
        log.info("reading %d topics (%d partitions) from the offsets stored in the sink", len(topics), len(tps))

    def _refresh_ends(self) -> None:
        """Latest end offsets, for the lag; a broker that does not answer shows as an outage being waited out."""
        try:
            self.progress.ends.update(self.kafka.end_offsets(list(self.progress.positions)))
        except BrokerError as exc:  # the poll loop itself reconnects; say what is going on
            if self.progress.waiting is None:
                log.warning("Kafka does not answer: %s", exc)
            self.progress.waiting = f"Kafka: {exc}"
            return
        if self.progress.waiting is not None and self.progress.waiting.startswith("Kafka:"):
            self.progress.waiting = None

    def _poll_batch(self) -> list[ConsumerRecord]:
        """Up to ``batch_size`` records: what arrives within ``linger_s`` of the first one."""
        records = self.kafka.poll(POLL_S, self.batch_size)
        deadline = time.monotonic() + self.linger_s
        while records and len(records) < self.batch_size and time.monotonic() < deadline:
            more = self.kafka.poll(min(POLL_S, max(0.0, deadline - time.monotonic())), self.batch_size - len(records))
            if not more:
                break
            records.extend(more)
        return records

    # -- one batch -------------------------------------------------------------------------------------
    def _handle(self, records: Sequence[ConsumerRecord]) -> None:
        decoded: list[SinkRecord] = []
        letters: list[DeadLetter] = []
        for rec in records:
            item, letter = self._decode(rec)
            decoded.append(item)
            if letter is not None:
                letters.append(letter)
        self._send_letters(letters)
        by_coords = {(r.topic, r.partition, r.offset): r for r in records}
        while True:
            try:
                result = self._write(decoded)
                break
            except RecordsRejected as exc:
                refused = {(r.topic, r.partition, r.offset): r.reason for r in exc.rejected}
                ids = {(d.topic, d.partition, d.offset): d.event_id for d in decoded}
                if not any(ids.get(c) is not None for c in refused):
                    raise SinkError(f"sink {self.sink.description} refused records that hold no event: {exc}") from exc
                more = [
                    self._letter(by_coords[c], "apply", f"the sink refused it: {reason}", event_id=ids.get(c))
                    for c, reason in refused.items()
                    if c in by_coords
                ]
                self._send_letters(more)
                letters.extend(more)
                decoded = [
                    SinkRecord(d.topic, d.partition, d.offset, d.zone, d.event_type, None)
                    if (d.topic, d.partition, d.offset) in refused
                    else d
                    for d in decoded
                ]
        p = self.progress
        p.written += result.written
        p.duplicates += result.duplicates
        p.skipped += result.skipped
        p.dead_letters += len(letters)
        p.batches += 1
        for tp, n in result.offsets.items():
            p.positions[tp] = max(p.positions.get(tp, 0), n)
        for tp in {(r.topic, r.partition) for r in records}:
            # past transaction markers too, so a run ending on a marker is caught up
            p.positions[tp] = max(p.positions[tp], self._position(tp))
            p.ends[tp] = max(p.ends.get(tp, 0), p.positions[tp])
        self._notify()

    def _position(self, tp: TopicPartition) -> int:
        return self._retry("Kafka", lambda: self.kafka.position(tp))

    def _write(self, records: Sequence[SinkRecord]) -> WriteResult:
        return self._retry("sink", lambda: self.sink.write(records))

    def _send_letters(self, letters: Sequence[DeadLetter]) -> None:
        self._retry("dead-letter queue", lambda: self.kafka.dead_letter(letters))

    def _decode(self, rec: ConsumerRecord) -> tuple[SinkRecord, DeadLetter | None]:
        event_type = self._types[rec.topic]
        zone = zone_of(rec.topic)
        empty = SinkRecord(rec.topic, rec.partition, rec.offset, zone, event_type, None)
        if rec.value is None:
            return empty, self._letter(rec, "decode", "the record has no value (a tombstone)")
        decoder = self._decoders[event_type]
        try:
            event = self._retry("schema registry", lambda: decoder(bytes(rec.value)))
        except SerializationError as exc:
            return empty, self._letter(rec, "decode", f"{event_type} with the pinned reader schema: {exc}")
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id.strip():
            return empty, self._letter(rec, "validate", "event_id: missing or empty, so the event cannot be deduped")
        return SinkRecord(rec.topic, rec.partition, rec.offset, zone, event_type, event), None

    def _letter(self, rec: ConsumerRecord, stage: str, reason: str, *, event_id: str | None = None) -> DeadLetter:
        log.warning("dead letter %s[%d]@%d (%s): %s", rec.topic, rec.partition, rec.offset, stage, reason)
        return DeadLetter.now(
            consumer=self.name,
            stage=stage,
            reason=reason,
            source_topic=rec.topic,
            source_partition=rec.partition,
            source_offset=rec.offset,
            original_key=None if rec.key is None else bytes(rec.key),
            original_value=None if rec.value is None else bytes(rec.value),
            event_id=event_id,
        )


def load_reader(text: str) -> dict[str, Any]:
    """A reader schema's JSON document (for the sink's columns)."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise SinkError("reader schema: expected a record schema")
    return doc


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LINGER_S",
    "Progress",
    "RetryPolicy",
    "Subscriber",
    "load_reader",
    "pinned_readers",
]
