"""Schema ids across registries: which source id becomes which target id, and the rewritten frame. Pure.

A copied value's 4-byte Confluent schema id names a schema in the SOURCE
registry; on the target it must name the same schema in the TARGET registry,
registered under the target subject. Guarantees:

- :func:`framed` accepts exactly the Confluent frame (:mod:`hub.wire`) and
  refuses anything else with a :class:`~hub.errors.ReplicationError` naming the
  topic, partition and offset: a shared topic holds framed values only (the
  gateway writes nothing else), so an unframed value is a fault to stop at, not
  a record to skip or to copy blind;
- :func:`rewrite` changes the id and nothing else: the Avro body is copied byte
  for byte (so the transfer record's payload digest is the same on both sides);
- :class:`SchemaIdMap` remembers a mapping per (target subject, source id) and
  refuses to change one: ids are immutable in both registries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hub.errors import ReplicationError, SerializationError
from hub.wire import frame, unframe


@dataclass(frozen=True)
class RecordRef:
    """Where a source record is, for messages."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic} partition {self.partition} offset {self.offset}"


def framed(value: bytes | None, where: RecordRef) -> tuple[int, bytes]:
    """The schema id and the value itself; :class:`ReplicationError` naming ``where`` if it is not framed."""
    if value is None:
        raise ReplicationError(f"{where}: the value is empty (a tombstone); a shared topic holds events only")
    try:
        schema_id, _ = unframe(value)
    except SerializationError as exc:
        raise ReplicationError(f"{where}: {exc}; a shared topic holds Confluent-framed Avro only") from exc
    return schema_id, value


def rewrite(value: bytes, target_id: int) -> bytes:
    """``value`` with its schema id replaced by ``target_id``, the body unchanged."""
    _, body = unframe(value)
    return frame(target_id, bytes(body))


class SchemaIdMap:
    """(target subject, source id) -> target id, as learnt from the registries."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, int], int] = {}

    def get(self, subject: str, source: int) -> int | None:
        return self._ids.get((subject, source))

    def put(self, subject: str, source: int, target: int) -> None:
        known = self._ids.setdefault((subject, source), target)
        if known != target:
            raise ReplicationError(
                f"{subject}: source schema id {source} was registered as target id {known}, now {target}; "
                "a registry's ids never change: was the target registry's store replaced?"
            )

    def missing(self, wanted: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """The pairs of ``wanted`` not mapped yet, each once, in first-seen order."""
        out: dict[tuple[str, int], None] = {}
        for pair in wanted:
            if pair not in self._ids:
                out.setdefault(pair)
        return list(out)

    def __len__(self) -> int:
        return len(self._ids)


__all__ = ["RecordRef", "SchemaIdMap", "framed", "rewrite"]
