"""Edge validation of the JSON ingest form: good events, a corpus of bad ones, round trips."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.catalogue import EVENT_TYPES, RAW_KEY_FIELD
from hub.errors import SerializationError, ValidationError
from hub.schemas import parsed_schema, record_fields
from hub.validation import (
    ValidatedEvent,
    to_json_form,
    validate_event,
    validate_many,
)
from tests.bad_inputs import BAD
from tests.factories import DROP, event_records, valid_event_doc


def rejection(doc: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_event(doc)
    return info.value


# -- good events ------------------------------------------------------------------
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_factory_events_of_every_type_pass(event_type: str) -> None:
    doc = valid_event_doc(event_type)
    event = validate_event(doc)
    assert event.event_type == event_type
    assert list(event.record) == list(record_fields("raw", event_type))
    assert event.key == doc[RAW_KEY_FIELD[event_type]]
    assert (event.event_id, event.region, event.district) == (doc["event_id"], "GD", "shenzhen-nanshan")
    assert event.record["occurred_at"] == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def test_record_holds_avro_ready_values() -> None:
    event = validate_event(valid_event_doc("DonationReceived", amount="1250.5", currency="HKD"))
    assert event.record["amount"] == Decimal("1250.50")
    assert event.record["amount"].as_tuple().exponent == -2
    assert event.record["occurred_at"].tzinfo is UTC
    evaluation = validate_event(valid_event_doc("ProjectEvaluated")).record
    assert (evaluation["period_start"], evaluation["period_end"]) == (date(2025, 1, 1), date(2025, 12, 31))
    assert evaluation["evaluator_ids"] == ["EXP-003", "EXP-017", "EXP-029"]


def test_absent_optional_fields_take_their_defaults() -> None:
    doc = valid_event_doc("VisitMade", station=DROP, volunteer_count=DROP, notes=DROP)
    record = validate_event(doc).record
    assert (record["station"], record["volunteer_count"], record["notes"]) == (None, 0, None)
    record = validate_event(valid_event_doc("CaseOpened", client_birth_year=None, client_name=DROP)).record
    assert (record["client_birth_year"], record["client_name"]) == (None, None)


def test_timestamps_are_converted_to_utc_milliseconds() -> None:
    record = validate_event(valid_event_doc("CaseClosed", occurred_at="2026-03-02T09:30:15.123987+08:00")).record
    assert record["occurred_at"] == datetime(2026, 3, 2, 1, 30, 15, 123000, tzinfo=UTC)
    record = validate_event(valid_event_doc("CaseClosed", occurred_at="2026-03-02T01:30:00Z")).record
    assert record["occurred_at"] == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def test_event_id_is_normalised_to_lowercase() -> None:
    event = validate_event(valid_event_doc("CaseClosed", event_id="0B8E6F2A-3C4D-4E5F-8A9B-0C1D2E3F4A5B"))
    assert event.event_id == "0b8e6f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


def test_stations_are_free_where_the_district_lists_none() -> None:
    doc = valid_event_doc("VisitMade", region="JS", district="yancheng-tinghu", station="th-wenfeng")
    assert validate_event(doc).record["station"] == "th-wenfeng"
    doc = valid_event_doc("VisitMade", region="HK", district="hk-sham-shui-po", station=None)
    assert validate_event(doc).region == "HK"


def test_python_values_are_accepted_like_their_json_strings() -> None:
    doc = valid_event_doc(
        "ProjectFunded", occurred_at=datetime(2026, 3, 2, 1, 30, tzinfo=UTC), amount=Decimal("150000.00")
    )
    assert (
        validate_event(doc).record == validate_event(valid_event_doc("ProjectFunded", event_id=doc["event_id"])).record
    )


def test_validated_event_is_frozen() -> None:
    event = validate_event(valid_event_doc("WorkerCertified"))
    with pytest.raises(FrozenInstanceError):
        event.key = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("event_type", "overrides", "field", "rule"), BAD, ids=[f"{b[2]}-{i}" for i, b in enumerate(BAD)]
)
def test_bad_input_names_field_and_rule(event_type: str, overrides: dict[str, Any], field: str, rule: str) -> None:
    error = rejection(valid_event_doc(event_type, **overrides))
    assert [f for f, _ in error.errors] == [field], error.errors
    assert rule in error.errors[0][1]
    assert f"{field}: " in str(error)


def test_corpus_is_large_and_distinct() -> None:
    assert len(BAD) >= 25
    assert len({json.dumps(b[1], sort_keys=True, default=repr) + b[0] for b in BAD}) == len(BAD)


def test_missing_type() -> None:
    doc = valid_event_doc("CaseOpened", type=DROP)
    error = rejection(doc)
    assert error.errors[0][0] == "type"
    assert "type: is required; expected one of CaseOpened, VisitMade" in str(error)


def test_unknown_type() -> None:
    error = rejection(valid_event_doc("CaseOpened", type="CaseReopened"))
    assert str(error).startswith("type: unknown event type 'CaseReopened'; expected one of CaseOpened")


def test_type_of_wrong_json_type() -> None:
    assert "type: must be a string naming the event type, not array" in str(
        rejection(valid_event_doc("CaseOpened", type=["CaseOpened"]))
    )


def test_non_object_event() -> None:
    assert str(rejection(["CaseOpened"])) == "event: must be a JSON object, not array"


def test_all_errors_of_one_event_are_collected() -> None:
    doc = valid_event_doc(
        "DonationReceived", amount="-1", currency="USD", donation_id="", region="MO", station=None, color="red"
    )
    fields = [f for f, _ in rejection(doc).errors]
    assert sorted(fields) == sorted(["amount", "currency", "donation_id", "district", "color"])


def test_event_rules_still_run_beside_field_errors() -> None:
    doc = valid_event_doc("ProjectEvaluated", score_overall=500, period_start="2026-01-01", station="ns-elsewhere")
    fields = {f for f, _ in rejection(doc).errors}
    assert fields == {"score_overall", "period_end", "station"}


def test_validate_many_keeps_good_events_beside_bad_ones() -> None:
    docs: list[Any] = [
        valid_event_doc("CaseOpened"),
        valid_event_doc("VisitMade", duration_minutes=0),
        "not an event",
        valid_event_doc("DonationReceived"),
        {"type": "Nope"},
    ]
    results = validate_many(docs)
    assert [type(r).__name__ for r in results] == [
        "ValidatedEvent",
        "ValidationError",
        "ValidationError",
        "ValidatedEvent",
        "ValidationError",
    ]
    first, fourth = results[0], results[3]
    assert isinstance(first, ValidatedEvent) and first.event_id == docs[0]["event_id"]
    assert isinstance(fourth, ValidatedEvent) and fourth.event_type == "DonationReceived"
    assert isinstance(results[1], ValidationError) and results[1].errors[0][0] == "duration_minutes"


# -- the JSON form -------------------------------------------------------------------
def test_to_json_form_renders_strings() -> None:
    funded = validate_event(valid_event_doc("ProjectFunded", amount="1250", occurred_at="2026-03-02T09:30:00+08:00"))
    doc = to_json_form("ProjectFunded", funded.record)
    assert doc["type"] == "ProjectFunded"
    assert doc["amount"] == "1250.00"
    assert doc["occurred_at"] == "2026-03-02T01:30:00.000+00:00"
    evaluated = to_json_form("ProjectEvaluated", validate_event(valid_event_doc("ProjectEvaluated")).record)
    assert (evaluated["period_start"], evaluated["period_end"]) == ("2025-01-01", "2025-12-31")
    assert list(evaluated) == ["type", *record_fields("raw", "ProjectEvaluated")]


def test_to_json_form_fills_defaults_and_refuses_strangers() -> None:
    record = validate_event(valid_event_doc("VisitMade")).record
    del record["volunteer_count"], record["notes"]
    doc = to_json_form("VisitMade", record)
    assert (doc["volunteer_count"], doc["notes"]) == (0, None)
    with pytest.raises(SerializationError, match="does not know: client_name"):
        to_json_form("VisitMade", {**record, "client_name": "x"})
    del record["case_id"]
    with pytest.raises(SerializationError, match="lacks required field 'case_id'"):
        to_json_form("VisitMade", record)
    with pytest.raises(SerializationError, match="occurred_at: cannot render"):
        to_json_form("VisitMade", {**record, "case_id": "C", "occurred_at": datetime(2026, 1, 1)})


def test_to_json_form_of_a_shared_record() -> None:
    shared = {
        "event_id": "0b8e6f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "occurred_at": datetime(2026, 3, 2, 1, 30, tzinfo=UTC),
        "region": "HK",
        "district": "hk-sham-shui-po",
        "worker_ref": "5f1c",
        "level": "SENIOR",
    }
    assert to_json_form("WorkerCertified", shared, form="shared") == {
        "type": "WorkerCertified",
        **shared,
        "occurred_at": "2026-03-02T01:30:00.000+00:00",
        "station": None,
    }


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip_through_json_and_avro(event_type: str, data: st.DataObject) -> None:
    record = data.draw(event_records(event_type))
    wire = json.loads(json.dumps(to_json_form(event_type, record), ensure_ascii=False))
    assert validate_event(wire).record == record
    schema = parsed_schema("raw", event_type)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, schema, None) == record


def test_contract_modules_are_pure() -> None:
    code = (
        "import sys, hub.schemas, hub.models, hub.validation\n"
        "bad = {'kafka', 'aiokafka', 'faust', 'sqlalchemy', 'fastapi', 'uvicorn', 'httpx'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
