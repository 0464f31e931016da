"""The one retry policy: which errors mean "down for now", and how long to wait between attempts.

Every loop that waits out an outage (the gateway, the projection worker and
its rebuild, the partner subscriber) goes through :func:`retry` or
:func:`retry_async`. Guarantees:

- only a transient error (:data:`TRANSIENT`) is retried; anything else
  propagates at once, so a bug or a refused record is never retried forever;
- Kafka refusing a login or an operation (:func:`hub.kafka_auth.is_refusal`)
  is never retried either, though both libraries raise it as a Kafka error;
- waits start at ``Backoff.first_s`` and double up to ``Backoff.max_s``;
- a sync loop stops waiting as soon as its ``stop`` event is set and raises
  :class:`Stopped`; an async loop is cancelled like any coroutine;
- every failed attempt is reported: to ``on_wait`` if given, else as one
  warning ``"<what> failed (<error>); retrying in <s>s"`` on the ``hub.retry``
  logger (:func:`log_waits` makes the same reporter for another logger);
  ``on_recovered`` hears of the first success after a failure, so callers can
  report "waiting for X" without a loop of their own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final, TypeVar

from aiokafka.errors import KafkaError as AIOKafkaError
from kafka.errors import KafkaError

from hub.errors import BrokerError, HubError, SchemaRegistryError, TransientError
from hub.kafka_auth import is_refusal

T = TypeVar("T")
log = logging.getLogger("hub.retry")

#: What is waited out. Adapters translate their library's outages into
#: :class:`TransientError` subclasses where they can; the Kafka clients' own
#: errors and a refused, reset or timed-out connection are listed because the
#: streaming code meets them raw. Other OSErrors (a permission, a missing file)
#: are not outages and propagate.
TRANSIENT: Final[tuple[type[BaseException], ...]] = (
    TransientError,
    BrokerError,
    SchemaRegistryError,
    AIOKafkaError,
    KafkaError,
    ConnectionError,
    TimeoutError,
)

OnWait = Callable[[str, BaseException, float], None]
"""Called with (what, error, seconds until the next attempt) after a failed attempt."""


class Stopped(HubError):
    """The caller asked to stop while an outage was being waited out."""


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: ``first_s``, doubled up to ``max_s``."""

    first_s: float = 0.2
    max_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.max_s:
            raise ValueError(f"backoff: need 0 < first_s <= max_s, got {self.first_s} and {self.max_s}")

    def delays(self) -> Iterator[float]:
        delay = self.first_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage to wait out; Kafka refusing a login or an operation never is."""
    return isinstance(exc, TRANSIENT) and not is_refusal(exc)


def log_waits(logger: logging.Logger, prefix: str = "") -> OnWait:
    """An ``on_wait`` that logs each failed attempt as a warning on ``logger``, ``prefix`` (e.g. ``"name: "``) first."""

    def report(what: str, exc: BaseException, delay: float) -> None:
        logger.warning("%s%s failed (%s); retrying in %.1fs", prefix, what, exc, delay)

    return report


_log_wait: Final[OnWait] = log_waits(log)


def retry(
    step: Callable[[], T],
    *,
    what: str,
    backoff: Backoff = Backoff(),
    stop: threading.Event | None = None,
    on_wait: OnWait | None = None,
    on_recovered: Callable[[str], None] | None = None,
) -> T:
    """Run ``step`` until it returns, waiting out transient errors; raise :class:`Stopped` once ``stop`` is set."""
    failed = False
    for delay in backoff.delays():
        if stop is not None and stop.is_set():
            raise Stopped(f"stopped while {what}")
        try:
            result = step()
        except TRANSIENT as exc:
            if is_refusal(exc):
                raise
            failed = True
            (on_wait or _log_wait)(what, exc, delay)
            if stop is not None:
                if stop.wait(delay):
                    raise Stopped(f"stopped while {what}") from exc
            else:
                threading.Event().wait(delay)
            continue
        if failed and on_recovered is not None:
            on_recovered(what)
        return result
    raise AssertionError("unreachable: Backoff.delays() never ends")


async def retry_async(
    step: Callable[[], Awaitable[T]],
    *,
    what: str,
    backoff: Backoff = Backoff(),
    on_wait: OnWait | None = None,
    on_recovered: Callable[[str], None] | None = None,
) -> T:
    """The async form of :func:`retry`: cancellation is the way to stop it."""
    failed = False
    for delay in backoff.delays():
        try:
            result = await step()
        except TRANSIENT as exc:
            if is_refusal(exc):
                raise
            failed = True
            (on_wait or _log_wait)(what, exc, delay)
            await asyncio.sleep(delay)
            continue
        if failed and on_recovered is not None:
            on_recovered(what)
        return result
    raise AssertionError("unreachable: Backoff.delays() never ends")


__all__ = ["TRANSIENT", "Backoff", "OnWait", "Stopped", "is_transient", "log_waits", "retry", "retry_async"]
