"""The projections' Kafka adapter (kafka-python): shared topics, offsets, record timestamps, dead letters.

Used by the rebuild, the lag measurement and the dead-letter step of the
worker. Every Kafka failure is translated into :class:`~hub.errors.BrokerError`.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from hub import naming
from hub.dlq import DeadLetter
from hub.errors import BrokerError
from hub.kafka_admin import admin_client
from hub.publishing.publisher import producer_config
from hub.settings import HubSettings

TopicPartitionKey = tuple[str, int]
_POLL_MS: Final = 500


def shared_topics(settings: HubSettings, zones: Iterable[str]) -> list[str]:
    """Topics on the broker matching :func:`hub.naming.shared_pattern` of any of ``zones``, sorted."""
    patterns = [re.compile(naming.shared_pattern(z)) for z in zones]
    admin = admin_client(settings.bootstrap_list, settings.request_timeout_s)
    try:
        names = admin.list_topics()
    except KafkaError as exc:
        raise BrokerError(f"cannot list topics at {settings.bootstrap_servers}: {exc}") from exc
    finally:
        admin.close()
    return sorted(n for n in names if any(p.fullmatch(n) for p in patterns))


class KafkaReader:
    """A group-less kafka-python consumer for offsets, timestamps and replays (manual assignment only)."""

    def __init__(self, settings: HubSettings, *, client_id: str, max_poll_records: int = 500) -> None:
        self.settings = settings
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=settings.bootstrap_list,
                client_id=client_id,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=max_poll_records,
                request_timeout_ms=int(max(settings.request_timeout_s, 31.0) * 1000),
            )
        except KafkaError as exc:
            raise BrokerError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> KafkaReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def partitions(self, topics: Iterable[str], *, missing_ok: bool = False) -> list[TopicPartitionKey]:
        """Every (topic, partition) of ``topics``.

        A topic that does not exist raises :class:`BrokerError`, or is left out with ``missing_ok``.
        """
        out: list[TopicPartitionKey] = []
        try:
            for topic in sorted(set(topics)):
                parts = self._consumer.partitions_for_topic(topic)
                if not parts and missing_ok:
                    continue
                if not parts:
                    raise BrokerError(
                        f"topic {topic} does not exist at {self.settings.bootstrap_servers} (`hub topics apply`)"
                    )
                out.extend((topic, p) for p in sorted(parts))
        except KafkaError as exc:
            raise BrokerError(f"reading the partitions of {', '.join(topics)}: {exc}") from exc
        return out

    def end_offsets(self, tps: Iterable[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
        """The offset the next record of each partition will get."""
        wanted = [TopicPartition(t, p) for t, p in tps]
        if not wanted:
            return {}
        try:
            found = self._consumer.end_offsets(wanted)
        except KafkaError as exc:
            raise BrokerError(f"reading end offsets: {exc}") from exc
        return {(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}

    def beginning_offsets(self, tps: Iterable[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
        """The offset of the oldest record still held by each partition."""
        wanted = [TopicPartition(t, p) for t, p in tps]
        if not wanted:
            return {}
        try:
            found = self._consumer.beginning_offsets(wanted)
        except KafkaError as exc:
            raise BrokerError(f"reading beginning offsets: {exc}") from exc
        return {(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}

    def timestamps_at(
        self, positions: Mapping[TopicPartitionKey, int], *, timeout_s: float = 10.0
    ) -> dict[TopicPartitionKey, int]:
        """Timestamp (ms) of the first record at or after each position; partitions with none are left out."""
        if not positions:
            return {}
        found: dict[TopicPartitionKey, int] = {}
        try:
            self.assign(positions)
            deadline = time.monotonic() + timeout_s
            while len(found) < len(positions) and time.monotonic() < deadline:
                for tp, records in self._consumer.poll(timeout_ms=_POLL_MS).items():
                    key = (tp.topic, tp.partition)
                    if key in found:
                        continue
                    for record in records:
                        if record.offset >= positions[key] and record.timestamp is not None:
                            found[key] = int(record.timestamp)
                            self._consumer.pause(tp)
                            break
        except KafkaError as exc:
            raise BrokerError(f"reading record timestamps: {exc}") from exc
        finally:
            self._consumer.assign([])
        return found

    # -- replay ------------------------------------------------------------------------------------
    def assign(self, positions: Mapping[TopicPartitionKey, int]) -> None:
        """Read exactly these partitions, each from its given offset."""
        try:
            tps = {(t, p): TopicPartition(t, p) for t, p in positions}
            self._consumer.assign(list(tps.values()))
            for key, tp in tps.items():
                self._consumer.seek(tp, positions[key])
        except KafkaError as exc:
            raise BrokerError(f"assigning partitions: {exc}") from exc

    def poll(self, timeout_s: float = 0.5) -> list[ConsumerRecord]:
        """The next records of the assigned partitions (up to ``max_poll_records``), in partition order."""
        try:
            batch = self._consumer.poll(timeout_ms=int(timeout_s * 1000))
        except KafkaError as exc:
            raise BrokerError(f"reading shared records: {exc}") from exc
        return [r for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for r in batch[tp]]

    def position(self, tp: TopicPartitionKey) -> int:
        """Offset of the next record this reader will return for ``tp``."""
        try:
            return int(self._consumer.position(TopicPartition(*tp)))
        except KafkaError as exc:
            raise BrokerError(f"reading the position of {tp[0]}[{tp[1]}]: {exc}") from exc


class DeadLetterProducer:
    """Delivers dead letters to ``hub.dlq`` durably (acks=all, idempotent); created on first use."""

    def __init__(self, settings: HubSettings, *, client_id: str) -> None:
        self.settings = settings
        self.client_id = client_id
        self._producer: KafkaProducer | None = None

    def _ensure(self) -> KafkaProducer:
        if self._producer is None:
            config: dict[str, Any] = {
                **producer_config(self.settings, self.settings.request_timeout_s),
                "client_id": self.client_id,
            }
            try:
                self._producer = KafkaProducer(**config)
            except KafkaError as exc:
                raise BrokerError(f"cannot reach Kafka at {self.settings.bootstrap_servers}: {exc}") from exc
        return self._producer

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Send every letter and wait until each is acknowledged; raises :class:`BrokerError` otherwise."""
        if not letters:
            return
        producer = self._ensure()
        try:
            futures = [
                producer.send(naming.DLQ_TOPIC, key=letter.key(), value=letter.value(), headers=letter.headers())
                for letter in letters
            ]
            producer.flush(timeout=self.settings.request_timeout_s)
            for future in futures:
                future.get(timeout=self.settings.request_timeout_s)
        except KafkaError as exc:
            self.close()
            raise BrokerError(f"delivering {len(letters)} dead letter(s) to {naming.DLQ_TOPIC}: {exc}") from exc

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(KafkaError):
                producer.close(timeout=self.settings.request_timeout_s)


__all__ = ["DeadLetterProducer", "KafkaReader", "TopicPartitionKey", "shared_topics"]
