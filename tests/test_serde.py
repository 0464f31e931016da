"""Serializer logic against an in-memory schema source (pure unit tests).

The real registry and broker are exercised in the registry and publisher
tests; here the registry is only a dependency, not the thing under test.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import SerializationError
from hub.serde import AvroDeserializer, AvroSerializer

V1 = {
    "type": "record",
    "name": "Thing",
    "namespace": "t",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}},
    ],
}
V2 = {**V1, "fields": [*V1["fields"], {"name": "note", "type": ["null", "string"], "default": None}]}


class MemorySource:
    """In-memory schema source: ids by schema text, counting look-ups."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.registrations = 0
        self.fetches = 0

    def register(self, subject: str, schema: str | dict[str, Any]) -> int:
        self.registrations += 1
        text = schema if isinstance(schema, str) else json.dumps(schema)
        for sid, known in self.by_id.items():
            if known == text:
                return sid
        sid = len(self.by_id) + 1
        self.by_id[sid] = text
        return sid

    def get_schema(self, schema_id: int) -> str:
        self.fetches += 1
        return self.by_id[schema_id]


def test_round_trip_and_caching() -> None:
    src = MemorySource()
    ser = AvroSerializer(src, V1)
    de = AvroDeserializer(src)
    rec = {"id": "a", "amount": Decimal("12.50")}
    for _ in range(3):
        assert de(ser(rec, "s-value")) == rec
    assert src.registrations == 1 and src.fetches == 1


def test_old_bytes_new_reader_and_new_bytes_old_reader() -> None:
    src = MemorySource()
    old = AvroSerializer(src, V1)({"id": "a", "amount": Decimal("1.00")}, "s-value")
    new = AvroSerializer(src, V2)({"id": "b", "amount": Decimal("2.00"), "note": "x"}, "s-value")
    assert AvroDeserializer(src, reader_schema=V2)(old) == {"id": "a", "amount": Decimal("1.00"), "note": None}
    assert AvroDeserializer(src, reader_schema=V1)(new) == {"id": "b", "amount": Decimal("2.00")}


def test_bad_record_names_the_field() -> None:
    ser = AvroSerializer(MemorySource(), V1)
    with pytest.raises(SerializationError, match="amount"):
        ser({"id": "a", "amount": "not a decimal"}, "s-value")


def test_garbage_body_is_a_serialization_error() -> None:
    src = MemorySource()
    ser = AvroSerializer(src, V1)
    good = ser({"id": "a", "amount": Decimal("1.00")}, "s-value")
    with pytest.raises(SerializationError):
        AvroDeserializer(src)(good[:5] + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")


def test_unknown_schema_id_is_a_serialization_error() -> None:
    class Empty(MemorySource):
        def get_schema(self, schema_id: int) -> str:
            from hub.errors import SchemaRegistryError

            raise SchemaRegistryError(f"Schema {schema_id} not found", error_code=40403, status=404)

    with pytest.raises(SerializationError, match="schema id 7 is unknown"):
        AvroDeserializer(Empty())(b"\x00\x00\x00\x00\x07\x02a")
