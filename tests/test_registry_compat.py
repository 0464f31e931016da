"""Compatibility levels under Avro schema resolution, and the messages that explain a refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.errors import SchemaRegistryError
from hub.registry import compat
from hub.registry.compat import DEFAULT_LEVEL, Level, check, check_detailed
from hub.schemas import load_schema


def record(*fields: dict[str, Any], name: str = "CaseOpened") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t", "fields": list(fields)})


def f(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


V1 = record(f("case_id", "string"), f("amount", "int"))
V2_OPTIONAL = record(f("case_id", "string"), f("amount", "int"), f("note", ["null", "string"], default=None))
V2_REQUIRED = record(f("case_id", "string"), f("amount", "int"), f("beneficiaries", "int"))
V2_TYPE_CHANGE = record(f("case_id", "string"), f("amount", "string"))
V2_DROPPED = record(f("case_id", "string"))


def test_default_level_is_backward_transitive() -> None:
    assert DEFAULT_LEVEL is Level.BACKWARD_TRANSITIVE


def test_an_optional_field_with_default_is_accepted_under_backward_transitive() -> None:
    v3 = record(
        f("case_id", "string"),
        f("amount", "int"),
        f("note", ["null", "string"], default=None),
        f("tag", "string", default=""),
    )
    assert check(V2_OPTIONAL, [V1], Level.BACKWARD_TRANSITIVE) == []
    assert check(v3, [V1, V2_OPTIONAL], Level.BACKWARD_TRANSITIVE) == []


def test_a_new_required_field_is_refused_naming_the_field_and_the_rule() -> None:
    messages = check(V2_REQUIRED, [V1], Level.BACKWARD_TRANSITIVE)
    assert messages == [
        "reader field 'beneficiaries' has no default and is missing from the writer "
        "(BACKWARD: a new required field needs a default)"
    ]


def test_a_type_change_is_refused_naming_the_field() -> None:
    messages = check(V2_TYPE_CHANGE, [V1], Level.BACKWARD)
    assert len(messages) == 1
    assert messages[0].startswith("field 'amount': type changed from int to string")
    assert "type mismatch" in messages[0] and "BACKWARD" in messages[0]


def test_transitive_levels_compare_with_every_version_and_plain_ones_with_the_latest() -> None:
    v1 = record(f("case_id", "string"), f("x", "int"))
    v2 = record(f("case_id", "string"))  # drops x: a v2 reader ignores it
    v3 = record(f("case_id", "string"), f("x", "string", default=""))  # x is back, as a string
    assert check(v3, [v1, v2], Level.BACKWARD) == []
    messages = check(v3, [v1, v2], Level.BACKWARD_TRANSITIVE)
    assert len(messages) == 1 and messages[0].startswith("field 'x': type changed from int to string")


def test_forward_refuses_removing_a_required_field_and_accepts_adding_one() -> None:
    messages = check(V2_DROPPED, [V1], Level.FORWARD)
    assert messages == [
        "reader field 'amount' of the old schema has no default and is missing from the new schema "
        "(FORWARD: a removed field must have a default in the old schema)"
    ]
    assert check(V2_REQUIRED, [V1], Level.FORWARD) == []
    assert check(V2_DROPPED, [V1], Level.BACKWARD) == []


def test_forward_transitive_compares_with_every_version() -> None:
    v1 = record(f("case_id", "string"), f("x", "int", default=0))
    v2 = record(f("case_id", "string"))
    v3 = record(f("case_id", "string"), f("x", "string", default=""))
    assert check(v3, [v1, v2], Level.FORWARD) == []
    messages = check(v3, [v1, v2], Level.FORWARD_TRANSITIVE)
    assert len(messages) == 1 and "field 'x'" in messages[0] and "FORWARD" in messages[0]


def test_full_needs_both_directions() -> None:
    assert check(V2_OPTIONAL, [V1], Level.FULL) == []
    backward_only = check(V2_REQUIRED, [V1], Level.FULL)
    assert len(backward_only) == 1 and "(BACKWARD:" in backward_only[0]
    forward_only = check(V2_DROPPED, [V1], Level.FULL)
    assert len(forward_only) == 1 and "(FORWARD:" in forward_only[0]
    both = check_detailed(V2_TYPE_CHANGE, [V1], Level.FULL)
    assert {(i.path, i.rule, i.direction) for i in both} == {
        ("amount", "type_mismatch", "BACKWARD"),
        ("amount", "type_mismatch", "FORWARD"),
    }


def test_full_transitive_compares_with_every_version_in_both_directions() -> None:
    v1 = record(f("case_id", "string"), f("x", "int", default=0))
    v2 = record(f("case_id", "string"))
    v3 = record(f("case_id", "string"), f("x", "string", default=""))
    assert check(v3, [v1, v2], Level.FULL) == []
    directions = {i.direction for i in check_detailed(v3, [v1, v2], Level.FULL_TRANSITIVE)}
    assert directions == {"BACKWARD", "FORWARD"}


def test_none_accepts_anything_but_an_invalid_schema() -> None:
    assert check(V2_TYPE_CHANGE, [V1], Level.NONE) == []
    assert check('"string"', [V1], "none") == []
    with pytest.raises(SchemaRegistryError) as info:
        check("{not json", [V1], Level.NONE)
    assert info.value.error_code == 42201


def test_nothing_registered_is_compatible() -> None:
    assert check(V2_REQUIRED, [], Level.FULL_TRANSITIVE) == []


def test_numeric_promotion_reads_backward_but_not_forward() -> None:
    widened = record(f("case_id", "string"), f("amount", "long"))
    assert check(widened, [V1], Level.BACKWARD) == []
    messages = check(widened, [V1], Level.FORWARD)
    assert messages == ["field 'amount': type changed from int to long (FORWARD: type mismatch, int cannot read long)"]


def test_enum_symbols() -> None:
    def with_area(symbols: list[str], default: str | None = None) -> str:
        enum: dict[str, Any] = {"type": "enum", "name": "Area", "symbols": symbols}
        if default:
            enum["default"] = default
        return record(f("case_id", "string"), f("area", enum))

    removed = check(with_area(["ELDERLY"]), [with_area(["ELDERLY", "YOUTH"])], Level.BACKWARD)
    assert len(removed) == 1 and removed[0].startswith("field 'area': enum t.Area lost symbols YOUTH")
    added = check(with_area(["ELDERLY", "YOUTH"]), [with_area(["ELDERLY"])], Level.FORWARD)
    assert len(added) == 1 and added[0].startswith("field 'area': enum t.Area gained symbols YOUTH")
    old_with_default = with_area(["ELDERLY", "OTHER"], default="OTHER")
    assert check(with_area(["ELDERLY", "OTHER", "YOUTH"], "OTHER"), [old_with_default], Level.FULL) == []


def test_unions_and_nested_records_are_named_by_their_path() -> None:
    optional = record(f("case_id", "string"), f("station", ["null", "string"], default=None))
    required = record(f("case_id", "string"), f("station", "string"))
    assert check(optional, [required], Level.BACKWARD) == []
    narrowed = check(required, [optional], Level.BACKWARD)
    assert narrowed == [
        "field 'station': type changed from [null, string] to string (BACKWARD: type mismatch, string cannot read null)"
    ]

    def with_address(city_type: str) -> str:
        address = {"type": "record", "name": "Address", "fields": [f("city", city_type)]}
        return record(f("case_id", "string"), f("address", ["null", address], default=None))

    nested = check(with_address("int"), [with_address("string")], Level.BACKWARD)
    assert nested == [
        "field 'address.city': type changed from string to int (BACKWARD: type mismatch, int cannot read string)"
    ]
    items = check(
        record(f("visits", {"type": "array", "items": "int"})),
        [record(f("visits", {"type": "array", "items": "string"}))],
        Level.BACKWARD,
    )
    assert items == [
        "field 'visits[]': type changed from string to int (BACKWARD: type mismatch, int cannot read string)"
    ]


def test_a_renamed_record_is_refused_unless_aliased() -> None:
    renamed = record(f("case_id", "string"), f("amount", "int"), name="CaseStarted")
    messages = check(renamed, [V1], Level.BACKWARD)
    assert len(messages) == 1 and "record name changed from t.CaseOpened to t.CaseStarted" in messages[0]
    aliased = json.dumps({**json.loads(renamed), "aliases": ["t.CaseOpened"]})
    assert check(aliased, [V1], Level.BACKWARD) == []


def test_the_catalogue_schemas_follow_the_same_rules() -> None:
    doc = load_schema("raw", "DonationReceived")
    current = json.dumps(doc)
    assert check(current, [current], Level.FULL_TRANSITIVE) == []
    extended = {**doc, "fields": [*doc["fields"], f("receipt_no", ["null", "string"], default=None)]}
    assert check(json.dumps(extended), [current], Level.FULL_TRANSITIVE) == []
    without_key = {**doc, "fields": [x for x in doc["fields"] if x["name"] != "donation_id"]}
    messages = check(json.dumps(without_key), [current], Level.FULL)
    assert len(messages) == 1 and "'donation_id'" in messages[0] and "(FORWARD:" in messages[0]


def test_levels_parse_case_insensitively_and_refuse_unknown_ones() -> None:
    assert compat.parse_level("full_transitive") is Level.FULL_TRANSITIVE
    with pytest.raises(SchemaRegistryError) as info:
        compat.parse_level("SIDEWAYS")
    assert info.value.error_code == 42203 and info.value.status == 422
    assert "BACKWARD_TRANSITIVE" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "record", "name": "A", "fields": [{"name": "x", "type": "strin"}]}', "strin"),
        ('{"type": "record", "name": "A", "fields": [{"name": "x", "type": "int", "default": "abc"}]}', "abc"),
        ('{"type": "enum", "name": "E", "symbols": ["A", "A"]}', "Duplicate symbol"),
        ('{"type": "record", "name": "A"}', "fields"),
    ],
)
def test_invalid_avro_is_error_42201_saying_why(text: str, expected: str) -> None:
    with pytest.raises(SchemaRegistryError) as info:
        compat.parse_schema(text)
    assert info.value.error_code == 42201 and info.value.status == 422
    assert expected in str(info.value)


def test_canonical_keeps_content_and_identity_ignores_layout() -> None:
    spaced = '{ "type": "record",\n  "name": "A", "fields": [ {"name": "x", "type": "int"} ] }'
    reordered = '{"fields":[{"type":"int","name":"x"}],"name":"A","type":"record"}'
    assert compat.canonical(spaced) == '{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}'
    assert compat.identity(spaced) == compat.identity(reordered)
    assert compat.identity(spaced) != compat.identity(reordered.replace('"x"', '"y"'))
    assert compat.canonical({"type": "string"}) == '{"type":"string"}'


def test_a_named_type_used_twice_is_reported_at_both_fields_and_recursive_types_end() -> None:
    def two_addresses(city: str) -> str:
        address = {"type": "record", "name": "Address", "fields": [f("city", city)]}
        return record(f("home", address), f("work", "t.Address"))

    messages = check(two_addresses("int"), [two_addresses("string")], Level.BACKWARD)
    assert [m.split(":")[0] for m in messages] == ["field 'home.city'", "field 'work.city'"]

    def linked(value: str) -> str:
        return json.dumps(
            {"type": "record", "name": "Node", "fields": [f("v", value), f("next", ["null", "Node"], default=None)]}
        )

    assert check(linked("string"), [linked("int")], Level.BACKWARD) == [
        "field 'v': type changed from int to string (BACKWARD: type mismatch, string cannot read int)"
    ]


def test_logical_type_change_is_refused_naming_the_field() -> None:
    money = {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}
    v1 = {"type": "record", "name": "D", "fields": [{"name": "amount", "type": money}]}
    v2 = {"type": "record", "name": "D", "fields": [{"name": "amount", "type": "string"}]}
    messages = compat.check(json.dumps(v2), [json.dumps(v1)], compat.Level.BACKWARD_TRANSITIVE)
    assert any("field 'amount': logical type changed from decimal/18/2 to none" in m for m in messages), messages
    assert compat.check(json.dumps(v1), [json.dumps(v1)], compat.Level.FULL_TRANSITIVE) == []
    assert compat.check(json.dumps(v2), [json.dumps(v1)], compat.Level.NONE) == []
