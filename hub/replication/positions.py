"""What a flow keeps in ``hub.replication.offsets``, and what it resumes from. Pure: no I/O.

The target-side, compacted topic holds, per flow, the next source offset of
every copied partition and the head of the flow's transfer chain. The flow
writes them in the same transaction as the copies, so what a ``read_committed``
reader finds there is exactly what is on the target. Guarantees:

- a key is canonical JSON (sorted keys, no whitespace) naming the flow and, for
  a position, the source topic and partition: one key per thing, so compaction
  keeps only the latest value of each;
- :func:`fold` keeps the last value of each key of ``flow`` in log order and
  ignores other flows' keys; a tombstone forgets the key; a key or value of
  this flow that does not decode raises :class:`~hub.errors.ReplicationError`
  (the flow must not resume from a guess).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hub.errors import ReplicationError
from hub.transfers.chain import ChainHead

VERSION: Final = 1
POSITION: Final = "position"
HEAD: Final = "chain-head"

TopicPartitionKey = tuple[str, int]


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def position_key(flow: str, topic: str, partition: int) -> bytes:
    return _canonical({"flow": flow, "kind": POSITION, "topic": topic, "partition": partition, "v": VERSION})


def position_value(next_offset: int) -> bytes:
    return _canonical({"next_offset": next_offset, "v": VERSION})


def head_key(flow: str) -> bytes:
    return _canonical({"flow": flow, "kind": HEAD, "v": VERSION})


def head_value(head: ChainHead) -> bytes:
    return _canonical({"seq": head.seq, "hash": head.hash, "v": VERSION})


def records(flow: str, positions: Mapping[TopicPartitionKey, int], head: ChainHead) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs one transaction writes: every position it moved, then the chain head."""
    out = [(position_key(flow, t, p), position_value(n)) for (t, p), n in sorted(positions.items())]
    out.append((head_key(flow), head_value(head)))
    return out


@dataclass
class Resume:
    """Where a flow goes on from: the next source offset per partition, and its chain head."""

    positions: dict[TopicPartitionKey, int] = field(default_factory=dict)
    head: ChainHead = field(default_factory=ChainHead.start)


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReplicationError(f"hub.replication.offsets: {what} is not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ReplicationError(f"hub.replication.offsets: {what} is not a JSON object")
    return doc


def _int(doc: Mapping[str, Any], name: str, where: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ReplicationError(f"hub.replication.offsets: {where}: {name} must be a non-negative integer")
    return value


def fold(flow: str, log: Iterable[tuple[bytes | None, bytes | None]]) -> Resume:
    """The state of ``flow`` after the (key, value) records of the offsets topic, in log order."""
    positions: dict[TopicPartitionKey, int] = {}
    head = ChainHead.start()
    for key, value in log:
        if key is None:
            continue
        try:
            doc = json.loads(key.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue  # not a flow's key: not ours to judge
        if not isinstance(doc, dict) or doc.get("flow") != flow:
            continue
        where = f"key {key.decode('utf-8')}"
        kind = doc.get("kind")
        if kind == POSITION:
            topic, partition = doc.get("topic"), _int(doc, "partition", where)
            if not isinstance(topic, str) or not topic:
                raise ReplicationError(f"hub.replication.offsets: {where}: topic must be a non-empty string")
            if value is None:
                positions.pop((topic, partition), None)
            else:
                positions[(topic, partition)] = _int(_json(value, f"the value of {where}"), "next_offset", where)
        elif kind == HEAD:
            if value is None:
                head = ChainHead.start()
                continue
            body = _json(value, f"the value of {where}")
            digest = body.get("hash")
            if not isinstance(digest, str):
                raise ReplicationError(f"hub.replication.offsets: {where}: hash must be a string")
            head = ChainHead(_int(body, "seq", where), digest)
        else:
            raise ReplicationError(f"hub.replication.offsets: {where}: unknown kind {kind!r}")
    return Resume(positions, head)


__all__ = [
    "HEAD",
    "POSITION",
    "Resume",
    "fold",
    "head_key",
    "head_value",
    "position_key",
    "position_value",
    "records",
]
