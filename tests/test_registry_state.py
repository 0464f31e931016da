"""The registry's pure state: ids, versions, deletes, levels, and rebuilding it from records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.errors import IncompatibleSchemaError, SchemaRegistryError
from hub.registry.compat import Level
from hub.registry.state import LATEST, Record, RegistryState, decode_record, parse_version


def schema(*fields: str, name: str = "A") -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": n, "type": "string"} for n in fields]})


def optional(base: str, field: str) -> str:
    doc = json.loads(base)
    doc["fields"].append({"name": field, "type": ["null", "string"], "default": None})
    return json.dumps(doc)


class Log:
    """A state plus every record it applied, standing in for the topic."""

    def __init__(self) -> None:
        self.state = RegistryState()
        self.records: list[Record] = []

    def write(self, records: list[Record]) -> None:
        for r in records:
            self.records.append(r)
            self.state.apply(r)

    def register(self, subject: str, text: str) -> tuple[int, int]:
        plan = self.state.plan_register(subject, text)
        self.write(plan.records)
        return plan.id, plan.version

    def replay(self, *, compacted: bool = False) -> RegistryState:
        records = self.records
        if compacted:  # what log compaction leaves: the last record per key, tombstones gone
            last: dict[bytes, Record] = {}
            for r in records:
                last.pop(r.key_bytes(), None)
                last[r.key_bytes()] = r
            records = [r for r in last.values() if r.value is not None]
        fresh = RegistryState()
        for r in records:
            fresh.apply(decode_record(r.key_bytes(), r.value_bytes()))
        return fresh


def snapshot(state: RegistryState) -> dict[str, Any]:
    subjects = state.subjects(include_deleted=True)
    return {
        "subjects": subjects,
        "versions": {
            s: [
                (sv.version, sv.id, sv.deleted)
                for sv in (
                    state.get_version(s, v, include_deleted=True) for v in state.versions(s, include_deleted=True)
                )
            ]
            for s in subjects
        },
        "global": state.global_level(),
        "levels": {s: state.subject_level(s) for s in subjects},
        "max_id": state.max_id,
    }


def test_ids_are_global_and_versions_per_subject() -> None:
    log = Log()
    assert log.register("a-value", schema("x")) == (1, 1)
    assert log.register("a-value", optional(schema("x"), "y")) == (2, 2)
    assert log.register("b-value", schema("z", name="B")) == (3, 1)
    assert log.state.subjects() == ["a-value", "b-value"]
    assert log.state.versions("a-value") == [1, 2]
    assert log.state.get_version("a-value", LATEST).id == 2


def test_the_same_schema_reuses_its_id_and_an_identical_registration_writes_nothing() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    spaced = json.dumps(json.loads(schema("x")), indent=2)
    again = log.state.plan_register("a-value", spaced)
    assert (again.id, again.version, again.records) == (1, 1, [])
    assert log.register("other-value", schema("x")) == (1, 1)
    assert [(sv.subject, sv.version) for sv in log.state.usages(1)] == [("a-value", 1), ("other-value", 1)]


def test_an_incompatible_schema_is_refused_with_the_field_and_nothing_is_planned() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    with pytest.raises(IncompatibleSchemaError) as info:
        log.state.plan_register("a-value", schema("x", "beneficiaries"))
    assert info.value.error_code == 409 and info.value.status == 409
    assert "'beneficiaries'" in str(info.value) and "needs a default" in str(info.value)
    assert log.state.versions("a-value") == [1]


def test_levels_global_and_per_subject() -> None:
    log = Log()
    assert log.state.global_level() is Level.BACKWARD_TRANSITIVE
    log.register("a-value", schema("x"))
    level, records = log.state.plan_set_level("none", "a-value")
    log.write(records)
    assert level is Level.NONE and log.state.effective_level("a-value") is Level.NONE
    assert log.register("a-value", schema("x", "beneficiaries")) == (2, 2)
    previous, records = log.state.plan_delete_level("a-value")
    log.write(records)
    assert previous is Level.NONE and log.state.subject_level("a-value") is None
    log.write(log.state.plan_set_level(Level.FULL)[1])
    assert log.state.effective_level("a-value") is Level.FULL
    with pytest.raises(SchemaRegistryError) as info:
        log.state.plan_set_level("SIDEWAYS")
    assert info.value.error_code == 42203
    with pytest.raises(SchemaRegistryError) as missing:
        log.state.plan_delete_level("b-value")
    assert missing.value.error_code == 40408


def test_lookups_and_their_errors() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    assert log.state.lookup("a-value", schema("x")).version == 1
    cases: list[tuple[int, Any]] = [
        (40401, lambda: log.state.versions("nope")),
        (40401, lambda: log.state.lookup("nope", schema("x"))),
        (40402, lambda: log.state.get_version("a-value", 7)),
        (40403, lambda: log.state.get_schema(99)),
        (40403, lambda: log.state.lookup("a-value", schema("y"))),
        (42201, lambda: log.state.lookup("a-value", "{")),
        (42202, lambda: parse_version("0")),
        (42202, lambda: parse_version("first")),
    ]
    for code, call in cases:
        with pytest.raises(SchemaRegistryError) as info:
            call()
        assert info.value.error_code == code, (code, str(info.value))
    assert parse_version("latest") == LATEST and parse_version(-1) == LATEST and parse_version("3") == 3


def test_check_compares_with_latest_a_version_or_all_the_level_asks_for() -> None:
    log = Log()
    v1 = json.dumps({"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]})
    v2 = json.dumps({"type": "record", "name": "A", "fields": [{"name": "k", "type": "string", "default": ""}]})
    v3 = json.dumps({"type": "record", "name": "A", "fields": [{"name": "x", "type": "string", "default": ""}]})
    log.register("a-value", v1)
    log.register("a-value", v2)
    assert log.state.check("a-value", v3, LATEST) == []
    assert log.state.check("a-value", v3, 2) == []
    assert "field 'x'" in log.state.check("a-value", v3, 1)[0]
    assert "field 'x'" in log.state.check("a-value", v3, None)[0]  # BACKWARD_TRANSITIVE: every version
    assert log.state.check("new-value", v3, None) == []


def test_soft_delete_hides_and_permanent_delete_removes() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    log.register("a-value", optional(schema("x"), "y"))
    with pytest.raises(SchemaRegistryError) as not_soft:
        log.state.plan_delete_subject("a-value", permanent=True)
    assert not_soft.value.error_code == 40405
    plan = log.state.plan_delete_subject("a-value")
    log.write(plan.records)
    assert plan.versions == [1, 2]
    assert log.state.subjects() == [] and log.state.subjects(include_deleted=True) == ["a-value"]
    assert log.state.get_version("a-value", 2, include_deleted=True).deleted
    assert log.state.get_schema(1) == json.dumps(json.loads(schema("x")), separators=(",", ":"))
    with pytest.raises(SchemaRegistryError) as again:
        log.state.plan_delete_subject("a-value")
    assert again.value.error_code == 40404
    # registering after a soft delete continues the numbering and reuses the id
    assert log.register("a-value", schema("x")) == (1, 3)
    log.write(log.state.plan_delete_subject("a-value").records)
    plan = log.state.plan_delete_subject("a-value", permanent=True)
    log.write(plan.records)
    assert plan.versions == [1, 2, 3]
    assert log.state.subjects(include_deleted=True) == []
    with pytest.raises(SchemaRegistryError):
        log.state.get_schema(2)


def test_deleting_one_version() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    log.register("a-value", optional(schema("x"), "y"))
    log.write(log.state.plan_delete_version("a-value", LATEST).records)
    assert log.state.versions("a-value") == [1]
    with pytest.raises(SchemaRegistryError) as info:
        log.state.plan_delete_version("a-value", 1, permanent=True)
    assert info.value.error_code == 40407
    log.write(log.state.plan_delete_version("a-value", 2, permanent=True).records)
    assert log.state.versions("a-value", include_deleted=True) == [1]


def test_replaying_the_records_rebuilds_the_same_state_even_after_compaction() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    log.register("a-value", optional(schema("x"), "y"))
    log.register("b-value", schema("z", name="B"))
    log.register("c-value", schema("z", name="B"))
    log.write(log.state.plan_set_level(Level.FULL, "b-value")[1])
    log.write(log.state.plan_set_level(Level.FORWARD)[1])
    log.write(log.state.plan_delete_subject("c-value").records)
    expected = snapshot(log.state)
    assert snapshot(log.replay()) == expected
    assert snapshot(log.replay(compacted=True)) == expected


def test_ids_stay_monotonic_after_a_permanent_delete_is_compacted() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    log.register("b-value", schema("y", name="B"))  # id 2, the highest
    log.write(log.state.plan_delete_subject("b-value").records)
    log.write(log.state.plan_delete_subject("b-value", permanent=True).records)
    rebuilt = log.replay(compacted=True)
    with pytest.raises(SchemaRegistryError):
        rebuilt.get_schema(2)
    assert rebuilt.plan_register("c-value", schema("w", name="C")).id == 3


def test_confluent_delete_subject_markers_are_understood() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    log.state.apply(
        Record({"keytype": "DELETE_SUBJECT", "subject": "a-value", "magic": 0}, {"subject": "a-value", "version": 1})
    )
    log.state.apply(Record({"keytype": "NOOP", "magic": 0}, None))
    assert log.state.subjects() == [] and log.state.get_version("a-value", 1, include_deleted=True).deleted


def test_record_format_is_confluents() -> None:
    log = Log()
    log.register("a-value", schema("x"))
    log.write(log.state.plan_set_level(Level.NONE)[1])
    first, config = log.records
    assert json.loads(first.key_bytes()) == {"keytype": "SCHEMA", "subject": "a-value", "version": 1, "magic": 1}
    assert json.loads(first.value_bytes() or b"") == {
        "subject": "a-value",
        "version": 1,
        "id": 1,
        "schema": json.dumps(json.loads(schema("x")), separators=(",", ":")),
        "deleted": False,
    }
    assert json.loads(config.key_bytes()) == {"keytype": "CONFIG", "subject": None, "magic": 0}
    assert json.loads(config.value_bytes() or b"") == {"compatibilityLevel": "NONE"}


@pytest.mark.parametrize(
    ("key", "value"), [(b"not json", b"{}"), (b'{"subject": "a"}', b"{}"), (b'{"keytype": "SCHEMA"}', b"[1]")]
)
def test_undecodable_records_are_store_errors(key: bytes, value: bytes) -> None:
    with pytest.raises(SchemaRegistryError) as info:
        decode_record(key, value)
    assert info.value.error_code == 50001
