"""The one group-less Kafka reader: partitions, offsets, record timestamps and replays by manual assignment.

Used by the projection rebuild and lag measurement and by the partner
subscriber; :func:`read_ranges` and :func:`read_topic` are the one
read-to-an-end loop (audit counts, the transfer log). Guarantees:

- it joins no consumer group and commits nothing: whoever reads keeps its
  offsets (in its database or sink) and assigns from them;
- the consumer is opened on first use, so a reader made while Kafka is down
  fails in the first call - inside the caller's retry - not in its constructor;
- every Kafka failure leaves as :class:`~hub.errors.BrokerError` (transient:
  :mod:`hub.retry` waits it out), except Kafka refusing the reader's principal,
  which is a one-line :class:`~hub.errors.KafkaAuthError` that nothing retries.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Final, Literal

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from hub.errors import BrokerError, HubError
from hub.kafka_auth import refusal
from hub.kafka_clients import new_consumer
from hub.settings import HubSettings

TopicPartitionKey = tuple[str, int]
"""(topic, partition), as the hub's stores and sinks keep it."""

_POLL_S: Final = 0.5


class KafkaReader:
    """A group-less kafka-python consumer (manual assignment only). Use as a context manager or :meth:`close`."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        client_id: str,
        max_poll_records: int = 500,
        read_committed: bool = False,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.max_poll_records = max_poll_records
        self.read_committed = read_committed
        self._consumer: KafkaConsumer | None = None

    def _client(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = new_consumer(
                self.settings,
                client_id=self.client_id,
                max_poll_records=self.max_poll_records,
                read_committed=self.read_committed,
            )
        return self._consumer

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                consumer.close()

    def __enter__(self) -> KafkaReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- metadata ----------------------------------------------------------------------------------
    def topics(self) -> set[str]:
        """Every topic the cluster holds."""
        try:
            return set(self._client().topics())
        except KafkaError as exc:
            raise self._failed(exc, f"cannot list the topics at {self.settings.bootstrap_servers}: {exc}") from exc

    def partitions(self, topics: Iterable[str], *, missing_ok: bool = False) -> list[TopicPartitionKey]:
        """Every (topic, partition) of ``topics``, sorted.

        A topic that does not exist raises :class:`BrokerError`, or is left out with ``missing_ok``.
        """
        names = sorted(set(topics))
        out: list[TopicPartitionKey] = []
        try:
            for topic in names:
                parts = self._client().partitions_for_topic(topic)
                if not parts and missing_ok:
                    continue
                if not parts:
                    raise BrokerError(
                        f"topic {topic} does not exist at {self.settings.bootstrap_servers} (`hub topics apply`)"
                    )
                out.extend((topic, p) for p in sorted(parts))
        except KafkaError as exc:
            raise self._failed(exc, f"cannot read the partitions of {', '.join(names)}: {exc}") from exc
        return out

    def end_offsets(self, tps: Iterable[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
        """The offset the next record of each partition will get (the last stable offset if read_committed)."""
        return self._offsets("end", tps)

    def beginning_offsets(self, tps: Iterable[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
        """The offset of the oldest record still held by each partition."""
        return self._offsets("beginning", tps)

    def _offsets(
        self, which: Literal["beginning", "end"], tps: Iterable[TopicPartitionKey]
    ) -> dict[TopicPartitionKey, int]:
        wanted = [TopicPartition(t, p) for t, p in tps]
        if not wanted:
            return {}
        consumer = self._client()
        lookup = consumer.end_offsets if which == "end" else consumer.beginning_offsets
        try:
            found = lookup(wanted, timeout_ms=self._timeout_ms())
        except KafkaError as exc:
            raise self._failed(exc, f"cannot read the {which} offsets: {exc}") from exc
        return {(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}

    def timestamps_at(
        self, positions: Mapping[TopicPartitionKey, int], *, timeout_s: float = 10.0
    ) -> dict[TopicPartitionKey, int]:
        """Timestamp (ms) of the first record at or after each position; partitions with none are left out.

        Leaves the reader with nothing assigned (its consumer closed; the next call opens another).
        """
        if not positions:
            return {}
        found: dict[TopicPartitionKey, int] = {}
        try:
            self.assign(positions)
            consumer = self._client()
            deadline = time.monotonic() + timeout_s
            while len(found) < len(positions) and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=int(_POLL_S * 1000)).items():
                    key = (tp.topic, tp.partition)
                    if key in found:
                        continue
                    for record in records:
                        if record.offset >= positions[key] and record.timestamp is not None:
                            found[key] = int(record.timestamp)
                            consumer.pause(tp)
                            break
        except KafkaError as exc:
            raise self._failed(exc, f"cannot read record timestamps: {exc}") from exc
        finally:
            # kafka-python keeps what it fetched for a paused partition and then never fetches that partition
            # again, even after a new assignment and seek: the next call opens a fresh consumer instead.
            self.close()
        return found

    # -- replay ------------------------------------------------------------------------------------
    def assign(self, positions: Mapping[TopicPartitionKey, int]) -> None:
        """Read exactly these partitions, each from its given offset."""
        try:
            consumer = self._client()
            tps = {key: TopicPartition(*key) for key in sorted(positions)}
            consumer.assign(list(tps.values()))
            for key, tp in tps.items():
                consumer.seek(tp, positions[key])
        except KafkaError as exc:
            raise self._failed(exc, f"cannot assign the partitions: {exc}") from exc

    def poll(self, timeout_s: float = _POLL_S, max_records: int | None = None) -> list[ConsumerRecord]:
        """The next records of the assigned partitions (up to ``max_records``, else ``max_poll_records``),
        grouped by partition in (topic, partition) order, each partition's in offset order."""
        try:
            batch = self._client().poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except KafkaError as exc:
            raise self._failed(exc, f"cannot read from Kafka at {self.settings.bootstrap_servers}: {exc}") from exc
        return [r for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for r in batch[tp]]

    def position(self, tp: TopicPartitionKey) -> int:
        """Offset of the next record this reader will return for ``tp`` (past transaction markers)."""
        try:
            found = self._client().position(TopicPartition(*tp), timeout_ms=self._timeout_ms())
        except KafkaError as exc:
            raise self._failed(exc, f"cannot read the position of {tp[0]}[{tp[1]}]: {exc}") from exc
        if found is None:
            raise BrokerError(
                f"cannot read the position of {tp[0]}[{tp[1]}]: no answer within {self.settings.request_timeout_s:g}s"
            )
        return int(found)

    def read(
        self, windows: Mapping[TopicPartitionKey, tuple[int, int]], *, timeout_s: float | None = None
    ) -> Iterator[ConsumerRecord]:
        """The records of each partition in its window ``[start, stop)``, as :func:`read_ranges` (which see).

        Reassigns this reader to the windows' partitions; a reader kept open reads window after window
        without a new connection and login each time.
        """
        wanted = {tp: window for tp, window in windows.items() if window[1] > window[0]}
        if not wanted:
            return
        timeout = timeout_s if timeout_s is not None else max(self.settings.request_timeout_s, 30.0)
        self.assign({tp: start for tp, (start, _) in wanted.items()})
        remaining = set(wanted)
        positions = {tp: wanted[tp][0] for tp in wanted}
        moved_at = time.monotonic()
        while remaining:
            records = self.poll()
            yield from (r for r in records if r.offset < wanted[(r.topic, r.partition)][1])
            for tp in list(remaining):
                now = self.position(tp)
                if now != positions[tp]:
                    positions[tp] = now
                    moved_at = time.monotonic()
                if now >= wanted[tp][1]:
                    remaining.discard(tp)
            if remaining and time.monotonic() - moved_at > timeout:
                stuck = ", ".join(f"{t}[{p}]@{positions[(t, p)]}/{wanted[(t, p)][1]}" for t, p in sorted(remaining))
                raise BrokerError(
                    f"reading stalled at {stuck}: nothing moved for {timeout:g}s (a transaction still open "
                    "there holds read_committed readers back until it is decided or times out)"
                )

    def _failed(self, exc: KafkaError, message: str) -> HubError:
        """Kafka refusing this reader (no ACL lets it READ or DESCRIBE) in one line; anything else a BrokerError."""
        return refusal(exc, self.settings, operation="READ") or BrokerError(message)

    def _timeout_ms(self) -> int:
        return int(self.settings.request_timeout_s * 1000)


__all__ = ["KafkaReader", "TopicPartitionKey", "data_ends", "read_ranges", "read_topic", "written_ends"]


def read_ranges(
    settings: HubSettings,
    windows: Mapping[TopicPartitionKey, tuple[int, int]],
    *,
    client_id: str,
    timeout_s: float | None = None,
    read_committed: bool = True,
) -> Iterator[ConsumerRecord]:
    """The committed records of each partition in its window ``[start, stop)`` (read_committed).

    ``read_committed=False`` returns every record written there, aborted or open ones too: for
    diagnostics only, never for state.

    Records come partition by partition in offset order. Raises :class:`BrokerError` when no
    partition moves for ``timeout_s`` (default: the request timeout, at least 30 s); a refusal is a
    :class:`~hub.errors.KafkaAuthError`.
    """
    with KafkaReader(settings, client_id=client_id, read_committed=read_committed) as reader:
        yield from reader.read(windows, timeout_s=timeout_s)


def written_ends(
    settings: HubSettings, tps: Iterable[TopicPartitionKey], *, client_id: str
) -> dict[TopicPartitionKey, int]:
    """Each partition's high watermark: the offset after the last record written, decided or not.

    The end to read to when the read must hold every record committed before it began. A
    ``read_committed`` consumer's own end offset is the last stable offset, which one open transaction
    (anyone's: a zombie's, another flow's, one whose markers a restarted broker has yet to write) pins
    below records committed after it began; reading to it silently under-reads. Reading
    ``read_committed`` to the high watermark instead waits until what is open there is decided.
    """
    with KafkaReader(settings, client_id=client_id) as reader:
        return reader.end_offsets(tps)


def read_topic(
    settings: HubSettings,
    topic: str,
    *,
    client_id: str = "hub-reader",
    timeout_s: float | None = None,
    read_committed: bool = True,
) -> Iterator[ConsumerRecord]:
    """Every committed record of ``topic``, all partitions, from the beginning to what is written now.

    Holds every record committed before the call (it reads to :func:`written_ends`, so it waits for a
    transaction still open there). Raises :class:`BrokerError` if the topic does not exist, Kafka fails,
    or no partition moves for ``timeout_s``. ``read_committed=False``: every record written, as in
    :func:`read_ranges`.
    """
    with KafkaReader(settings, client_id=client_id, read_committed=True) as reader:
        tps = reader.partitions([topic])
        begins = reader.beginning_offsets(tps)
    ends = written_ends(settings, tps, client_id=client_id)
    yield from read_ranges(
        settings,
        {tp: (begins[tp], ends[tp]) for tp in tps},
        client_id=client_id,
        timeout_s=timeout_s,
        read_committed=read_committed,
    )


def data_ends(
    settings: HubSettings,
    tps: Iterable[TopicPartitionKey],
    *,
    client_id: str,
    window: int = 16,
    timeout_s: float | None = None,
) -> dict[TopicPartitionKey, int]:
    """For each partition, the offset after its last committed data record; partitions with none are left out.

    A partition written in Kafka transactions ends with a commit marker, which takes an offset but is
    never delivered, and may hold aborted records: its end offset is then past its last record, and a
    reader that stored "last offset + 1" would look behind for ever. This reads back from the end in
    growing windows (``window``, then 8 times more, ...) until it finds a committed record.
    """
    wanted = list(tps)
    if not wanted:
        return {}
    with KafkaReader(settings, client_id=client_id, read_committed=True) as reader:
        begins, ends = reader.beginning_offsets(wanted), reader.end_offsets(wanted)
    todo = {tp: (begins.get(tp, 0), ends.get(tp, 0)) for tp in wanted if ends.get(tp, 0) > begins.get(tp, 0)}
    found: dict[TopicPartitionKey, int] = {}
    width = window
    while todo:
        windows = {tp: (max(begin, end - width), end) for tp, (begin, end) in todo.items()}
        for record in read_ranges(settings, windows, client_id=client_id, timeout_s=timeout_s):
            key = (record.topic, record.partition)
            found[key] = max(found.get(key, 0), record.offset + 1)
        todo = {tp: span for tp, span in todo.items() if tp not in found and windows[tp][0] > span[0]}
        width *= 8
    return found
