"""Edge validation of events in their JSON ingest form.

``validate_event`` turns a flat ``{"type": ..., ...}`` document into an
Avro-ready record or raises :class:`hub.errors.ValidationError` listing every
problem of that event as ``(field, message)``. Field-level rules come from
:mod:`hub.models` (derived from the ``.avsc`` files); event-level rules
(district in region, station of district, period order) are checked here.

``validate_record`` applies the very same rules to a record as fastavro decodes
it with the raw schema (the gateway's input, which it does not trust): the
models' value parsers take the Avro-typed values (aware ``datetime``, ``date``,
``Decimal``) as well as their JSON text, so the record is validated directly
instead of being rendered to the JSON form and parsed back (see its docstring
for why that is the same check).

Pure: no Kafka, no HTTP, no SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Final, cast

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from hub.catalogue import RAW_KEY_FIELD
from hub.errors import SerializationError, ValidationError
from hub.models import (
    ARRAY_LIMITS,
    CURRENCIES,
    EARLIEST_DATE,
    EARLIEST_TIMESTAMP,
    INT_MAX,
    INT_RANGES,
    LATEST_DATE,
    LATEST_TIMESTAMP,
    MAX_EVALUATORS,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_STRING_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_VULNERABLE_GROUPS,
    MODELS,
    json_type,
    parse_date,
)
from hub.orgunits import org_units
from hub.schemas import Form, field_specs, record_fields

__all__ = [
    "ARRAY_LIMITS",
    "CURRENCIES",
    "EARLIEST_DATE",
    "EARLIEST_TIMESTAMP",
    "INT_MAX",
    "INT_RANGES",
    "LATEST_DATE",
    "LATEST_TIMESTAMP",
    "MAX_EVALUATORS",
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_STRING_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_VULNERABLE_GROUPS",
    "ValidatedEvent",
    "to_json_form",
    "validate_event",
    "validate_many",
    "validate_record",
]

_WHOLE_EVENT: Final = "event"


@dataclass(frozen=True)
class ValidatedEvent:
    """An event that passed validation, as the Avro record of its raw schema.

    ``record`` holds the values fastavro writes: ``occurred_at`` an aware UTC
    ``datetime`` (milliseconds), dates ``date``, money ``Decimal`` with two
    places, enums ``str``, absent optional fields filled with their defaults.
    ``key`` is the aggregate id (:data:`hub.catalogue.RAW_KEY_FIELD`), the Kafka key.
    """

    event_type: str
    record: dict[str, Any] = field(hash=False)
    key: str

    @property
    def event_id(self) -> str:
        return str(self.record["event_id"])

    @property
    def region(self) -> str:
        return str(self.record["region"])

    @property
    def district(self) -> str:
        return str(self.record["district"])


def validate_event(doc: Mapping[str, Any]) -> ValidatedEvent:
    """Validate one JSON-form event; raise :class:`ValidationError` with every problem found."""
    if type(doc) is dict:  # what JSON gives: validated as it is (nothing here changes it), no copy
        plain = cast(dict[str, Any], doc)
    elif isinstance(doc, Mapping):
        plain = dict(doc)
    else:
        raise ValidationError([(_WHOLE_EVENT, f"must be a JSON object, not {json_type(doc)}")])
    return _validate(_event_type(plain), plain)


def _validate(event_type: str, doc: dict[str, Any]) -> ValidatedEvent:
    """:func:`validate_event` of ``doc`` (read, never changed), whose ``type`` is ``event_type``."""
    model = MODELS[event_type]
    errors: list[tuple[str, str]] = []
    validated = None
    try:
        validated = model.model_validate(doc)
    except PydanticValidationError as exc:
        errors.extend(_translate(event_type, detail) for detail in exc.errors(include_url=False))
    if validated is None:
        errors.extend(_event_rules(doc, {field.split("[", 1)[0] for field, _ in errors}))
        raise ValidationError(errors)
    values = validated.__dict__  # the model's field values (frozen model; read only)
    # the same rules on the values the model made of the same fields (periods already dates: no second parse)
    errors.extend(_event_rules(values, set()))
    if errors:
        raise ValidationError(errors)
    record = {name: values[name] for name in record_fields("raw", event_type)}
    for name in _array_fields(event_type):
        value = record[name]
        if isinstance(value, list):  # the model is frozen but its lists are not; hand out our own
            record[name] = list(value)
    return ValidatedEvent(event_type, record, str(record[RAW_KEY_FIELD[event_type]]))


def validate_record(event_type: str, record: Mapping[str, Any]) -> ValidatedEvent:
    """Validate a record of ``event_type`` as fastavro decodes it with the raw schema: every rule of
    :func:`validate_event` applies, and the result is the same.

    The same as ``validate_event(to_json_form(event_type, record))``, without the round trip through
    text. Why that is the same check: the value parsers of :mod:`hub.models` (``parse_timestamp``,
    ``parse_date``, ``parse_amount``) take the typed values fastavro yields (an aware UTC ``datetime``
    of whole milliseconds, a ``date``, a ``Decimal``) and apply to them the rules they apply to the
    text (offset present, range, a date that is not a timestamp, positive, two places, sixteen
    integer digits); every other rule (string lengths and formats, UUIDs, known district, int
    ranges, array sizes, enum symbols, and the event-level rules) reads the same Python values either
    way, and the strict models refuse a value of any other Python type. What Avro already guarantees
    (the field set, the value types) is not checked twice; a record whose field set is not the raw
    schema's (what fastavro never yields) goes the JSON way, so its error is :func:`to_json_form`'s.
    """
    if record.keys() != _field_names(event_type):
        return validate_event(to_json_form(event_type, record))
    doc: dict[str, Any] = {"type": event_type}
    doc.update(record)
    return _validate(event_type, doc)


@cache
def _field_names(event_type: str) -> frozenset[str]:
    return frozenset(record_fields("raw", event_type))


@cache
def _array_fields(event_type: str) -> tuple[str, ...]:
    """Raw fields of an array type (or a nullable one): the only ones whose value is a list."""

    def is_array(avro: Any) -> bool:
        if isinstance(avro, list):
            return any(is_array(branch) for branch in avro)
        return isinstance(avro, dict) and avro.get("type") == "array"

    return tuple(spec["name"] for spec in field_specs("raw", event_type) if is_array(spec["type"]))


def validate_many(docs: Iterable[Mapping[str, Any]]) -> list[ValidatedEvent | ValidationError]:
    """Validate a batch: one result per input, in order; a bad item never stops the others."""
    results: list[ValidatedEvent | ValidationError] = []
    for doc in docs:
        try:
            results.append(validate_event(doc))
        except ValidationError as exc:
            results.append(exc)
    return results


def _event_type(doc: Mapping[str, Any]) -> str:
    expected = ", ".join(MODELS)
    if "type" not in doc:
        raise ValidationError([("type", f"is required; expected one of {expected}")])
    event_type = doc["type"]
    if not isinstance(event_type, str):
        raise ValidationError([("type", f"must be a string naming the event type, not {json_type(event_type)}")])
    if event_type not in MODELS:
        raise ValidationError([("type", f"unknown event type {event_type!r}; expected one of {expected}")])
    return event_type


# -- event-level rules ----------------------------------------------------------
def _event_rules(doc: Mapping[str, Any], failed: set[str]) -> list[tuple[str, str]]:
    """Rules across fields; each runs only when none of its fields failed on its own (``failed``)."""
    errors: list[tuple[str, str]] = []
    region, district_code, station = doc.get("region"), doc.get("district"), doc.get("station")
    district = None
    if "district" not in failed and isinstance(district_code, str):
        district = org_units().district(district_code)
    if district is not None and "region" not in failed and isinstance(region, str) and district.region != region:
        errors.append(("district", f"district {district.code!r} belongs to region {district.region}, not {region}"))
    if (
        district is not None
        and district.stations
        and "station" not in failed
        and isinstance(station, str)
        and station not in district.stations
    ):
        errors.append(
            (
                "station",
                f"{station!r} is not a station of district {district.code}; "
                f"expected one of {', '.join(district.stations)} or null",
            )
        )
    if {"period_start", "period_end"} & failed:
        return errors
    start, end = _date_or_none(doc.get("period_start")), _date_or_none(doc.get("period_end"))
    if start is not None and end is not None and end < start:
        errors.append(("period_end", f"must not be before period_start ({end} < {start})"))
    return errors


def _date_or_none(value: object) -> date | None:
    if value is None:  # most events have no period: no error to build and drop
        return None
    try:
        return parse_date(value)
    except PydanticCustomError:
        return None


# -- pydantic errors -> (field, message) -----------------------------------------
_QUOTED: Final = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _field_of(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or _WHOLE_EVENT


def _translate(event_type: str, detail: ErrorDetails) -> tuple[str, str]:
    loc = detail["loc"]
    name = _field_of(loc)
    base = str(loc[0]) if loc else ""
    kind, value, ctx = detail["type"], detail.get("input"), detail.get("ctx") or {}
    if kind == "missing":
        return name, "is required"
    if kind == "extra_forbidden":
        return name, f"unknown field; {event_type} has no field {base!r}"
    if kind == "string_type":
        return name, f"must be a string, not {json_type(value)}"
    if kind == "int_type":
        return name, f"must be an integer, not {json_type(value)}"
    if kind == "list_type":
        return name, f"must be an array, not {json_type(value)}"
    if kind == "literal_error":
        allowed = ", ".join(_QUOTED.findall(str(ctx.get("expected", ""))))
        if isinstance(value, str):
            return name, f"unknown symbol {value!r}; allowed: {allowed}"
        return name, f"must be one of {allowed} (a string), not {json_type(value)}"
    if kind == "string_too_short":
        return name, "must not be empty"
    if kind == "string_too_long":
        return name, f"must be at most {ctx.get('max_length')} characters (got {len(str(value))})"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = INT_RANGES.get(base, (ctx.get("ge"), ctx.get("le")))
        if low is not None and high is not None and high != INT_MAX:
            return name, f"must be between {low} and {high} (got {value})"
        if low == 0 and kind == "greater_than_equal":
            return name, f"must not be negative (got {value})"
        bound = f"at least {low}" if kind == "greater_than_equal" else f"at most {high}"
        return name, f"must be {bound} (got {value})"
    if kind == "too_short":
        least = ctx.get("min_length")
        return name, f"must have at least {least} item{'' if least == 1 else 's'}"
    if kind == "too_long":
        return name, f"must have at most {ctx.get('max_length')} items (got {ctx.get('actual_length')})"
    message = detail["msg"]
    return name, message[:1].lower() + message[1:]


# -- Avro record -> JSON form ------------------------------------------------------
def to_json_form(event_type: str, record: Mapping[str, Any], *, form: Form = "raw") -> dict[str, Any]:
    """The flat JSON form ``{"type": ..., ...}`` of an Avro-ready record (inverse of :func:`validate_event`).

    Amounts become strings with two places (``"1250.00"``), timestamps ISO-8601
    in UTC with offset, dates ``YYYY-MM-DD``. Absent fields that have a default
    take it; a field the schema does not know raises :class:`SerializationError`.
    """
    fields = field_specs(form, event_type)
    names = {spec["name"] for spec in fields}
    unknown = sorted(str(k) for k in record if k not in names)
    if unknown:
        raise SerializationError(
            f"{event_type} record has fields its {form} schema does not know: {', '.join(unknown)}"
        )
    out: dict[str, Any] = {"type": event_type}
    for spec in fields:
        name = spec["name"]
        if name in record:
            value = record[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            raise SerializationError(f"{event_type} record lacks required field {name!r}")
        out[name] = _json_value(name, spec["type"], value)
    return out


def _json_value(name: str, avro: Any, value: Any) -> Any:
    if isinstance(avro, list):
        if value is None and "null" in avro:
            return None
        branches = [b for b in avro if b != "null"]
        return _json_value(name, branches[0], value)
    if isinstance(avro, str):
        avro = {"type": avro}
    kind, logical = avro.get("type"), avro.get("logicalType")
    try:
        if logical == "timestamp-millis":
            moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value / 1000, tz=UTC)
            if moment.tzinfo is None:
                raise ValueError("naive datetime")
            return moment.astimezone(UTC).isoformat(timespec="milliseconds")
        if logical == "date":
            if not isinstance(value, date) or isinstance(value, datetime):
                raise TypeError(f"expected a date, got {type(value).__name__}")
            return value.isoformat()
        if logical == "decimal":
            step = Decimal(1).scaleb(-int(avro.get("scale", 0)))
            return format(Decimal(value).quantize(step), "f")
        if kind == "array":
            return [_json_value(name, avro["items"], item) for item in value]
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise SerializationError(f"{name}: cannot render {value!r} in the JSON form: {exc}") from exc
    return value
