from __future__ import annotations

import pytest

from hub.errors import SerializationError
from hub.wire import frame, unframe


def test_frame_layout_is_confluent() -> None:
    data = frame(258, b"body")
    assert data[:5] == b"\x00\x00\x00\x01\x02"
    sid, body = unframe(data)
    assert sid == 258 and bytes(body) == b"body"


def test_short_and_foreign_messages_are_refused() -> None:
    with pytest.raises(SerializationError, match="shorter than the 5-byte"):
        unframe(b"\x00\x00")
    with pytest.raises(SerializationError, match="unknown magic byte 123"):
        unframe(b'{"json": 1}')
    with pytest.raises(SerializationError, match="unknown magic byte 222 "):  # the byte as it is, unsigned
        unframe(b"\xde\x00\x00\x00\x01body")


def test_schema_id_must_fit_in_four_bytes() -> None:
    with pytest.raises(SerializationError, match="does not fit"):
        frame(2**32, b"")
