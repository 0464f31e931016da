"""validate_record (a decoded Avro record, validated as it is) against the JSON-form path it replaces in the gateway.

The gateway validates what fastavro decoded from a raw topic without rendering it
to the JSON form first. These tests hold it to the same answers as
``validate_event(to_json_form(...))``: the same validated record for good
events, the same fields named for bad ones, whatever Avro can carry.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.catalogue import EVENT_TYPES
from hub.errors import SerializationError, ValidationError
from hub.models import MAX_ID_LENGTH
from hub.schemas import load_schema, parsed_schema
from hub.validation import to_json_form, validate_event, validate_record
from tests.factories import event_records, valid_event_doc


def through_avro(event_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as the gateway sees it: encoded with the raw schema and decoded again."""
    schema = parsed_schema("raw", event_type)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    buf.seek(0)
    out = fastavro.schemaless_reader(buf, schema, None)
    assert isinstance(out, dict)
    return out


def outcome(fn: Any, *args: Any) -> Any:
    """The validated record, or the fields an error names."""
    try:
        return fn(*args).record
    except ValidationError as exc:
        return ("invalid", sorted({f for f, _ in exc.errors}))
    except SerializationError:
        return ("unrenderable",)


def json_path(event_type: str, record: dict[str, Any]) -> Any:
    return validate_event(to_json_form(event_type, record))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_decoded_record_validates_as_its_json_form_does(event_type: str, data: st.DataObject) -> None:
    record = through_avro(event_type, data.draw(event_records(event_type)))
    assert validate_record(event_type, record).record == json_path(event_type, record).record


def record_of(event_type: str, **overrides: Any) -> dict[str, Any]:
    return through_avro(event_type, {**validate_event(valid_event_doc(event_type)).record, **overrides})


#: Values Avro carries but the edge rules refuse: each must be refused alike on both paths, naming the same field.
AVRO_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("VisitMade", {"duration_minutes": 0}, "duration_minutes"),
    ("VisitMade", {"duration_minutes": 2000}, "duration_minutes"),
    ("CaseOpened", {"event_id": "not-a-uuid"}, "event_id"),
    ("CaseOpened", {"case_id": ""}, "case_id"),
    ("CaseOpened", {"case_id": "   "}, "case_id"),
    ("CaseOpened", {"case_id": "x" * (MAX_ID_LENGTH + 1)}, "case_id"),
    ("CaseOpened", {"district": "atlantis"}, "district"),
    ("CaseOpened", {"region": "HK"}, "district"),
    ("CaseOpened", {"station": "no-such-station"}, "station"),
    ("CaseOpened", {"occurred_at": datetime(2150, 1, 1, tzinfo=UTC)}, "occurred_at"),
    ("CaseOpened", {"occurred_at": datetime(1960, 1, 1, tzinfo=UTC)}, "occurred_at"),
    ("DonationReceived", {"amount": Decimal("0.00")}, "amount"),
    ("DonationReceived", {"amount": Decimal("-5.00")}, "amount"),
    ("DonationReceived", {"currency": "EUR"}, "currency"),
    ("ProjectEvaluated", {"evaluator_ids": []}, "evaluator_ids"),
    ("ProjectEvaluated", {"score_overall": 101}, "score_overall"),
]


@pytest.mark.parametrize(("event_type", "overrides", "field"), AVRO_BAD, ids=[b[2] for b in AVRO_BAD])
def test_bad_values_avro_can_carry_are_refused_alike(event_type: str, overrides: dict[str, Any], field: str) -> None:
    record = record_of(event_type, **overrides)
    direct = outcome(validate_record, event_type, record)
    assert direct == ("invalid", [field])
    assert outcome(json_path, event_type, record) == direct


@pytest.mark.parametrize("amount", ["12345678901234567.00", "1" + "0" * 40 + ".00"])
def test_an_amount_beyond_the_schemas_precision_is_refused_alike(amount: str) -> None:
    # a producer writing with a wider decimal than decimal(18, 2): fastavro's reader rounds it to 18 digits
    wide = load_schema("raw", "DonationReceived")
    for spec in wide["fields"]:
        if spec["name"] == "amount":
            spec["type"]["precision"] = 60
    record = {**validate_event(valid_event_doc("DonationReceived")).record, "amount": Decimal(amount)}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(wide), record)
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, parsed_schema("raw", "DonationReceived"), None)
    assert isinstance(decoded, dict)
    assert outcome(validate_record, "DonationReceived", decoded) == ("invalid", ["amount"])


def test_an_amount_beyond_the_decimal_context_is_a_validation_error() -> None:
    # 30 digits: more than Python's decimal context holds, so quantizing it raises (an ArithmeticError)
    record = {**validate_event(valid_event_doc("DonationReceived")).record, "amount": Decimal(10) ** 30}
    with pytest.raises(ValidationError) as info:
        validate_record("DonationReceived", record)
    assert [f for f, _ in info.value.errors] == ["amount"]
    assert "integer digits" in info.value.errors[0][1]


def test_periods_in_the_wrong_order_are_refused() -> None:
    event_type = next(t for t in EVENT_TYPES if "period_start" in validate_event(valid_event_doc(t)).record)
    record = record_of(event_type, period_start=date(2026, 6, 1), period_end=date(2026, 1, 1))
    assert outcome(validate_record, event_type, record) == ("invalid", ["period_end"])
    assert outcome(json_path, event_type, record) == ("invalid", ["period_end"])


def test_a_record_whose_fields_are_not_the_schemas_goes_the_json_way() -> None:
    record = validate_event(valid_event_doc("CaseOpened")).record
    with pytest.raises(SerializationError, match="does not know: nickname"):
        validate_record("CaseOpened", {**record, "nickname": "Ah Ying"})
    lacking = {k: v for k, v in record.items() if k != "case_id"}
    with pytest.raises(SerializationError, match="lacks required field 'case_id'"):
        validate_record("CaseOpened", lacking)


def test_a_value_of_another_python_type_is_refused() -> None:
    record = validate_event(valid_event_doc("VisitMade")).record
    with pytest.raises(ValidationError) as info:
        validate_record("VisitMade", {**record, "occurred_at": "2026-03-02T09:30:00+08:00"[:10]})
    assert [f for f, _ in info.value.errors] == ["occurred_at"]
    with pytest.raises(ValidationError):
        validate_record("VisitMade", {**record, "duration_minutes": True})
