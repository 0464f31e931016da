from __future__ import annotations

import json

from hub.dlq import DeadLetter, decode_dead_letter


def test_dead_letter_round_trips_and_keeps_original_bytes() -> None:
    dl = DeadLetter.now(
        consumer="gateway",
        stage="decode",
        reason="unknown magic byte 123",
        source_topic="raw.gd.shenzhen-nanshan.case-opened",
        source_partition=0,
        source_offset=42,
        original_key=b"NS-1",
        original_value=b"\xff\x00not avro",
    )
    back = decode_dead_letter(dl.value())
    assert back == dl
    assert dl.key() == b"raw.gd.shenzhen-nanshan.case-opened:0:42"
    doc = json.loads(dl.value())
    assert doc["reason"] == "unknown magic byte 123" and doc["stage"] == "decode"
    assert ("hub.dlq.stage", b"decode") in dl.headers()
