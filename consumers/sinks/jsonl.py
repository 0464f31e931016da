"""The JSON Lines sink (``jsonl:///dir``): events as segment files, one folder per topic, offsets in ``offsets.json``.

Each write adds segment files atomically (temporary file, fsync, rename,
fsync of the folder) and then replaces ``offsets.json`` atomically. A
segment's name embeds its offset range, so a crash between the two is found
and rolled forward on restart: the segment is kept and the offsets it
reaches are recorded; an unfinished temporary file is removed. One folder
belongs to one subscriber and one process at a time (an exclusive lock on
``.lock``). The protocol is in docs/subscribers.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from consumers.sinks.avro_types import json_value
from consumers.sinks.base import Sink, SinkError, SinkRecord, SinkUnavailable, TopicPartition, WriteResult
from hub.tracking import RecordsRejected, Rejected

log = logging.getLogger(__name__)

OFFSETS_FILE: Final = "offsets.json"
LOCK_FILE: Final = ".lock"
FORMAT_VERSION: Final = 1
_SEGMENT: Final = re.compile(r"^(\d{5})-(\d{20})-(\d{20})\.jsonl$")


def segment_name(partition: int, first: int, next_offset: int) -> str:
    """``<partition>-<first offset>-<next offset>.jsonl``: the segment holds records with first <= offset < next."""
    return f"{partition:05d}-{first:020d}-{next_offset:020d}.jsonl"


@dataclass(frozen=True)
class Segment:
    """A committed segment file of the JSON Lines sink."""

    path: Path
    topic: str
    partition: int
    first: int
    next_offset: int


def parse_segment(path: Path) -> Segment | None:
    """The segment a file name describes, or None for any other file."""
    match = _SEGMENT.fullmatch(path.name)
    if match is None:
        return None
    return Segment(path, path.parent.name, int(match[1]), int(match[2]), int(match[3]))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file, fsync it, rename it over ``path``, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


class JsonlSink(Sink):
    """Events as JSON Lines segment files, one folder per topic, offsets in ``offsets.json``.

    One folder belongs to one subscriber and one process at a time (an exclusive
    lock on ``.lock``). See docs/subscribers.md for the protocol and the recovery.
    """

    def __init__(self, directory: Path, subscriber: str) -> None:
        self.subscriber = subscriber
        self.directory = directory
        self.recovered: list[str] = []
        """What :meth:`prepare` repaired (segments rolled forward, temporary files removed), for the operator."""
        self._next: dict[TopicPartition, int] = {}
        self._seen: dict[str, set[str]] = {}
        self._lock: IO[bytes] | None = None

    @property
    def description(self) -> str:
        return f"jsonl://{self.directory}"

    # -- opening and recovery ----------------------------------------------------------------------------
    def prepare(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        """Lock the folder, remove temporary files, roll forward segments the offsets file does not cover yet."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._recover()
        except OSError as exc:
            raise SinkUnavailable(f"sink {self.description}: {exc}") from exc

    def _take_lock(self) -> None:
        if self._lock is not None:
            return
        handle = open(self.directory / LOCK_FILE, "a+b")  # noqa: SIM115 - held open until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SinkError(
                f"sink {self.description}: another subscriber process writes to this folder (it holds {LOCK_FILE})"
            ) from None
        self._lock = handle

    def _read_offsets_file(self) -> dict[TopicPartition, int]:
        path = self.directory / OFFSETS_FILE
        if not path.exists():
            return {}
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            owner = doc["subscriber"]
            if doc.get("format") != FORMAT_VERSION:
                raise SinkError(f"sink {self.description}: {OFFSETS_FILE} has format {doc.get('format')!r}")
            offsets = {(str(t), int(p)): int(n) for t, parts in doc["offsets"].items() for p, n in parts.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SinkError(f"sink {self.description}: {OFFSETS_FILE} is not a valid offsets file: {exc}") from exc
        if owner != self.subscriber:
            raise SinkError(
                f"sink {self.description}: this folder belongs to subscriber {owner!r}, not {self.subscriber!r}"
            )
        return offsets

    def segments(self, topic: str | None = None) -> list[Segment]:
        """Committed segment files (of ``topic``, or all), in (topic, partition, offset) order."""
        folders = [self.directory / topic] if topic else [p for p in self.directory.iterdir() if p.is_dir()]
        found = [s for d in folders if d.is_dir() for p in d.iterdir() if (s := parse_segment(p)) is not None]
        return sorted(found, key=lambda s: (s.topic, s.partition, s.first))

    def _recover(self) -> None:
        recorded = self._read_offsets_file()
        for folder in [self.directory, *(p for p in self.directory.iterdir() if p.is_dir())]:
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink()
                self.recovered.append(f"removed the unfinished temporary file {tmp}")
        nexts = dict(recorded)
        previous: Segment | None = None
        for seg in self.segments():
            if seg.next_offset <= seg.first:
                raise SinkError(f"sink {self.description}: segment {seg.path} has an empty offset range")
            same = previous is not None and (previous.topic, previous.partition) == (seg.topic, seg.partition)
            if same and previous is not None and seg.first < previous.next_offset:
                raise SinkError(
                    f"sink {self.description}: segments {previous.path.name} and {seg.path.name} of {seg.topic} overlap"
                )
            previous = seg
            tp = (seg.topic, seg.partition)
            if seg.next_offset > nexts.get(tp, 0):
                if seg.next_offset > recorded.get(tp, 0):
                    self.recovered.append(
                        f"segment {seg.topic}/{seg.path.name} was written but its offsets were not recorded: "
                        "kept, offsets rolled forward"
                    )
                nexts[tp] = seg.next_offset
        for note in self.recovered:
            log.warning("sink %s recovered: %s", self.description, note)
        self._next = nexts
        if nexts != recorded or not (self.directory / OFFSETS_FILE).exists():
            self._write_offsets_file()

    def _write_offsets_file(self) -> None:
        by_topic: dict[str, dict[str, int]] = {}
        for (topic, partition), n in sorted(self._next.items()):
            by_topic.setdefault(topic, {})[str(partition)] = n
        doc = {
            "format": FORMAT_VERSION,
            "subscriber": self.subscriber,
            "updated_at": datetime.now(UTC).isoformat(),
            "offsets": by_topic,
        }
        _atomic_write(self.directory / OFFSETS_FILE, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"))

    def _seen_ids(self, topic: str) -> set[str]:
        """The event ids held in ``topic``'s segments (read once, then kept up to date)."""
        seen = self._seen.get(topic)
        if seen is None:
            seen = set()
            for seg in self.segments(topic):
                for lineno, line in enumerate(_lines(seg.path), start=1):
                    try:
                        seen.add(str(json.loads(line)["event"]["event_id"]))
                    except (ValueError, KeyError, TypeError) as exc:
                        raise SinkError(f"sink {self.description}: {seg.path}:{lineno} is not an event line") from exc
            self._seen[topic] = seen
        return seen

    # -- the interface ------------------------------------------------------------------------------------
    def positions(self) -> dict[TopicPartition, int]:
        if self._lock is None:
            raise SinkError(f"sink {self.description}: prepare() it first")
        return dict(self._next)

    def write(self, records: Sequence[SinkRecord]) -> WriteResult:
        if self._lock is None:
            raise SinkError(f"sink {self.description}: prepare() it first")
        if not records:
            return WriteResult(0, 0, 0, {})
        groups: dict[TopicPartition, list[SinkRecord]] = {}
        skipped = 0
        for r in records:
            if r.offset < self._next.get(r.tp, 0):
                skipped += 1
            else:
                groups.setdefault(r.tp, []).append(r)
        encoded = self._encode(records)
        written = duplicates = 0
        try:
            for tp in sorted(groups):
                group = sorted(groups[tp], key=lambda r: r.offset)
                seen = self._seen_ids(tp[0])
                fresh: set[str] = set()
                lines: list[bytes] = []
                for r in group:
                    eid = r.event_id
                    if eid is None:
                        continue
                    if eid in seen or eid in fresh:
                        duplicates += 1
                        continue
                    fresh.add(eid)
                    lines.append(encoded[(r.topic, r.partition, r.offset)])
                first = self._next.get(tp, group[0].offset)
                end = group[-1].offset + 1
                if lines:
                    folder = self.directory / tp[0]
                    folder.mkdir(exist_ok=True)
                    _atomic_write(folder / segment_name(tp[1], first, end), b"".join(lines))
                # the segment is committed: from here a crash is rolled forward by _recover
                seen.update(fresh)
                self._next[tp] = end
                written += len(lines)
            self._write_offsets_file()
        except OSError as exc:
            raise SinkUnavailable(f"sink {self.description}: {exc}") from exc
        return WriteResult(written, duplicates, skipped, {tp: self._next[tp] for tp in {r.tp for r in records}})

    def _encode(self, records: Sequence[SinkRecord]) -> dict[tuple[str, int, int], bytes]:
        out: dict[tuple[str, int, int], bytes] = {}
        rejected: list[Rejected] = []
        for r in records:
            if r.event is None:
                continue
            line = {
                "type": r.event_type,
                "zone": r.zone,
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "event": json_value(r.event),
            }
            try:
                out[(r.topic, r.partition, r.offset)] = (
                    json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
                ).encode("utf-8")
            except (TypeError, ValueError) as exc:
                rejected.append(Rejected(r.topic, r.partition, r.offset, f"not representable as JSON: {exc}"))
        if rejected:
            raise RecordsRejected(rejected)
        return out

    def close(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()


def _lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def read_jsonl(directory: Path, topic: str | None = None) -> Iterator[dict[str, Any]]:
    """Every event line of a JSON Lines sink folder (of ``topic``, or all), in (topic, partition, offset) order."""
    sink = JsonlSink(directory, "-")
    for seg in sink.segments(topic):
        for line in _lines(seg.path):
            yield json.loads(line)


__all__ = [
    "FORMAT_VERSION",
    "LOCK_FILE",
    "OFFSETS_FILE",
    "JsonlSink",
    "Segment",
    "parse_segment",
    "read_jsonl",
    "segment_name",
]
