"""Bytes that are not a hub record, for the fuzz tests of a raw and a shared topic (pure, no I/O).

A payload is drawn as ``(kind, data)`` and made concrete against a valid encoded record of the
topic with :func:`materialise`: random bytes, the valid record cut short, an empty value, or a
Confluent frame (magic byte 0, a schema id) around garbage.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from hub.wire import frame

Payload = tuple[str, Any]

PAYLOADS: st.SearchStrategy[Payload] = st.one_of(
    st.binary(max_size=160).map(lambda b: ("random", b)),
    st.integers(0, 10_000).map(lambda n: ("truncated", n)),  # a valid record cut after n % len bytes
    st.just(("empty", b"")),
    st.binary(min_size=1, max_size=40).map(lambda b: ("framed", b)),
)


def materialise(payload: Payload, whole: bytes) -> bytes:
    """The bytes of ``payload``, given ``whole``, a valid encoded record of the topic."""
    kind, data = payload
    if kind == "truncated":
        return whole[: data % len(whole)]
    if kind == "framed":
        return frame(int.from_bytes(data[:4].ljust(4, b"\0")) % 1_000_000 + 1, data[4:])
    return bytes(data)
