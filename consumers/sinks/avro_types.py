"""How a decoded Avro value is stored by a sink: its SQL column type, and its JSON form.

:func:`column_type` maps an Avro type of the pinned reader schema to a column
(exact decimals, UTC instants, TEXT[] for arrays of strings on PostgreSQL,
JSON for the rest of the nested types); :func:`event_table` builds the table
of an event type from its reader schema; :func:`json_value` is the JSON form
of a value (JSON columns and the JSON Lines sink).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Double,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from hub.errors import ConfigError
from hub.naming import event_slug
from hub.sql import UtcDateTime

#: Columns every event table has besides the schema's fields (``source_*`` because a schema field may be
#: called ``topic``: TrainingHeld has one).
COORDINATE_COLUMNS: Final[tuple[str, ...]] = ("zone", "source_topic", "source_partition", "source_offset")


# -- JSON values --------------------------------------------------------------------------------
def json_value(value: Any) -> Any:
    """A decoded Avro value as JSON: decimals as exact strings, instants as ISO-8601, bytes as base64."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


# -- Avro -> SQL --------------------------------------------------------------------------------------
class ExactDecimal(TypeDecorator[Decimal]):
    """An Avro decimal kept exact: NUMERIC(p, s) on PostgreSQL, its decimal text on SQLite (which has no exact type)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return format(Decimal(value), "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def _json_type() -> TypeEngine[Any]:
    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def _text_array_type() -> TypeEngine[Any]:
    return JSON().with_variant(postgresql.ARRAY(Text()), "postgresql")


_PRIMITIVES: Final[Mapping[str, type[TypeEngine[Any]]]] = {
    "string": Text,
    "int": Integer,
    "long": BigInteger,
    "boolean": Boolean,
    "float": Float,
    "double": Double,
    "bytes": LargeBinary,
}


@dataclass(frozen=True)
class _ColumnType:
    type: TypeEngine[Any]
    nullable: bool
    json: bool = False
    """Values go through :func:`json_value` (JSON columns)."""


def _named(avro: Any, names: dict[str, Any], namespace: str | None) -> None:
    if isinstance(avro, dict) and avro.get("type") in ("record", "enum", "fixed") and "name" in avro:
        ns = avro.get("namespace", namespace)
        name = str(avro["name"])
        names[name] = avro
        names[f"{ns}.{name}" if ns and "." not in name else name] = avro


def _resolve(avro: Any, names: dict[str, Any]) -> Any:
    if isinstance(avro, str) and avro not in _PRIMITIVES and avro != "null":
        found = names.get(avro) or names.get(avro.rsplit(".", 1)[-1])
        if found is None:
            raise ConfigError(f"reader schema: unknown type name {avro!r}")
        return found
    return avro


def _collect(avro: Any, names: dict[str, Any], namespace: str | None) -> None:
    """Register every named type defined inside ``avro`` (so a later field may refer to it by name)."""
    if isinstance(avro, list):
        for branch in avro:
            _collect(branch, names, namespace)
    elif isinstance(avro, dict):
        _named(avro, names, namespace)
        ns = avro.get("namespace", namespace)
        if avro.get("type") == "record":
            for f in avro.get("fields", []):
                _collect(f.get("type"), names, ns)
        elif avro.get("type") == "array":
            _collect(avro.get("items"), names, ns)
        elif avro.get("type") == "map":
            _collect(avro.get("values"), names, ns)


def column_type(avro: Any, names: dict[str, Any] | None = None) -> _ColumnType:
    """How a field of Avro type ``avro`` is stored in SQL.

    Strings, enums (their symbol) and uuids -> TEXT; int -> INTEGER; long -> BIGINT;
    decimal -> exact (see :class:`ExactDecimal`); timestamp-* -> instants (UTC); date -> DATE;
    arrays of strings or enums -> TEXT[] on PostgreSQL, JSON on SQLite; other arrays, maps,
    records and unions of several types -> JSON; ``["null", T]`` -> T, nullable.
    """
    names = {} if names is None else names
    avro = _resolve(avro, names)
    if isinstance(avro, list):
        rest = [b for b in avro if b != "null"]
        nullable = len(rest) < len(avro)
        if len(rest) == 1:
            inner = column_type(rest[0], names)
            return _ColumnType(inner.type, nullable, inner.json)
        return _ColumnType(_json_type(), nullable, True)
    if isinstance(avro, str):
        if avro == "null":
            return _ColumnType(Text(), True)
        return _ColumnType(_PRIMITIVES[avro](), False)
    if not isinstance(avro, dict):
        raise ConfigError(f"reader schema: unsupported Avro type {avro!r}")
    kind = avro.get("type")
    logical = avro.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return _ColumnType(ExactDecimal(int(avro["precision"]), int(avro.get("scale", 0))), False)
    if logical in ("timestamp-millis", "timestamp-micros") and kind == "long":
        return _ColumnType(UtcDateTime(timezone=True), False)
    if logical in ("local-timestamp-millis", "local-timestamp-micros") and kind == "long":
        return _ColumnType(DateTime(), False)
    if logical == "date" and kind == "int":
        return _ColumnType(Date(), False)
    if logical in ("time-millis", "time-micros"):
        return _ColumnType(Time(), False)
    if kind == "enum":
        return _ColumnType(Text(), False)
    if kind == "fixed":
        return _ColumnType(LargeBinary(), False)
    if kind == "array":
        items = _resolve(avro.get("items"), names)
        stringy = items == "string" or (isinstance(items, dict) and items.get("type") == "enum")
        return _ColumnType(_text_array_type() if stringy else _json_type(), False, not stringy)
    if kind in ("map", "record"):
        return _ColumnType(_json_type(), False, True)
    if isinstance(kind, str | list | dict):
        return column_type(kind, names)  # {"type": "string"} and friends
    raise ConfigError(f"reader schema: unsupported Avro type {avro!r}")


def table_name(event_type: str) -> str:
    """``CaseOpened`` -> ``case_opened``."""
    return event_slug(event_type).replace("-", "_")


def event_table(metadata: MetaData, event_type: str, schema: Mapping[str, Any]) -> tuple[Table, frozenset[str]]:
    """The table of ``event_type`` for a reader ``schema`` document, and the names of its JSON columns."""
    names: dict[str, Any] = {}
    _collect(dict(schema), names, None)
    fields = list(schema.get("fields", []))
    field_names = [str(f["name"]) for f in fields]
    if "event_id" not in field_names:
        raise ConfigError(f"reader schema of {event_type}: no event_id field, so no key to deduplicate by")
    clash = sorted(set(field_names) & set(COORDINATE_COLUMNS))
    if clash:
        raise ConfigError(f"reader schema of {event_type}: field {clash[0]} clashes with a coordinate column")
    columns: list[Column[Any]] = []
    json_columns: set[str] = set()
    for f in fields:
        name = str(f["name"])
        ct = column_type(f["type"], names)
        if ct.json:
            json_columns.add(name)
        if name == "event_id":
            columns.insert(0, Column(name, String(128), primary_key=True))
        else:
            columns.append(Column(name, ct.type, nullable=ct.nullable))
    columns += [
        Column("zone", String(32), nullable=False),
        Column("source_topic", String(255), nullable=False),
        Column("source_partition", Integer, nullable=False),
        Column("source_offset", BigInteger, nullable=False),
    ]
    return Table(table_name(event_type), metadata, *columns), frozenset(json_columns)


__all__ = ["COORDINATE_COLUMNS", "ExactDecimal", "column_type", "event_table", "json_value", "table_name"]
