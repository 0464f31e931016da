"""What the crossing's per-schema and per-batch shortcuts must leave unchanged: the bytes and the records (pure).

The crossing encodes an audit record's outcome fields once per distinct outcome,
decodes a writer schema that is the reader schema without resolution, and takes
one clock reading per batch. Each is held here to the plain way's answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

from hub import naming
from hub.gateway.crossing import Border, Crossed, _audit_body, _audit_parsed, output_schemas
from hub.schemas import event_types, load_schema, schema_text
from hub.serde import AvroDeserializer, AvroSerializer, encode_body
from hub.validation import validate_event
from tests.factories import valid_event_doc
from tests.test_gateway_crossing import HK, JS, KEY, Harness, MemorySchemas

EVERY_TYPE_AND_REGION = [(t, env) for t in event_types("raw") for env in ({}, HK, JS)]


def test_an_audit_body_is_byte_for_byte_the_whole_records_encoding() -> None:
    harness = Harness()
    for event_type, envelope in EVERY_TYPE_AND_REGION:
        out = harness.cross(valid_event_doc(event_type, **envelope))
        assert isinstance(out, Crossed), getattr(out, "reason", out)
        record = harness.decode(out.audit.value)
        assert _audit_body(record) == encode_body(_audit_parsed(), record)
        assert out.audit.value[5:] == encode_body(_audit_parsed(), record)
        # a second event with the same outcome reuses the cached half, and still encodes its own head
        later = {**record, "event_id": "another", "source_offset": record["source_offset"] + 1}
        assert _audit_body(later) == encode_body(_audit_parsed(), later)


def test_a_batch_takes_one_clock_reading_for_its_audit_records() -> None:
    ticks = count()
    start = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    harness = Harness()
    ids = {s: harness.schemas.register(s, t) for s, t in output_schemas(harness.agreements.values()).items()}
    border = Border(
        harness.agreements,
        dict.fromkeys(harness.agreements, KEY),
        {et: AvroDeserializer(harness.schemas, schema_text("raw", et)) for et in event_types("raw")},
        ids,
        clock=lambda: start + timedelta(seconds=next(ticks)),
    )
    records = [harness.raw(valid_event_doc("CaseOpened")) for _ in range(3)]
    stamps = [
        [harness.decode(o.audit.value)["crossed_at"] for o in border.cross_batch(records) if isinstance(o, Crossed)]
        for _ in range(2)
    ]
    assert stamps == [[start] * 3, [start + timedelta(seconds=1)] * 3]
    single = border.cross(records[0])  # one record on its own reads the clock itself
    assert isinstance(single, Crossed)
    assert harness.decode(single.audit.value)["crossed_at"] == start + timedelta(seconds=2)


def test_a_writer_schema_that_is_the_reader_decodes_as_with_resolution() -> None:
    schemas = MemorySchemas()
    event = validate_event(valid_event_doc("VisitMade"))
    topic = naming.raw_topic(event.region, event.district, event.event_type)
    same = AvroSerializer(schemas, schema_text("raw", "VisitMade"))(event.record, naming.subject_for(topic))
    # the same schema written out differently (spaces, key order kept): the same document, so no resolution either
    spaced = AvroSerializer(schemas, json.dumps(load_schema("raw", "VisitMade"), indent=1))(
        event.record, naming.subject_for(topic)
    )
    decoder = AvroDeserializer(schemas, schema_text("raw", "VisitMade"))
    resolving = AvroDeserializer(schemas, schema_text("raw", "VisitMade"))
    resolving._readers = _AlwaysResolve(resolving)  # type: ignore[assignment]
    for value in (same, spaced):
        assert decoder(value) == resolving(value) == event.record


def test_another_writer_schema_is_still_resolved_to_the_reader() -> None:
    schemas = MemorySchemas()
    event = validate_event(valid_event_doc("VisitMade"))
    older = load_schema("raw", "VisitMade")
    older["fields"] = [f for f in older["fields"] if f["name"] != "station"]  # a writer without an optional field
    record = {k: v for k, v in event.record.items() if k != "station"}
    value = AvroSerializer(schemas, older)(record, "raw.gd.shenzhen-nanshan.visit-made-value")
    decoded = AvroDeserializer(schemas, schema_text("raw", "VisitMade"))(value)
    assert decoded == {**record, "station": None}
    assert set(decoded) == {f["name"] for f in load_schema("raw", "VisitMade")["fields"]}


class _AlwaysResolve(dict[int, object]):
    """A reader table that always answers the reader schema (resolution forced), for comparison."""

    def __init__(self, decoder: AvroDeserializer) -> None:
        super().__init__()
        self._decoder = decoder

    def __getitem__(self, _: int) -> object:
        return self._decoder._reader

    def __setitem__(self, key: int, value: object) -> None:
        pass
