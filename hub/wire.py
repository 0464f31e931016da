"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body.

Pure framing; knows nothing about Avro or the registry.
"""

from __future__ import annotations

import struct
from typing import Final

from hub.errors import SerializationError

MAGIC: Final = 0
HEADER: Final = struct.Struct(">BI")  # the magic byte unsigned: a dead letter names 222, not -34
HEADER_SIZE: Final = HEADER.size  # 5


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the magic byte and its schema id."""
    if not 0 <= schema_id <= 0xFFFFFFFF:
        raise SerializationError(f"schema id {schema_id} does not fit in 4 bytes")
    return HEADER.pack(MAGIC, schema_id) + body


def unframe(data: bytes | memoryview) -> tuple[int, memoryview]:
    """Split framed bytes into (schema id, Avro body) without copying the body."""
    view = memoryview(data)
    if len(view) < HEADER_SIZE:
        raise SerializationError(f"message of {len(view)} bytes is shorter than the 5-byte Confluent header")
    magic, schema_id = HEADER.unpack_from(view)
    if magic != MAGIC:
        raise SerializationError(f"unknown magic byte {magic} (expected 0: not Confluent wire format)")
    return int(schema_id), view[HEADER_SIZE:]
