"""A kafka-python transactional producer, with every wait bounded and every error told as the hub's.

Both sides of a flow write through one: the target (copies, positions and
transfer records in one transaction, transactional id = the flow's principal)
and the source (the flow's transfer records, ``<principal>.source-log``).
Guarantees:

- opening one calls ``init_transactions``: a previous producer with the same
  transactional id (a zombie: the replicator before a crash) is fenced and its
  open transaction aborted before this one writes anything;
- every wait is bounded by ``timeout_s`` (kafka-python's own commit waits for
  ever): a broker that does not answer is a :class:`~hub.errors.BrokerError`,
  an outage the one retry policy waits out; the flow then rebuilds its
  clients and resumes from what was committed;
- being fenced (another replicator of the flow took over) is a
  :class:`~hub.errors.ReplicationError`: this process must stop, not fence the
  other back; Kafka refusing the principal is one
  :class:`~hub.errors.KafkaAuthError` line; neither is retried.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kafka import KafkaProducer
from kafka.errors import (
    InvalidProducerEpochError,
    KafkaError,
    KafkaTimeoutError,
    ProducerFencedError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
)
from kafka.producer.future import FutureRecordMetadata

from hub.errors import BrokerError, HubError, ReplicationError
from hub.kafka_auth import is_refusal, refusal
from hub.kafka_clients import new_producer
from hub.settings import HubSettings

T = TypeVar("T")
log = logging.getLogger("hub.replication")

Header = tuple[str, bytes]


class TransactionalProducer:
    """One transactional producer; :meth:`close` it (also after a failure: it is not reused then)."""

    def __init__(
        self, settings: HubSettings, *, transactional_id: str, client_id: str, timeout_s: float = 30.0
    ) -> None:
        self.settings = settings
        self.transactional_id = transactional_id
        self.timeout_s = timeout_s
        self._producer: KafkaProducer = new_producer(
            settings,
            client_id=client_id,
            timeout_s=timeout_s,
            transactional_id=transactional_id,
            linger_ms=5,
        )
        try:
            self._call(self._producer.init_transactions, "initialise its transactions")
        except BaseException:
            self.close(0)
            raise

    # -- errors ----------------------------------------------------------------------------------
    def _failed(self, exc: BaseException, doing: str, resource: str | None = None) -> HubError:
        if isinstance(exc, ProducerFencedError | InvalidProducerEpochError):
            return ReplicationError(
                f"another producer with transactional id {self.transactional_id} took over at "
                f"{self.settings.bootstrap_servers} while this one tried to {doing}: a second replicator of "
                "the flow runs (or this one was taken for dead); this one stops"
            )
        if is_refusal(exc):
            own_id = isinstance(exc, TransactionalIdAuthorizationFailedError) or isinstance(
                exc.__cause__, TransactionalIdAuthorizationFailedError
            )
            where = f"transactional id {self.transactional_id}" if own_id else resource or _denied_topics(exc)
            denied = refusal(exc, self.settings, resource=where, operation="WRITE")
            if denied is not None:
                return denied
        return BrokerError(
            f"producer {self.transactional_id} at {self.settings.bootstrap_servers} could not {doing}: {exc}"
        )

    def _call(self, step: Callable[[], T], doing: str, resource: str | None = None) -> T:
        try:
            return step()
        except (KafkaError, ConnectionError, TimeoutError) as exc:
            raise self._failed(exc, doing, resource) from exc

    # -- a transaction ---------------------------------------------------------------------------
    def begin(self) -> None:
        self._call(self._producer.begin_transaction, "begin a transaction")

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Sequence[Header] = (),
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> FutureRecordMetadata:
        return self._call(
            lambda: self._producer.send(
                topic, value=value, key=key, headers=list(headers), partition=partition, timestamp_ms=timestamp_ms
            ),
            f"send to {topic}",
            f"topic {topic}",
        )

    def offsets(self, futures: Sequence[FutureRecordMetadata]) -> list[int]:
        """Flush, then the offset each send got (in order)."""
        return [offset for _, offset in self.placements(futures)]

    def placements(self, futures: Sequence[FutureRecordMetadata]) -> list[tuple[int, int]]:
        """Flush, then the (partition, offset) each send got (in order)."""
        self._call(lambda: self._producer.flush(timeout=self.timeout_s), "flush its records")
        return [self._call(functools.partial(self._placement, f), "write a record") for f in futures]

    def _placement(self, future: FutureRecordMetadata) -> tuple[int, int]:
        meta = future.get(timeout=self.timeout_s)
        return int(meta.partition), int(meta.offset)

    def commit(self) -> None:
        self._finish(commit=True)

    def abort(self) -> None:
        """Abort the open transaction if the producer can still say so (a broken one is closed instead)."""
        with contextlib.suppress(HubError, KafkaError):
            self._finish(commit=False)

    def _finish(self, *, commit: bool) -> None:
        # KafkaProducer.commit_transaction() is begin_commit() plus an unbounded wait: the same, bounded.
        manager: Any = self._producer._transaction_manager
        doing = "commit its transaction" if commit else "abort its transaction"
        result = self._call(manager.begin_commit if commit else manager.begin_abort, doing)
        self._producer._sender.wakeup()
        if not self._call(lambda: result.wait(timeout_ms=int(self.timeout_s * 1000)), doing):
            raise self._failed(KafkaTimeoutError(f"no answer within {self.timeout_s:g}s"), doing)

    def close(self, timeout_s: float | None = None) -> None:
        """Close, waiting up to ``timeout_s`` for what is pending; its sender thread is gone when this returns.

        kafka-python's ``close`` flushes first and raises if records are still pending (a broker that is
        away), leaving its sender running: a zombie with this transactional id that would go on retrying
        in this process, and could fence the producer that replaces it. That sender is stopped here.
        """
        try:
            self._producer.close(timeout=self.timeout_s if timeout_s is None else timeout_s)
        except (KafkaError, OSError):
            sender = self._producer._sender
            sender.force_close()  # fails what is pending instead of sending it
            sender.join(self.timeout_s)
            with contextlib.suppress(KafkaError, OSError):
                self._producer.close(timeout=0)
            if sender.is_alive():
                log.warning("producer %s: its sender thread did not stop", self.transactional_id)


def _denied_topics(exc: BaseException) -> str | None:
    """``topic a, b`` of a TopicAuthorizationFailedError raised with the set of topics (kafka-python's way)."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, TopicAuthorizationFailedError) and current.args and isinstance(current.args[0], set):
            return "topic " + ", ".join(sorted(str(t) for t in current.args[0]))
        current = current.__cause__ or current.__context__
    return None


__all__ = ["TransactionalProducer"]
