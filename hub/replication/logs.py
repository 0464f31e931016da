"""Reading a small log to its end (the offsets topic, ``hub.transfers``), committed records only.

A flow resumes from what these logs hold, so it reads them whole, from the
beginning to the last stable offset, with ``read_committed``: an aborted or
still-open transaction (a zombie's) is never taken for state. Guarantees:

- the records come back per partition in offset order, partitions in order;
- the read ends at the end offsets taken when it starts (what was committed
  then), and it fails as :class:`~hub.errors.BrokerError` (an outage, waited
  out by the caller's retry) if it cannot get there within ``timeout_s``;
- it uses the one group-less reader, :class:`hub.kafka_reader.KafkaReader`,
  so a refusal is one :class:`~hub.errors.KafkaAuthError` line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hub.errors import BrokerError
from hub.kafka_reader import KafkaReader
from hub.settings import HubSettings


@dataclass(frozen=True)
class LogRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def read_to_end(settings: HubSettings, topic: str, *, client_id: str, timeout_s: float = 60.0) -> list[LogRecord]:
    """Every committed record of ``topic`` up to its current end."""
    with KafkaReader(settings, client_id=client_id, max_poll_records=5000, read_committed=True) as reader:
        tps = reader.partitions([topic])
        ends = {tp: end for tp, end in reader.end_offsets(tps).items() if end > 0}
        if not ends:
            return []
        starts = reader.beginning_offsets(list(ends))
        pending = {tp for tp in ends if starts.get(tp, 0) < ends[tp]}
        if not pending:
            return []
        reader.assign({tp: starts.get(tp, 0) for tp in pending})
        found: dict[int, list[LogRecord]] = {}
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                where = settings.bootstrap_servers
                raise BrokerError(f"could not read {topic} at {where} to its end within {timeout_s:g}s")
            for r in reader.poll(timeout_s=0.5):
                if r.offset < ends[(r.topic, r.partition)]:
                    found.setdefault(r.partition, []).append(LogRecord(r.partition, r.offset, r.key, r.value))
            pending = {tp for tp in pending if reader.position(tp) < ends[tp]}
    return [rec for p in sorted(found) for rec in found[p]]


__all__ = ["LogRecord", "read_to_end"]
