"""Verification of a transfer log. Pure: values in, a report value out; no I/O, nothing printed.

Input: the entries of one cluster's ``hub.transfers`` in log order (the flows
interleave; each flow is its own chain), the public keys of the sending
jurisdictions, and optionally what landed: the committed data records of the
topic partitions the records name. Guarantees, per flow:

- every record is checked: its signature against the sending (source)
  jurisdiction's keys, by key id (``tampered``, ``unknown-key``), and its
  ``prev_hash`` against the digest of the record before it in the chain
  (``tampered``, or ``reorder`` when it names a later record);
- the chain is complete from seq 1 with no seq missing (``gap``), appears once
  per seq (``duplicate``, also for two records covering the same offsets) and
  in seq order (``reorder``: the fewest records that, moved, restore the order);
- with landed data, each record is checked against the cluster's side of the
  transfer (the target offsets when the cluster is the flow's target, the source
  offsets when it is its source): the committed records in its inclusive range
  must be ``count`` many (``count-mismatch``) with its payload digest
  (``digest-mismatch``); a committed record no transfer record covers is a
  ``count-mismatch`` too: anywhere in a target partition (data and record are
  written in one transaction there), and below the last covered offset in a
  source partition (above it is replication lag, not a problem);
- an entry that does not decode is ``malformed`` and takes no part in the chain.

So any single edit, drop or swap of a valid log is reported: an edit breaks a
signature (or the record's form), a drop leaves a gap, a swap breaks the order,
and the drop of a flow's last record leaves landed data uncovered. What a log
cannot show is in ``docs/transfers.md``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from hub.errors import TransferLogError
from hub.transfers.record import FLOW_SEPARATOR, GENESIS, TransferRecord, decode, payload_digest, signed_bytes_of

Kind = Literal[
    "gap", "reorder", "duplicate", "tampered", "unknown-key", "count-mismatch", "digest-mismatch", "malformed"
]
KINDS: Final[tuple[Kind, ...]] = (
    "gap",
    "reorder",
    "duplicate",
    "tampered",
    "unknown-key",
    "count-mismatch",
    "digest-mismatch",
    "malformed",
)
UNKNOWN_FLOW: Final = "?"


class Verifier(Protocol):
    """What verification needs of a public key (:class:`hub.transfers.signing.PublicKey` is one)."""

    @property
    def key_id(self) -> str: ...

    def verify(self, data: bytes, signature: str) -> bool: ...


@dataclass(frozen=True)
class LogEntry:
    """One record of the transfer log as read: where it is, and its value."""

    partition: int
    offset: int
    value: bytes | None
    topic: str = "hub.transfers"

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class LandedPartition:
    """The committed data records of one topic partition that one flow writes (target) or reads (source).

    ``records`` are ``(offset, value)`` in offset order, as a read_committed reader returns them.
    """

    flow: str
    topic: str
    partition: int
    records: tuple[tuple[int, bytes | None], ...]

    @property
    def key(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class Problem:
    kind: Kind
    flow: str
    seq: int | None
    what: str

    @property
    def message(self) -> str:
        """One line naming the flow, the seq and what is wrong."""
        at = f" seq {self.seq}" if self.seq is not None else ""
        return f"{self.flow}{at}: {self.kind}: {self.what}"

    def __str__(self) -> str:
        return self.message

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "flow": self.flow, "seq": self.seq, "message": self.message}


@dataclass(frozen=True)
class FlowReport:
    flow: str
    records: int
    """Records of this flow in the log (duplicates included)."""
    last_seq: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "records": self.records,
            "last_seq": self.last_seq,
            "ok": self.ok,
            "problems": [p.as_json() for p in self.problems],
        }


@dataclass(frozen=True)
class Report:
    cluster: str
    flows: tuple[FlowReport, ...]
    malformed: tuple[Problem, ...] = ()
    landed_checked: bool = False

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.malformed + tuple(p for f in self.flows for p in f.problems)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def records(self) -> int:
        """Records checked, every flow."""
        return sum(f.records for f in self.flows)

    def as_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "records": self.records,
            "ok": self.ok,
            "landed_checked": self.landed_checked,
            "flows": [f.as_json() for f in self.flows],
            "malformed": [p.as_json() for p in self.malformed],
        }


@dataclass
class _Flow:
    name: str
    entries: list[tuple[LogEntry, TransferRecord]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, kind: Kind, seq: int | None, what: str) -> None:
        self.problems.append(Problem(kind, self.name, seq, what))


def verify(
    entries: Iterable[LogEntry],
    keys: Mapping[str, Sequence[Verifier]],
    *,
    cluster: str,
    landed: Iterable[LandedPartition] | None = None,
) -> Report:
    """Check the transfer log of ``cluster``; ``keys`` are the public keys of each sending jurisdiction."""
    flows: dict[str, _Flow] = {}
    malformed: list[Problem] = []
    for entry in entries:
        try:
            record = decode(entry.value)
        except TransferLogError as exc:
            malformed.append(Problem("malformed", UNKNOWN_FLOW, None, f"{entry.where}: {exc}"))
            continue
        flows.setdefault(record.flow, _Flow(record.flow)).entries.append((entry, record))
    landed_parts = list(landed) if landed is not None else None
    if landed_parts is not None:
        for part in landed_parts:
            flows.setdefault(part.flow, _Flow(part.flow))
    reports = []
    for name in sorted(flows):
        flow = flows[name]
        unique, forged = _check_chain(flow, keys)
        if landed_parts is not None:
            trusted = [(e, r) for e, r in unique if r.digest not in forged]
            _check_landed(flow, trusted, [p for p in landed_parts if p.flow == name], cluster)
        last = max((r.seq for _, r in flow.entries), default=0)
        reports.append(FlowReport(name, len(flow.entries), last, tuple(flow.problems)))
    return Report(cluster, tuple(reports), tuple(malformed), landed_parts is not None)


def _check_chain(
    flow: _Flow, keys: Mapping[str, Sequence[Verifier]]
) -> tuple[list[tuple[LogEntry, TransferRecord]], set[str]]:
    """Signatures, duplicates, order, gaps and links of one flow.

    Returns the first record of each seq in log order, and the digests of the records whose signature does
    not hold (whose content is not checked against landed data: it cannot be trusted).
    """
    if not flow.entries:
        return [], set()
    source = flow.entries[0][1].transfer.source
    known = {k.key_id: k for k in keys.get(source, ())}
    if not known:
        flow.problem("unknown-key", None, f"no public key of {source}: {len(flow.entries)} signatures not checked")
    bad: set[str] = set()  # digests of records whose signature does not hold
    for entry, record in flow.entries:
        key = known.get(record.key_id)
        if key is None:
            if known:
                flow.problem(
                    "unknown-key",
                    record.seq,
                    f"{entry.where} is signed by key {record.key_id}, not a known key of {source} "
                    f"({', '.join(sorted(known))})",
                )
        elif not key.verify(signed_bytes_of(record), record.signature):
            bad.add(record.digest)
            flow.problem("tampered", record.seq, f"{entry.where}: the signature of key {record.key_id} does not hold")

    unique: list[tuple[LogEntry, TransferRecord]] = []
    first_of: dict[int, tuple[LogEntry, TransferRecord]] = {}
    for entry, record in flow.entries:
        seen = first_of.get(record.seq)
        if seen is None:
            first_of[record.seq] = (entry, record)
            unique.append((entry, record))
        elif seen[1].digest == record.digest:
            flow.problem("duplicate", record.seq, f"{entry.where} repeats the record at {seen[0].where}")
        else:
            flow.problem(
                "duplicate", record.seq, f"{entry.where} is a second, different record with the seq of {seen[0].where}"
            )

    seqs = [r.seq for _, r in unique]
    for index in _out_of_order(seqs):
        entry, record = unique[index]
        flow.problem("reorder", record.seq, f"{entry.where} is out of seq order in the log")

    present = sorted(first_of)
    expected = 1
    for seq in present:
        if seq > expected:
            missing = f"seq {expected}" if seq == expected + 1 else f"seqs {expected}..{seq - 1}"
            after = f"seq {expected - 1} is followed by seq {seq}" if expected > 1 else "the chain starts here"
            flow.problem("gap", seq, f"{missing} missing ({after})")
        expected = seq + 1

    by_digest = {r.digest: r for _, r in flow.entries}
    digests_of: dict[int, set[str]] = defaultdict(set)
    for _, r in flow.entries:
        digests_of[r.seq].add(r.digest)
    for entry, record in unique:
        if record.seq == 1:
            if record.prev_hash != GENESIS:
                flow.problem("tampered", 1, f"{entry.where}: the first record's prev_hash is not the genesis hash")
            continue
        before = first_of.get(record.seq - 1)
        if before is None or before[1].digest in bad:
            continue  # a gap or a broken predecessor, reported already
        if record.prev_hash in digests_of[record.seq - 1]:
            continue
        named = by_digest.get(record.prev_hash)
        if named is not None and named.seq >= record.seq:
            flow.problem("reorder", record.seq, f"{entry.where}: prev_hash points at seq {named.seq}, a later record")
        elif named is not None:
            flow.problem(
                "tampered", record.seq, f"{entry.where}: prev_hash points at seq {named.seq}, not seq {record.seq - 1}"
            )
        else:
            flow.problem("tampered", record.seq, f"{entry.where}: prev_hash is not the digest of seq {record.seq - 1}")
    return unique, bad


def _out_of_order(seqs: Sequence[int]) -> list[int]:
    """Indexes outside one longest strictly increasing subsequence: the fewest records to move."""
    if not seqs:
        return []
    tails: list[int] = []  # tails[k]: index ending the best increasing run of length k+1
    tail_seqs: list[int] = []  # seqs[tails[k]], kept sorted for bisect
    back: list[int] = [-1] * len(seqs)
    for i, seq in enumerate(seqs):
        k = bisect.bisect_left(tail_seqs, seq)
        back[i] = tails[k - 1] if k else -1
        if k == len(tails):
            tails.append(i)
            tail_seqs.append(seq)
        else:
            tails[k] = i
            tail_seqs[k] = seq
    keep: set[int] = set()
    i = tails[-1]
    while i >= 0:
        keep.add(i)
        i = back[i]
    return [i for i in range(len(seqs)) if i not in keep]


def _check_landed(
    flow: _Flow, unique: Sequence[tuple[LogEntry, TransferRecord]], parts: Sequence[LandedPartition], cluster: str
) -> None:
    """Each record against the committed records of its range; committed records no record covers."""
    if not unique and not parts:
        return
    if unique:
        sample = unique[0][1].transfer
        side = "target" if sample.target == cluster else "source" if sample.source == cluster else None
    else:
        side = "target" if flow.name.endswith(f"{FLOW_SEPARATOR}{cluster}") else "source"
    if side is None:
        return
    landed = {p.key: p.records for p in parts}
    covered: dict[tuple[str, int], list[tuple[int, int, int]]] = defaultdict(list)  # (first, last, seq)
    for _, record in unique:
        t = record.transfer
        topic = t.target_topic if side == "target" else t.source_topic
        first, last = (t.target_first, t.target_last) if side == "target" else (t.source_first, t.source_last)
        key = (topic, t.partition)
        found = landed.get(key)
        if found is None:
            flow.problem(
                "count-mismatch", record.seq, f"{side} partition {topic}[{t.partition}] holds no committed record"
            )
            continue
        offsets = [o for o, _ in found]
        lo, hi = bisect.bisect_left(offsets, first), bisect.bisect_right(offsets, last)
        values = [v for _, v in found[lo:hi]]
        where = f"{side} {topic}[{t.partition}] offsets {first}..{last}"
        for other_first, other_last, other_seq in covered[key]:
            if first <= other_last and other_first <= last:
                flow.problem("duplicate", record.seq, f"{where} were covered by seq {other_seq} already")
        covered[key].append((first, last, record.seq))
        if len(values) != t.count:
            flow.problem(
                "count-mismatch", record.seq, f"{where} hold {_records(len(values))}, the record says {t.count}"
            )
            continue
        if any(v is None for v in values):
            flow.problem("digest-mismatch", record.seq, f"{where} hold an empty value (a tombstone)")
            continue
        try:
            digest = payload_digest(v for v in values if v is not None)
        except TransferLogError as exc:
            flow.problem("digest-mismatch", record.seq, f"{where}: {exc}")
            continue
        if digest != t.payload_sha256:
            flow.problem(
                "digest-mismatch",
                record.seq,
                f"{where}: payload digest {digest[:12]}… differs from the record's {t.payload_sha256[:12]}…",
            )

    for part in parts:
        ranges = sorted(covered.get(part.key, []))
        merged = _merge([(first, last) for first, last, _ in ranges])
        starts = [first for first, _ in merged]
        ceiling = merged[-1][1] if merged else -1
        loose = [o for o, _ in part.records if (side == "target" or o <= ceiling) and not _inside(o, merged, starts)]
        if loose:
            before = [seq for first, _, seq in ranges if first < loose[0]]
            flow.problem(
                "count-mismatch",
                max(before) if before else None,
                f"{_records(len(loose))} of {side} {part.topic}[{part.partition}] "
                f"(offsets {_spans(loose)}) {'is' if len(loose) == 1 else 'are'} covered by no transfer record",
            )


def _records(n: int) -> str:
    return f"{n} committed record{'' if n == 1 else 's'}"


def _merge(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted inclusive ranges, overlapping ones joined."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _inside(offset: int, merged: Sequence[tuple[int, int]], starts: Sequence[int]) -> bool:
    i = bisect.bisect_right(starts, offset) - 1
    return i >= 0 and offset <= merged[i][1]


def _spans(offsets: Sequence[int]) -> str:
    out: list[str] = []
    start = prev = offsets[0]
    for o in offsets[1:]:
        if o != prev + 1:
            out.append(f"{start}..{prev}" if start != prev else f"{start}")
            start = o
        prev = o
    out.append(f"{start}..{prev}" if start != prev else f"{start}")
    return ", ".join(out[:5]) + (f", … ({len(out) - 5} more)" if len(out) > 5 else "")


__all__ = ["KINDS", "FlowReport", "Kind", "LandedPartition", "LogEntry", "Problem", "Report", "Verifier", "verify"]
