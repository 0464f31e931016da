"""Appending to a flow's hash chain. Pure: no I/O.

Guarantees: :func:`append` gives the record at ``head.seq + 1`` whose
``prev_hash`` is ``head.hash`` (:data:`~hub.transfers.record.GENESIS` for the
first), signed over the canonical bytes of every field but the signature
(``seq``, ``prev_hash`` and ``key_id`` included), and the new head, whose hash
is the record's :attr:`~hub.transfers.record.TransferRecord.digest`. A head is
a value: a replicator keeps it with its other state and resumes from the last
record it finds in ``hub.transfers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.transfers.record import GENESIS, Transfer, TransferRecord, signed_bytes


class Signer(Protocol):
    """What :func:`append` needs of a key (:class:`hub.transfers.signing.SigningKey` is one)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> str: ...


@dataclass(frozen=True)
class ChainHead:
    """The last record of a flow's chain: its seq and digest."""

    seq: int
    hash: str

    @classmethod
    def start(cls) -> ChainHead:
        """The head of an empty chain."""
        return cls(0, GENESIS)

    @classmethod
    def of(cls, record: TransferRecord) -> ChainHead:
        """The head after ``record`` (to resume a chain from the last record in the log)."""
        return cls(record.seq, record.digest)


def append(head: ChainHead, transfer: Transfer, key: Signer) -> tuple[TransferRecord, ChainHead]:
    """The signed record that follows ``head``, and the head after it."""
    seq = head.seq + 1
    key_id = key.key_id
    signature = key.sign(signed_bytes(transfer, seq=seq, prev_hash=head.hash, key_id=key_id))
    record = TransferRecord(transfer, seq, head.hash, key_id, signature)
    return record, ChainHead.of(record)


__all__ = ["ChainHead", "Signer", "append"]
