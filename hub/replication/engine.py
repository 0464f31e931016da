"""The replicator of one flow: copy, record and commit, transaction by transaction; resume after anything.

Per batch of source records, ONE Kafka transaction on the target holds:

1. the copies (``<source>.<topic>``, same key, headers, timestamp and
   partition; the schema id rewritten into the target registry's);
2. one signed, chained transfer record per copied source partition
   (``hub.transfers``), with the target offsets the copies got;
3. the source positions reached and the chain head (``hub.replication.offsets``).

A transaction commits only once the one before it shows committed on the
target (read back with ``read_committed`` while this one is open); then that
one's transfer records are appended to ``hub.transfers`` on the source (a
transaction of their own). The last is read back when the flow is idle, at
least every ``status_every_s`` and before a graceful stop. Guarantees:

- **exactly once on the target** for ``read_committed`` readers: a session
  starts by fencing the flow's previous producer (which aborts whatever it had
  open), then reads the committed positions, and copies from there; copies and
  positions commit together or not at all, so a crash, a SIGKILL, a broker
  restart or a lost connection at any point neither loses nor repeats a record;
- crash recovery and reconnecting are one path: any outage ends the session
  (its transaction aborted if the broker still listens, its clients closed),
  :func:`hub.retry.retry` waits, and a new session resumes from the offsets
  topic, nothing else;
- a refusal (:class:`~hub.errors.KafkaAuthError`), a record that must not be
  copied or a fenced producer (:class:`~hub.errors.ReplicationError`) stops the
  flow with one line, never retried;
- the source's transfer log is never ahead of the target's: it is only given
  records read back committed from the target, never on the strength of an
  acknowledged commit alone. A commit acknowledged but not found committed
  there (a broker that lost it) ends the session like any outage before
  anything commits after it, so the next session copies those records again
  from what the target holds, and the chain has no gap;
- the source's transfer log catches up with the target's on every start: the
  records of this flow it lacks are appended, by seq, so it is never short for
  long and never holds one twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from hub import naming
from hub.errors import BrokerError, HubError, ReplicationError
from hub.kafka_reader import KafkaReader
from hub.process import StatusFile
from hub.replication import batch as batches
from hub.replication import positions as stored
from hub.replication import target as target_side
from hub.replication.flow import FlowSpec
from hub.replication.progress import Progress
from hub.replication.registries import SchemaTranslator
from hub.replication.source import SourceReader, SourceTopic, resolve
from hub.replication.transactions import TransactionalProducer
from hub.retry import Backoff, Stopped, log_waits, retry
from hub.settings import HubSettings
from hub.transfers.chain import ChainHead, Signer, append
from hub.transfers.record import TransferRecord, encode, record_key

log = logging.getLogger("hub.replication")

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class Tuning:
    """How big a transaction gets and how often the flow looks around."""

    batch_records: int = 5000
    """At most this many copies per transaction."""
    linger_s: float = 0.2
    """How long a batch waits to fill once it has a record."""
    poll_s: float = 0.5
    """How long one poll waits for records."""
    status_every_s: float = 1.0
    """How often the lag is measured and the status file rewritten."""
    timeout_s: float | None = None
    """Bound on any wait for a broker or registry (a flush, a commit); None: each side's ``request_timeout_s``."""
    backoff: Backoff = field(default_factory=lambda: Backoff(first_s=0.5, max_s=5.0))


class Replicator:
    """One flow between two clusters; :meth:`run` until ``stop`` is set (or, ``until_caught_up``, until idle)."""

    def __init__(
        self,
        flow: FlowSpec,
        source: HubSettings,
        target: HubSettings,
        *,
        declared: Mapping[str, Mapping[str, str]],
        aliases: Collection[str],
        signing_key: Signer,
        tuning: Tuning = Tuning(),
        status: StatusFile | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.flow = flow
        self.source = source
        self.target = target
        self.declared = declared
        self.aliases = frozenset(aliases)
        self.key = signing_key
        self.tuning = tuning
        self.status = status
        self.stop = stop or threading.Event()
        self.progress = Progress(flow.name, flow.source, flow.target, started_s=time.monotonic())
        self._sessions = 0

    def run(self, *, until_caught_up: bool = False) -> Progress:
        """Replicate until stopped (or caught up); outages are waited out, everything else is raised."""

        def session() -> None:
            self._sessions += 1
            if self._sessions > 1:
                self.progress.restarts += 1
            with _Session(self) as s:
                s.run(until_caught_up=until_caught_up)

        wait_report = log_waits(log, f"flow {self.flow.name}: ")

        def waiting(what: str, exc: BaseException, delay: float) -> None:
            self.progress.state = "waiting"
            self.progress.last_error = str(exc)
            self.write_status()
            wait_report(what, exc, delay)

        try:
            retry(session, what="replicating", backoff=self.tuning.backoff, stop=self.stop, on_wait=waiting)
        except Stopped:
            pass
        except BaseException as exc:
            self.progress.state = "stopped"
            self.progress.last_error = str(exc)
            self.write_status()
            raise
        self.progress.state = "stopped"
        self.write_status()
        return self.progress

    def write_status(self) -> None:
        if self.status is not None:
            self.status.write(self.progress.doc(pid=os.getpid(), now_s=time.monotonic()))


class _Session:
    """The clients of one attempt: opened together, closed together, never reused after a failure."""

    def __init__(self, owner: Replicator) -> None:
        self.owner = owner
        self.flow = owner.flow
        self.tuning = owner.tuning
        self.progress = owner.progress
        self._out: TransactionalProducer | None = None
        self._log: TransactionalProducer | None = None
        self._reader: SourceReader | None = None
        self._translator: SchemaTranslator | None = None
        self.positions: dict[TopicPartitionKey, int] = {}
        self.head = ChainHead.start()
        self._in_transaction = False
        # committed on the target, not yet seen there: (record, its bytes, partition, offset in hub.transfers)
        self._unconfirmed: list[tuple[TransferRecord, bytes, int, int]] = []
        self._confirmer: KafkaReader | None = None

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        failed = exc is not None
        if self._out is not None and self._in_transaction:
            self._out.abort()
        for producer in (self._out, self._log):
            if producer is not None:
                producer.close(0 if failed else None)
        for reader in (self._reader, self._confirmer):
            if reader is not None:
                reader.close()
        if self._translator is not None:
            self._translator.close()

    # -- start: fence, resume, reconcile ---------------------------------------------------------
    def open(self) -> None:
        owner, flow, t = self.owner, self.flow, self.tuning
        self.progress.state = "starting"
        topics = resolve(owner.source, flow, owner.declared, owner.aliases)
        target_side.require(owner.source, [naming.TRANSFERS_TOPIC], side="source")
        target_side.require(owner.target, [naming.TRANSFERS_TOPIC, naming.REPLICATION_OFFSETS_TOPIC], side="target")
        created = target_side.ensure_copies(owner.target, flow, topics)
        if created:
            log.info("flow %s: created %s on the target", flow.name, ", ".join(created))
        # fence first: the zombie's open transactions are aborted before anything is read
        self._out = TransactionalProducer(
            owner.target,
            transactional_id=flow.transactional_id,
            client_id=flow.principal,
            timeout_s=t.timeout_s or owner.target.request_timeout_s,
        )
        self._log = TransactionalProducer(
            owner.source,
            transactional_id=flow.source_log_transactional_id,
            client_id=flow.source_log_transactional_id,
            timeout_s=t.timeout_s or owner.source.request_timeout_s,
        )
        resume = target_side.resume(owner.target, flow)
        self.positions, self.head = dict(resume.positions), resume.head
        self._reconcile()
        self._translator = SchemaTranslator(
            flow,
            owner.source.schema_registry_url,
            owner.target.schema_registry_url,
            timeout_s=t.timeout_s or owner.target.request_timeout_s,
        )
        self._reader = SourceReader(owner.source, flow, max_records=t.batch_records)
        self._confirmer = KafkaReader(owner.target, client_id=f"{flow.principal}.confirm", read_committed=True)
        start = self._reader.assign(topics, self.positions)
        self.positions = {**start, **self.positions}
        self._topics: list[SourceTopic] = topics
        log.info(
            "flow %s: copying %d topics (%d partitions) from %s to %s, chain at seq %d",
            flow.name,
            len(topics),
            len(start),
            owner.source.bootstrap_servers,
            owner.target.bootstrap_servers,
            self.head.seq,
        )

    def _reconcile(self) -> None:
        """Append to the source's transfer log what the target's holds beyond it."""
        owner, flow = self.owner, self.flow
        on_target = target_side.chain_records(owner.target, flow, side="target")
        last = ChainHead.of(on_target[-1]) if on_target else ChainHead.start()
        if last != self.head:
            raise ReplicationError(
                f"flow {flow.name}: the chain head in {naming.REPLICATION_OFFSETS_TOPIC} (seq {self.head.seq}) is "
                f"not the last record of {naming.TRANSFERS_TOPIC} on the target (seq {last.seq}); they are written "
                "in one transaction, so one of them was changed (`hub audit verify`)"
            )
        on_source = target_side.chain_records(owner.source, flow, side="source")
        have = on_source[-1].seq if on_source else 0
        missing = [r for r in on_target if r.seq > have]
        for r in on_source:
            if r.seq <= len(on_target) and on_target[r.seq - 1].digest != r.digest:
                raise ReplicationError(
                    f"flow {flow.name}: seq {r.seq} differs between the source's and the target's "
                    f"{naming.TRANSFERS_TOPIC} (`hub audit verify`)"
                )
        if have > len(on_target):
            try:
                written = target_side.uncommitted_seqs(owner.target, flow, above=len(on_target))
                where = (
                    f"the target's log holds seq {', '.join(map(str, written))} outside any committed transaction"
                    if written
                    else "the target's log holds none of them at all"
                )
            except HubError as exc:  # the diagnosis must not turn a stop into a retry
                where = f"the target's uncommitted records could not be read: {exc}"
            raise ReplicationError(
                f"flow {flow.name}: the source's {naming.TRANSFERS_TOPIC} is ahead of the target's "
                f"(seq {have} > {len(on_target)}): a record was committed on the source only ({where})"
            )
        if missing:
            self._append_to_source(missing)
            lo, hi = missing[0].seq, missing[-1].seq
            log.info("flow %s: appended seq %d..%d to the source's transfer log", flow.name, lo, hi)

    def _append_to_source(self, records: list[TransferRecord]) -> None:
        producer = self._log
        if producer is None or not records:
            return
        key = record_key(self.flow.chain)
        producer.begin()
        try:
            producer.offsets([producer.send(naming.TRANSFERS_TOPIC, encode(r), key=key) for r in records])
            producer.commit()
        except BaseException:
            producer.abort()
            raise

    def _confirm(self) -> None:
        """Append to the source's log the records committed since the last call, once the target shows them.

        Raises :class:`BrokerError` (the session ends, the next resumes from the target) if one of them
        is not committed there: nothing the target does not hold reaches the source's log.
        """
        pending, reader = self._unconfirmed, self._confirmer
        if not pending or reader is None:
            return
        windows: dict[TopicPartitionKey, tuple[int, int]] = {}
        for _, _, partition, offset in pending:
            lo, hi = windows.get((naming.TRANSFERS_TOPIC, partition), (offset, offset + 1))
            windows[(naming.TRANSFERS_TOPIC, partition)] = (min(lo, offset), max(hi, offset + 1))
        key = record_key(self.flow.chain)
        try:
            shown = {(r.partition, r.offset): r.value for r in reader.read(windows) if r.key == key}
        except BaseException:
            reader.close()  # reopened on the next call
            raise
        lost = [r.seq for r, value, partition, offset in pending if shown.get((partition, offset)) != value]
        if lost:
            raise BrokerError(
                f"flow {self.flow.name}: the target acknowledged the commit of seq {lost[0]}..{lost[-1]} but "
                f"its {naming.TRANSFERS_TOPIC} does not hold them committed; copying them again from what the "
                "target holds (the source's log was not given them)"
            )
        self._append_to_source([r for r, _, _, _ in pending])
        self._unconfirmed = []

    # -- steady state ------------------------------------------------------------------------------
    def run(self, *, until_caught_up: bool) -> None:
        self.open()
        last_status = 0.0
        while not self.owner.stop.is_set():
            copied = self.step()
            now = time.monotonic()
            if copied == 0 or now - last_status >= self.tuning.status_every_s:
                self._confirm()
                caught_up = self.measure()
                last_status = now
                if copied == 0 and caught_up and until_caught_up:
                    return
        self._confirm()

    def _poll(self) -> list[batches.SourceRecord]:
        reader, t = self._reader, self.tuning
        if reader is None:
            return []
        records = reader.poll(t.poll_s, t.batch_records)
        deadline = time.monotonic() + t.linger_s
        while records and len(records) < t.batch_records and time.monotonic() < deadline:
            more = reader.poll(0.05, t.batch_records - len(records))
            if not more:
                break
            records.extend(more)
        return records

    def step(self) -> int:
        """Copy one batch in one transaction; returns how many records it copied."""
        records = self._poll()
        if not records or self._out is None or self._translator is None:
            return 0
        copies = self._translator.copies(records)
        out = self._out
        out.begin()
        self._in_transaction = True
        futures = [
            out.send(
                c.topic,
                c.value,
                key=c.source.key,
                headers=c.source.headers,
                partition=c.partition,
                timestamp_ms=c.source.timestamp_ms,
            )
            for c in copies
        ]
        offsets = out.offsets(futures)
        transfers = batches.transfers(self.flow, copies, offsets, replicated_at_ms=int(time.time() * 1000))
        head = self.head
        chained: list[TransferRecord] = []
        for transfer in transfers:
            record, head = append(head, transfer, self.owner.key)
            chained.append(record)
        key = record_key(self.flow.chain)
        values = [encode(record) for record in chained]
        recorded = [out.send(naming.TRANSFERS_TOPIC, value, key=key) for value in values]
        reached = batches.positions_after(records)
        recorded += [
            out.send(naming.REPLICATION_OFFSETS_TOPIC, v, key=k)
            for k, v in stored.records(self.flow.name, reached, head)
        ]
        # every record of the transaction acknowledged before the commit is asked for: a send that failed
        # (its partition perhaps never added to the transaction) must abort it, never commit the copies alone
        placed = out.placements(recorded)
        self._confirm()  # nothing commits after a transaction the target does not show committed
        out.commit()
        self._in_transaction = False
        self.positions.update(reached)
        self.head = head
        self.progress.committed(len(copies), time.monotonic())
        self.progress.state = "copying"
        self._unconfirmed += [
            (r, v, p, o) for r, v, (p, o) in zip(chained, values, placed[: len(chained)], strict=True)
        ]
        return len(copies)

    def measure(self) -> bool:
        """Measure the lag, write the status; whether every partition is caught up."""
        reader = self._reader
        if reader is None:
            return False
        ends = reader.ends()
        here = reader.positions()
        self.progress.measured(here, ends)
        caught_up = self.progress.total_lag == 0
        self.progress.state = "caught up" if caught_up else "copying"
        self.progress.last_error = ""
        self.owner.write_status()
        return caught_up


__all__ = ["Replicator", "Tuning"]
