"""What the stream-runner hands to a worker's per-batch function (pure).

A batch is a sequence of :class:`Consumed` records in consumption order
(per partition, in offset order). The per-batch function returns only once
the batch's effects are durable (outputs acknowledged by the broker, rows
and offsets committed); only then does the runner acknowledge the batch. It
raises only for what is neither an outage (waited out inside it, with
:mod:`hub.retry`) nor attributable to one record (a dead letter): such an
exception stops the worker with nothing of the batch acknowledged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Consumed:
    """One record as read from a Kafka topic, with its coordinates."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


BatchFunction = Callable[[Sequence[Consumed]], Awaitable[None]]
"""A worker's per-batch function (see the module docstring)."""


__all__ = ["BatchFunction", "Consumed"]
