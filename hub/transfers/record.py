"""One transfer record: what a replicated transaction moved, signed and chained to its predecessor.

Pure: no I/O. Guarantees:

- :func:`encode` is canonical: one byte string per record (JSON, sorted keys, no
  whitespace, ASCII only, versioned ``{"v": 1, ...}``), so a digest of it is
  the same wherever it is computed;
- :func:`decode` accepts exactly what :func:`encode` produces for a well-formed
  record and refuses anything else with a :class:`~hub.errors.TransferLogError`
  naming the field and the rule (unknown or missing fields, wrong types,
  offsets out of order, a malformed hash, key id or signature);
- a :class:`Transfer` or :class:`TransferRecord` that exists is well-formed:
  their constructors apply the same rules;
- :func:`payload_digest` covers the Avro bodies only (after the 5-byte
  Confluent header), each length-prefixed, so the digest of a transaction is
  identical on the source and on the target, where the replicator rewrote the
  schema id; keys and headers are not covered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

from hub.errors import SerializationError, TransferLogError
from hub.wire import unframe

VERSION: Final = 1
GENESIS: Final = "0" * 64
"""The ``prev_hash`` of a flow's first record (seq 1)."""
FLOW_SEPARATOR: Final = "->"
SIGNATURE_BYTES: Final = 64  # Ed25519

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Transfer:
    """What one replicated transaction moved on one partition.

    Offsets are inclusive; with transactions a range also holds control records
    (commit markers), so ``count`` (the data records) may be below the width of
    the range, never above it.
    """

    source: str
    target: str
    source_topic: str
    target_topic: str
    partition: int
    source_first: int
    source_last: int
    target_first: int
    target_last: int
    count: int
    payload_sha256: str
    replicated_at_ms: int
    transactional_id: str

    def __post_init__(self) -> None:
        _check_transfer(self)

    @property
    def flow(self) -> str:
        return flow_of(self.source, self.target)


@dataclass(frozen=True)
class TransferRecord:
    """A :class:`Transfer` at position ``seq`` (1-based) of its flow's chain, signed by ``key_id``."""

    transfer: Transfer
    seq: int
    prev_hash: str
    key_id: str
    signature: str

    def __post_init__(self) -> None:
        _check_int("seq", self.seq, minimum=1)
        _check_hex("prev_hash", self.prev_hash, _HEX64, "64 lowercase hex digits (a SHA-256)")
        _check_hex("key_id", self.key_id, _HEX16, "16 lowercase hex digits")
        _check_signature(self.signature)

    @property
    def flow(self) -> str:
        """``"cn->hk"``: the chain this record belongs to."""
        return self.transfer.flow

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical bytes including the signature: the next record's ``prev_hash``."""
        return hashlib.sha256(encode(self)).hexdigest()


def flow_of(source: str, target: str) -> str:
    return f"{source}{FLOW_SEPARATOR}{target}"


def record_key(flow: str) -> bytes:
    """Kafka key of a flow's records: every record of a flow lands in one partition, in order."""
    return flow.encode("ascii")


def payload_digest(bodies: Iterable[bytes | memoryview]) -> str:
    """SHA-256 (hex) over the Avro bodies of framed values, in order, each prefixed by its length (8 bytes)."""
    h = hashlib.sha256()
    for value in bodies:
        try:
            _, body = unframe(value)
        except SerializationError as exc:
            raise TransferLogError(f"payload: {exc}") from exc
        h.update(len(body).to_bytes(8, "big"))
        h.update(body)
    return h.hexdigest()


def signed_fields(transfer: Transfer, *, seq: int, prev_hash: str, key_id: str) -> dict[str, Any]:
    """Every field of a record but its signature: what the signature covers."""
    return {"v": VERSION, **asdict(transfer), "seq": seq, "prev_hash": prev_hash, "key_id": key_id}


def signed_bytes(transfer: Transfer, *, seq: int, prev_hash: str, key_id: str) -> bytes:
    """The canonical bytes a record's signature is made over."""
    return _canonical(signed_fields(transfer, seq=seq, prev_hash=prev_hash, key_id=key_id))


def signed_bytes_of(record: TransferRecord) -> bytes:
    return signed_bytes(record.transfer, seq=record.seq, prev_hash=record.prev_hash, key_id=record.key_id)


def encode(record: TransferRecord) -> bytes:
    """The canonical bytes of ``record``, signature included (the Kafka value)."""
    doc = signed_fields(record.transfer, seq=record.seq, prev_hash=record.prev_hash, key_id=record.key_id)
    doc["signature"] = record.signature
    return _canonical(doc)


def decode(data: bytes | memoryview | None) -> TransferRecord:
    """The record ``data`` holds; :class:`TransferLogError` naming the field and the rule if it holds none."""
    if data is None:
        raise TransferLogError("record: empty value (a tombstone is not a transfer record)")
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TransferLogError(f"record: not UTF-8 JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise TransferLogError("record: must be a JSON object")
    version = doc.get("v")
    if version != VERSION or isinstance(version, bool):
        raise TransferLogError(f"v: must be {VERSION}, got {version!r}")
    expected = set(_TRANSFER_FIELDS) | {"v", "seq", "prev_hash", "key_id", "signature"}
    unknown = sorted(set(doc) - expected)
    if unknown:
        raise TransferLogError(f"{unknown[0]}: unknown field (version {VERSION} has no such field)")
    missing = sorted(expected - set(doc))
    if missing:
        raise TransferLogError(f"{missing[0]}: required")
    transfer = Transfer(**{name: doc[name] for name in _TRANSFER_FIELDS})
    record = TransferRecord(transfer, doc["seq"], doc["prev_hash"], doc["key_id"], doc["signature"])
    if encode(record) != bytes(data):
        raise TransferLogError("record: not in canonical form (sorted keys, no whitespace, ASCII)")
    return record


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


_TRANSFER_FIELDS: Final = tuple(f.name for f in fields(Transfer))


def _check_transfer(t: Transfer) -> None:
    for name in ("source", "target"):
        value = getattr(t, name)
        if not isinstance(value, str) or not _CODE.fullmatch(value):
            raise TransferLogError(f"{name}: must be a jurisdiction code (lowercase letters, digits, hyphens)")
    if t.source == t.target:
        raise TransferLogError(f"target: must differ from source ({t.source!r})")
    for name in ("source_topic", "target_topic", "transactional_id"):
        value = getattr(t, name)
        if not isinstance(value, str) or not value or not value.isascii() or not value.isprintable():
            raise TransferLogError(f"{name}: must be a non-empty printable ASCII string")
    for name in ("partition", "source_first", "target_first", "replicated_at_ms"):
        _check_int(name, getattr(t, name), minimum=0)
    _check_int("count", t.count, minimum=1)
    for side in ("source", "target"):
        first, last = getattr(t, f"{side}_first"), getattr(t, f"{side}_last")
        _check_int(f"{side}_last", last, minimum=first)
        if t.count > last - first + 1:
            raise TransferLogError(
                f"count: {t.count} records do not fit in {side} offsets {first}..{last} ({last - first + 1})"
            )
    _check_hex("payload_sha256", t.payload_sha256, _HEX64, "64 lowercase hex digits (a SHA-256)")


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TransferLogError(f"{name}: must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise TransferLogError(f"{name}: must be at least {minimum}, got {value}")


def _check_hex(name: str, value: object, pattern: re.Pattern[str], rule: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise TransferLogError(f"{name}: must be {rule}")


def _check_signature(value: object) -> None:
    if not isinstance(value, str):
        raise TransferLogError("signature: must be a base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise TransferLogError(f"signature: must be base64 ({exc})") from exc
    if len(raw) != SIGNATURE_BYTES or base64.b64encode(raw).decode("ascii") != value:
        raise TransferLogError(f"signature: must be the canonical base64 of {SIGNATURE_BYTES} bytes (Ed25519)")


__all__ = [
    "FLOW_SEPARATOR",
    "GENESIS",
    "VERSION",
    "Transfer",
    "TransferRecord",
    "decode",
    "encode",
    "flow_of",
    "payload_digest",
    "record_key",
    "signed_bytes",
    "signed_bytes_of",
]
