"""Drift test: the pydantic JSON-form models equal the raw .avsc files field by field."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

import pytest
from pydantic import BaseModel

from hub import models
from hub.catalogue import EVENT_TYPES
from hub.errors import ConfigError, ValidationError
from hub.models import MODELS, model_for
from hub.schemas import load_schema


def strip_annotated(tp: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X``, recursively through unions and lists."""
    if typing.get_origin(tp) is Annotated:
        return strip_annotated(typing.get_args(tp)[0])
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return Union[tuple(strip_annotated(a) for a in typing.get_args(tp))]  # noqa: UP007
    if origin is list:
        return list[strip_annotated(typing.get_args(tp)[0])]  # type: ignore[misc]
    return tp


def expected_python_type(avro: Any) -> Any:
    """Independent statement of the Avro -> JSON-form mapping the models must implement."""
    if isinstance(avro, list):
        (inner,) = [b for b in avro if b != "null"]
        return expected_python_type(inner) | None
    if isinstance(avro, str):
        return {"string": str, "int": int, "long": int}[avro]
    logical = avro.get("logicalType")
    if logical == "timestamp-millis":
        return datetime
    if logical == "date":
        return date
    if logical == "decimal":
        return Decimal
    if avro["type"] == "enum":
        return Literal.__getitem__(tuple(avro["symbols"]))
    if avro["type"] == "array":
        return list[expected_python_type(avro["items"])]  # type: ignore[misc]
    return expected_python_type(avro["type"])


def test_one_model_per_event_type() -> None:
    assert tuple(MODELS) == EVENT_TYPES
    for event_type, model in MODELS.items():
        assert issubclass(model, BaseModel)
        assert model.__name__ == event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_model_fields_equal_avsc(event_type: str) -> None:
    schema = load_schema("raw", event_type)
    model_fields = model_for(event_type).model_fields
    assert list(model_fields) == ["type"] + [f["name"] for f in schema["fields"]]
    assert model_fields["type"].annotation == Literal.__getitem__(event_type)
    for spec in schema["fields"]:
        info = model_fields[spec["name"]]
        assert strip_annotated(info.annotation) == expected_python_type(spec["type"]), spec["name"]
        assert info.is_required() == ("default" not in spec), spec["name"]
        if "default" in spec:
            assert info.default == spec["default"], spec["name"]
        assert info.description == spec["doc"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_model_forbids_unknown_fields_and_documents_amounts_as_strings(event_type: str) -> None:
    schema = model_for(event_type).model_json_schema()
    assert schema["additionalProperties"] is False
    assert schema["description"] == load_schema("raw", event_type)["doc"]
    if "amount" in schema["properties"]:
        assert schema["properties"]["amount"]["type"] == "string"


def test_every_rule_table_entry_names_a_real_field() -> None:
    names = {f["name"] for t in EVENT_TYPES for f in load_schema("raw", t)["fields"]}
    assert set(models.STRING_KINDS) <= names
    assert set(models.INT_RANGES) <= names
    assert set(models.ARRAY_LIMITS) <= names


def test_a_new_field_without_a_rule_is_refused() -> None:
    with pytest.raises(ConfigError, match="'nickname' has no rule"):
        models.field_annotation("nickname", ["null", "string"])
    with pytest.raises(ConfigError, match="'siblings' has no range"):
        models.field_annotation("siblings", "int")
    with pytest.raises(ConfigError, match="no JSON-form mapping"):
        models.field_annotation("ratio", "double")


def test_model_for_unknown_type() -> None:
    with pytest.raises(ValidationError, match="type: unknown event type 'CaseLost'"):
        model_for("CaseLost")
