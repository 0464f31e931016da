"""Dead letters for ``hub.dlq``: what failed, where it came from, and why.

A dead letter is JSON, not Avro, on purpose: it must be writable when the
thing that failed is the schema registry or the Avro decoder, and readable by
an operator with any Kafka tool. The original key and value travel as base64.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from hub.naming import DLQ_TOPIC

__all__ = ["DLQ_TOPIC", "DeadLetter", "decode_dead_letter"]


@dataclass(frozen=True)
class DeadLetter:
    consumer: str  # which component gave up, e.g. "gateway", "projection:cases"
    stage: str  # decode | validate | policy | apply | encode
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    original_key: bytes | None
    original_value: bytes | None
    failed_at: datetime
    event_id: str | None = None

    @classmethod
    def now(cls, **fields: Any) -> DeadLetter:
        return cls(failed_at=datetime.now(UTC), **fields)

    def key(self) -> bytes:
        """Keyed by source coordinates, so a re-sent dead letter is recognisable."""
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}".encode()

    def value(self) -> bytes:
        doc = asdict(self)
        doc["failed_at"] = self.failed_at.isoformat()
        doc["original_key"] = _b64(self.original_key)
        doc["original_value"] = _b64(self.original_value)
        return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def headers(self) -> list[tuple[str, bytes]]:
        return [("hub.dlq.stage", self.stage.encode()), ("hub.dlq.consumer", self.consumer.encode())]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def decode_dead_letter(value: bytes) -> DeadLetter:
    doc = json.loads(value)
    doc["failed_at"] = datetime.fromisoformat(doc["failed_at"])
    for k in ("original_key", "original_value"):
        doc[k] = None if doc[k] is None else base64.b64decode(doc[k])
    return DeadLetter(**doc)
