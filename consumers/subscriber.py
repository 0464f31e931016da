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

An outage (broker, registry, sink) is waited out by the one retry policy
(:func:`hub.retry.retry`, a growing pause, the same step again): nothing is
skipped. Kafka is read through the hub's one group-less reader
(:class:`hub.kafka_reader.KafkaReader`) and dead letters leave through the one
:class:`hub.dlq.DeadLetterProducer`. Reading the records is in
:mod:`consumers.decoding`, the reporting in :mod:`consumers.progress`. ``until_caught_up`` ends the run once
every partition reached the end offset it had when the run started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeVar

from kafka.consumer.fetcher import ConsumerRecord

from consumers.decoding import RecordDecoder, load_reader, pinned_readers
from consumers.partners import Partner, select_topics
from consumers.progress import Progress, Reporter
from consumers.sinks import (
    RecordsRejected,
    Sink,
    SinkError,
    SinkRecord,
    TopicPartition,
    WriteResult,
)
from hub import naming
from hub.dlq import DeadLetter, DeadLetterProducer
from hub.errors import BrokerError
from hub.kafka_reader import KafkaReader
from hub.registry.client import RegistryClient
from hub.retry import Backoff, Stopped, retry
from hub.serde import SchemaSource
from hub.settings import HubSettings

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE: Final = 500
DEFAULT_LINGER_S: Final = 0.5
#: Pauses between attempts after an outage: half a second, doubling up to 15 s.
DEFAULT_BACKOFF: Final = Backoff(first_s=0.5, max_s=15.0)
POLL_S: Final = 0.5
LAG_REFRESH_S: Final = 2.0
TOPIC_REFRESH_S: Final = 60.0

T = TypeVar("T")


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
        backoff: Backoff = DEFAULT_BACKOFF,
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
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.backoff = backoff
        self.name = f"subscriber:{sink.subscriber}"
        client_id = f"hub-subscriber-{sink.subscriber}"
        # offsets live in the sink, not in Kafka: a group-less reader, assigned from them
        self.reader = KafkaReader(settings, client_id=client_id, max_poll_records=batch_size, read_committed=True)
        self.dead_letters = DeadLetterProducer(settings, client_id=client_id)
        self.decoder = RecordDecoder(self.registry, self.readers, consumer=self.name, retrying=self._retry)
        self.reporter = Reporter(Progress(partner.id, sink.subscriber, self.zones, sink.description))
        self._stop = threading.Event()
        self._unpinned: set[str] = set()

    @property
    def progress(self) -> Progress:
        return self.reporter.progress

    # -- plumbing --------------------------------------------------------------------------------------
    def _retry(self, what: str, step: Callable[[], T]) -> T:
        """Run ``step`` under the one retry policy; raise :class:`Stopped` if asked to stop meanwhile."""
        return retry(
            step,
            what=what,
            backoff=self.backoff,
            stop=self._stop,
            on_wait=self.reporter.on_wait,
            on_recovered=self.reporter.on_recovered,
        )

    def _sink(self, step: Callable[[], T]) -> T:
        return self._retry("sink", step)

    def stop(self) -> None:
        """Ask a running :meth:`run` to return after its current step, or at once while it waits out an outage."""
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
        self.reporter.on_progress = on_progress
        try:
            self._run(until_caught_up)
        except Stopped:
            pass
        finally:
            self.progress.state = "caught up" if self.progress.caught_up else "stopped"
            self.reporter.notify()
            self.dead_letters.close()
            self.reader.close()
        return self.progress

    def close(self) -> None:
        """Close the registry client this subscriber made (the sink belongs to the caller)."""
        if self._own_registry and isinstance(self.registry, RegistryClient):
            self.registry.close()

    def _run(self, until_caught_up: bool) -> None:
        schemas = {t: load_reader(text) for t, text in self.readers.items()}
        self._sink(lambda: self.sink.prepare(schemas))
        self._retry("Kafka", self._assign)
        if until_caught_up:
            self.progress.targets = self._retry("Kafka", lambda: self.reader.end_offsets(list(self.progress.positions)))
            self.progress.ends.update(self.progress.targets)
        else:
            self._refresh_ends()
        self.progress.state = "reading"
        self.reporter.notify()
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
                self.reporter.notify()
            if not until_caught_up and now - last_topics >= TOPIC_REFRESH_S:
                self._retry("Kafka", self._assign)
                last_topics = now

    def _assign(self) -> None:
        """Resolve the topics, and assign their partitions at the offsets stored in the sink."""
        available = self.reader.topics()
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
        tps = self.reader.partitions(topics, missing_ok=True)
        known = self.progress.positions
        if topics == list(self.progress.topics) and set(tps) == set(known):
            return
        stored = self._sink(self.sink.positions)
        begins = self.reader.beginning_offsets([tp for tp in tps if tp not in stored])
        ends = self.reader.end_offsets([tp for tp in tps if tp in stored])
        beyond = sorted(tp for tp, n in ends.items() if stored[tp] > n)
        if beyond:
            t, p = beyond[0]
            raise SinkError(
                f"sink {self.sink.description} holds offset {stored[(t, p)]} for {t}[{p}] but the partition ends at "
                f"{ends[(t, p)]}: was the topic recreated? Move this sink aside and start a fresh one"
            )
        positions = {tp: known.get(tp, stored.get(tp, begins.get(tp, 0))) for tp in tps}
        self.reader.assign(positions)
        self.decoder.event_types = {t: naming.parse_shared_topic(t).event_type for t in topics}
        self.progress.topics = tuple(topics)
        self.progress.positions = dict(positions)
        log.info("reading %d topics (%d partitions) from the offsets stored in the sink", len(topics), len(tps))

    def _refresh_ends(self) -> None:
        """Latest end offsets, for the lag; a broker that does not answer shows as an outage being waited out."""
        try:
            self.progress.ends.update(self.reader.end_offsets(list(self.progress.positions)))
        except BrokerError as exc:  # the poll loop itself reconnects; say what is going on
            self.reporter.kafka_silent(exc)
            return
        self.reporter.kafka_answered()

    def _poll_batch(self) -> list[ConsumerRecord]:
        """Up to ``batch_size`` records: what arrives within ``linger_s`` of the first one."""
        records = self.reader.poll(POLL_S, self.batch_size)
        deadline = time.monotonic() + self.linger_s
        while records and len(records) < self.batch_size and time.monotonic() < deadline:
            more = self.reader.poll(min(POLL_S, max(0.0, deadline - time.monotonic())), self.batch_size - len(records))
            if not more:
                break
            records.extend(more)
        return records

    # -- one batch -------------------------------------------------------------------------------------
    def _handle(self, records: Sequence[ConsumerRecord]) -> None:
        decoded: list[SinkRecord] = []
        letters: list[DeadLetter] = []
        for rec in records:
            item, letter = self.decoder.decode(rec)
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
                    self.decoder.letter(by_coords[c], "apply", f"the sink refused it: {reason}", event_id=ids.get(c))
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
        self.reporter.notify()

    def _position(self, tp: TopicPartition) -> int:
        return self._retry("Kafka", lambda: self.reader.position(tp))

    def _write(self, records: Sequence[SinkRecord]) -> WriteResult:
        return self._sink(lambda: self.sink.write(records))

    def _send_letters(self, letters: Sequence[DeadLetter]) -> None:
        self._retry("dead-letter queue", lambda: self.dead_letters.send(letters))


__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LINGER_S",
    "Progress",
    "Subscriber",
    "load_reader",
    "pinned_readers",
]
