"""Pydantic models of the JSON ingest form, derived from the raw ``.avsc`` files at import time.

The ``.avsc`` files are the one source of truth for field names, types,
optionality and enum symbols; this module adds the field-level rules of the
JSON form (formats, ranges, size limits) that Avro cannot express. Every Avro
field must be covered by a rule table below, so a new field cannot slip in
unchecked. Event-level rules (district in region, station of district, period
order) and error wording live in :mod:`hub.validation`.

Pure: no Kafka, no HTTP, no SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model
from pydantic_core import PydanticCustomError

from hub.errors import ConfigError, ValidationError
from hub.orgunits import org_units
from hub.schemas import event_types, load_schema

# -- documented limits (docs/events.md) ---------------------------------------
MAX_ID_LENGTH: Final = 128
"""Identifiers and codes: ``*_id``, ``evaluator_ids`` items, ``district``, ``station``, ID numbers, phones."""
MAX_NAME_LENGTH: Final = 200
"""Names and titles: client/donor/volunteer/project names, training topic, referral source."""
MAX_TEXT_LENGTH: Final = 2000
"""Free text (``notes``)."""
MAX_STRING_LENGTH: Final = MAX_TEXT_LENGTH
"""No string of the JSON form is longer than this."""
MAX_EVALUATORS: Final = 20
"""Most ``evaluator_ids`` of one evaluation (the Nanshan expert pool has 46 members; panels are small)."""
MAX_VULNERABLE_GROUPS: Final = 16
"""Most ``vulnerable_groups`` items of one case."""
INT_MAX: Final = 2**31 - 1
"""Avro ``int`` is 32-bit signed."""
CURRENCIES: Final[tuple[str, ...]] = ("CNY", "HKD", "MOP")
MONEY_SCALE: Final = 2
MONEY_INTEGER_DIGITS: Final = 16
"""decimal(18, 2) leaves 16 digits before the point."""
EARLIEST_TIMESTAMP: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""``occurred_at`` lies in [EARLIEST_TIMESTAMP, LATEST_TIMESTAMP)."""
EARLIEST_DATE: Final = date(1970, 1, 1)
LATEST_DATE: Final = date(2099, 12, 31)

StringKind = Literal["uuid", "id", "name", "text", "currency", "district"]

#: Field (or array-of-string field) name -> the rule its strings follow.
STRING_KINDS: Final[Mapping[str, StringKind]] = MappingProxyType(
    {
        "event_id": "uuid",
        "district": "district",
        "station": "id",
        "currency": "currency",
        "case_id": "id",
        "client_id": "id",
        "client_id_number": "id",
        "client_phone": "id",
        "worker_id": "id",
        "visit_id": "id",
        "donation_id": "id",
        "project_id": "id",
        "evaluation_id": "id",
        "evaluator_ids": "id",
        "service_id": "id",
        "training_id": "id",
        "volunteer_id": "id",
        "client_name": "name",
        "donor_name": "name",
        "volunteer_name": "name",
        "project_name": "name",
        "topic": "name",
        "referral_source": "name",
        "notes": "text",
    }
)

#: Int field -> inclusive (min, max).
INT_RANGES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "duration_minutes": (1, 1440),
        "score_professional": (0, 100),
        "score_effectiveness": (0, 100),
        "score_financial": (0, 100),
        "score_overall": (0, 100),
        "client_birth_year": (1900, 2100),
        "volunteer_count": (0, INT_MAX),
        "person_times": (0, INT_MAX),
        "participants": (0, INT_MAX),
        "hours": (0, INT_MAX),
        "beneficiaries": (0, INT_MAX),
    }
)

#: Array field -> inclusive (min, max) item count.
ARRAY_LIMITS: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "vulnerable_groups": (0, MAX_VULNERABLE_GROUPS),
        "evaluator_ids": (1, MAX_EVALUATORS),
    }
)

_LENGTHS: Final[Mapping[StringKind, tuple[int, int]]] = MappingProxyType(
    {
        "uuid": (1, MAX_ID_LENGTH),
        "id": (1, MAX_ID_LENGTH),
        "district": (1, MAX_ID_LENGTH),
        "name": (1, MAX_NAME_LENGTH),
        "text": (0, MAX_TEXT_LENGTH),
        "currency": (1, MAX_ID_LENGTH),
    }
)

_CENT: Final = Decimal(1).scaleb(-MONEY_SCALE)
_MONEY_LIMIT: Final = Decimal(10) ** MONEY_INTEGER_DIGITS
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?P<offset>Z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AMOUNT = re.compile(r"[+-]?\d+(?:\.\d+)?")


def _rule(rule: str, message: str) -> PydanticCustomError:
    # Braces would be read as pydantic template placeholders.
    return PydanticCustomError(rule, message.replace("{", "(").replace("}", ")"))


def json_type(value: object) -> str:
    """JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


# -- value parsers (JSON form -> Avro-ready Python values) -------------------------
def parse_timestamp(value: object) -> datetime:
    """ISO-8601 with offset (or an aware ``datetime``) -> UTC ``datetime`` truncated to milliseconds."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        match = _TIMESTAMP.fullmatch(value)
        if match is None:
            raise _rule(
                "timestamp_format",
                f"must be an ISO-8601 timestamp with offset like 2026-03-01T09:30:00+08:00, got {value!r}",
            )
        if match.group("offset") is None:
            raise _rule("timestamp_offset", f"must include a UTC offset (e.g. +08:00 or Z), got {value!r}")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise _rule("timestamp_format", f"is not a valid timestamp: {value!r} ({exc})") from exc
    else:
        raise _rule("timestamp_type", f"must be an ISO-8601 timestamp string, not {json_type(value)}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _rule("timestamp_offset", "must include a UTC offset (e.g. +08:00 or Z)")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as exc:
        raise _timestamp_out_of_range() from exc
    if not EARLIEST_TIMESTAMP <= utc < LATEST_TIMESTAMP:
        raise _timestamp_out_of_range()
    sub_ms = utc.microsecond % 1000
    return utc.replace(microsecond=utc.microsecond - sub_ms) if sub_ms else utc


def _timestamp_out_of_range() -> PydanticCustomError:
    return _rule(
        "timestamp_range",
        f"must be from {EARLIEST_TIMESTAMP:%Y-%m-%d} up to (not including) {LATEST_TIMESTAMP:%Y-%m-%d} UTC",
    )


def parse_date(value: object) -> date:
    """``YYYY-MM-DD`` (or a ``date``) -> ``date``."""
    if isinstance(value, datetime):
        raise _rule("date_type", "must be a date (YYYY-MM-DD), not a timestamp")
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        if not _DATE.fullmatch(value):
            raise _rule("date_format", f"must be a date in YYYY-MM-DD form, got {value!r}")
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise _rule("date_format", f"is not a valid calendar date: {value!r}") from exc
    else:
        raise _rule("date_type", f"must be a date string (YYYY-MM-DD), not {json_type(value)}")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise _rule("date_range", f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return day


def parse_amount(value: object) -> Decimal:
    """Decimal string like ``"1250.00"`` (or a ``Decimal``) -> ``Decimal`` with two places; must be > 0."""
    if isinstance(value, Decimal):
        amount = value
        if not amount.is_finite():
            raise _rule("amount_format", "must be a finite amount")
    elif isinstance(value, str):
        if not _AMOUNT.fullmatch(value):
            raise _rule("amount_format", f'must be a decimal string like "1250.00", got {value!r}')
        amount = Decimal(value)  # the pattern admits only plain finite decimals
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raise _rule("amount_type", f'must be a string like "1250.00", not a JSON number ({value!r})')
    else:
        raise _rule("amount_type", f'must be a decimal string like "1250.00", not {json_type(value)}')
    if amount <= 0:
        raise _rule("amount_positive", f"must be greater than 0, got {value}")
    try:
        quantized = amount.quantize(_CENT)
    except ArithmeticError:  # more digits than the decimal context holds: far beyond the 16 allowed
        raise _rule(
            "amount_precision", f"must have at most {MONEY_INTEGER_DIGITS} integer digits, got {value}"
        ) from None
    if quantized != amount:
        raise _rule("amount_scale", f"must have at most {MONEY_SCALE} decimal places, got {value}")
    if quantized >= _MONEY_LIMIT:
        raise _rule("amount_precision", f"must have at most {MONEY_INTEGER_DIGITS} integer digits, got {value}")
    return quantized


def _check_uuid(value: str) -> str:
    if not _UUID.fullmatch(value):
        raise _rule("uuid", f"must be a UUID (8-4-4-4-12 hex digits), got {value!r}")
    return value.lower()


def _check_not_blank(value: str) -> str:
    if value and not value.strip():
        raise _rule("blank", "must not be blank")
    return value


def _check_currency(value: str) -> str:
    if value not in CURRENCIES:
        raise _rule("currency", f"unsupported currency {value!r}; allowed: {', '.join(CURRENCIES)}")
    return value


def _check_district(value: str) -> str:
    if org_units().district(value) is None:
        raise _rule("district", f"unknown district {value!r} (not in org-units.json)")
    return value


_STRING_CHECKS: Final[Mapping[StringKind, Callable[[str], str]]] = MappingProxyType(
    {
        "uuid": _check_uuid,
        "id": _check_not_blank,
        "district": _check_district,
        "name": _check_not_blank,
        "text": lambda value: value,
        "currency": _check_currency,
    }
)

_AMOUNT_JSON_SCHEMA: Final = {"type": "string", "pattern": r"^\d{1,16}(\.\d{1,2})?$", "examples": ["1250.00"]}


# -- Avro type -> pydantic annotation -------------------------------------------------
def _string(name: str) -> Any:
    kind = STRING_KINDS.get(name)
    if kind is None:
        raise ConfigError(f"string field {name!r} has no rule in hub.models.STRING_KINDS")
    low, high = _LENGTHS[kind]
    return Annotated[str, Field(min_length=low, max_length=high), AfterValidator(_STRING_CHECKS[kind])]


def field_annotation(name: str, avro: Any) -> Any:
    """Pydantic annotation (with the JSON-form rules) of the Avro field ``name`` of type ``avro``."""
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) != 1 or len(avro) != 2:
            raise ConfigError(f"field {name!r}: only [null, T] unions are supported, got {avro!r}")
        return field_annotation(name, branches[0]) | None
    if isinstance(avro, str):
        avro = {"type": avro}
    kind, logical = avro.get("type"), avro.get("logicalType")
    if kind == "long" and logical == "timestamp-millis":
        return Annotated[datetime, BeforeValidator(parse_timestamp)]
    if kind == "int" and logical == "date":
        return Annotated[date, BeforeValidator(parse_date)]
    if kind == "bytes" and logical == "decimal":
        if avro.get("scale") != MONEY_SCALE:
            raise ConfigError(f"decimal field {name!r}: only scale {MONEY_SCALE} is supported")
        return Annotated[Decimal, BeforeValidator(parse_amount), WithJsonSchema(_AMOUNT_JSON_SCHEMA)]
    if kind == "string":
        return _string(name)
    if kind in ("int", "long"):
        if name not in INT_RANGES:
            raise ConfigError(f"int field {name!r} has no range in hub.models.INT_RANGES")
        low, high = INT_RANGES[name]
        return Annotated[int, Field(ge=low, le=high)]
    if kind == "enum":
        return Literal.__getitem__(tuple(avro["symbols"]))
    if kind == "array":
        if name not in ARRAY_LIMITS:
            raise ConfigError(f"array field {name!r} has no limits in hub.models.ARRAY_LIMITS")
        low, high = ARRAY_LIMITS[name]
        return Annotated[list[field_annotation(name, avro["items"])], Field(min_length=low, max_length=high)]  # type: ignore[misc]
    raise ConfigError(f"field {name!r}: Avro type {avro!r} has no JSON-form mapping")


_CONFIG: Final = ConfigDict(extra="forbid", strict=True, frozen=True)


def _build(event_type: str) -> type[BaseModel]:
    schema = load_schema("raw", event_type)
    fields: dict[str, Any] = {"type": (Literal.__getitem__(event_type), Field(description="Event type."))}
    for spec in schema["fields"]:
        name = spec["name"]
        annotation = field_annotation(name, spec["type"])
        if "default" in spec:
            fields[name] = (annotation, Field(default=spec["default"], description=spec.get("doc")))
        else:
            fields[name] = (annotation, Field(description=spec.get("doc")))
    model: type[BaseModel] = create_model(
        event_type, __config__=_CONFIG, __doc__=schema.get("doc"), __module__=__name__, **fields
    )
    return model


#: Event type -> pydantic model of its JSON ingest form (``type`` first, then the Avro fields in order).
MODELS: Final[Mapping[str, type[BaseModel]]] = MappingProxyType({t: _build(t) for t in event_types("raw")})


def model_for(event_type: str) -> type[BaseModel]:
    """The JSON-form model of ``event_type``; unknown types raise :class:`ValidationError` on ``type``."""
    try:
        return MODELS[event_type]
    except KeyError:
        raise ValidationError(
            [("type", f"unknown event type {event_type!r}; expected one of {', '.join(MODELS)}")]
        ) from None
