"""Schema compatibility under Avro schema resolution, explained field by field.

Pure. Whether a reader can read a writer is decided by Apache Avro's own
``ReaderWriterCompatibilityChecker``; this module only picks the pairs a
compatibility level asks for and turns each refusal into a sentence that
names the field and the rule. Parsing helpers give one clear message for
invalid Avro (the registry answers them with 422).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, Literal

import avro.errors
import avro.schema
import fastavro
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    lookup_writer_field,
    schema_name_equals,
)

from hub.registry import codes


class Level(StrEnum):
    """Compatibility levels, as the Confluent registry names them."""

    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"
    NONE = "NONE"


DEFAULT_LEVEL: Final = Level.BACKWARD_TRANSITIVE

Direction = Literal["BACKWARD", "FORWARD"]

_DIRECTIONS: Final[dict[Level, tuple[Direction, ...]]] = {
    Level.BACKWARD: ("BACKWARD",),
    Level.BACKWARD_TRANSITIVE: ("BACKWARD",),
    Level.FORWARD: ("FORWARD",),
    Level.FORWARD_TRANSITIVE: ("FORWARD",),
    Level.FULL: ("BACKWARD", "FORWARD"),
    Level.FULL_TRANSITIVE: ("BACKWARD", "FORWARD"),
    Level.NONE: (),
}


def parse_level(value: str | Level) -> Level:
    """``"backward"`` -> :attr:`Level.BACKWARD`; anything else is error 42203."""
    if isinstance(value, Level):
        return value
    try:
        return Level(str(value).strip().upper())
    except ValueError:
        valid = ", ".join(level.value for level in Level)
        raise codes.error(
            codes.INVALID_COMPATIBILITY_LEVEL,
            f"Invalid compatibility level {value!r}. Valid values are: {valid}.",
        ) from None


def is_transitive(level: Level) -> bool:
    return level.value.endswith("_TRANSITIVE")


# --- parsing ---------------------------------------------------------------


def schema_text(schema: str | Mapping[str, Any]) -> str:
    """JSON text of a schema given as text or as a parsed JSON document."""
    if isinstance(schema, str):
        return schema
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise codes.invalid_schema(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc


def parse_schema(schema: str | Mapping[str, Any]) -> avro.schema.Schema:
    """Parse and validate Avro schema text; invalid schemas raise error 42201 saying why.

    Apache Avro checks structure and names; fastavro also checks that every
    field default matches its type (Avro's Python parser does not). Parsed
    schemas are cached by text: treat them as read-only.
    """
    return _parse_text(schema_text(schema))


@lru_cache(maxsize=2048)
def _parse_text(text: str) -> avro.schema.Schema:
    doc = _load_json(text)
    try:
        parsed = avro.schema.parse(text)
    except (avro.errors.AvroException, ValueError, TypeError) as exc:
        raise codes.invalid_schema(str(exc)) from exc
    try:
        fastavro.parse_schema(doc)
    except fastavro.schema.UnknownType as exc:
        raise codes.invalid_schema(f"unknown type {exc.name!r}") from exc
    except (fastavro.schema.SchemaParseException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise codes.invalid_schema(str(exc)) from exc
    return parsed


def canonical(schema: str | Mapping[str, Any]) -> str:
    """Compact JSON of a valid schema, key order kept: the text the registry stores and serves."""
    text = schema_text(schema)
    parse_schema(text)
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


def identity(schema: str | Mapping[str, Any]) -> str:
    """Key under which two schema texts count as the same schema (whitespace and key order ignored).

    Does not validate: callers parse first when validity matters.
    """
    doc = json.loads(schema) if isinstance(schema, str) else schema
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- checking ----------------------------------------------------------------


@dataclass(frozen=True)
class Incompatibility:
    """One reason why a new schema cannot go after an existing one."""

    path: str  # dotted field path; "" for the schema itself
    rule: str  # Avro's incompatibility type, e.g. "type_mismatch"
    direction: Direction
    message: str


def check(new_schema: str | Mapping[str, Any], existing: list[str], level: str | Level = DEFAULT_LEVEL) -> list[str]:
    """Messages saying why ``new_schema`` may not follow ``existing`` (oldest first); ``[]`` = compatible.

    Non-transitive levels compare with the latest existing schema only.
    Raises error 42201 for an invalid schema and 42203 for an unknown level.
    """
    out: list[str] = []
    for item in check_detailed(new_schema, existing, level):
        if item.message not in out:
            out.append(item.message)
    return out


def check_detailed(
    new_schema: str | Mapping[str, Any], existing: list[str], level: str | Level = DEFAULT_LEVEL
) -> list[Incompatibility]:
    """Like :func:`check`, with the path, rule and direction of each incompatibility."""
    lvl = parse_level(level)
    new = parse_schema(new_schema)
    if lvl is Level.NONE or not existing:
        return []
    against = existing if is_transitive(lvl) else existing[-1:]
    found: list[Incompatibility] = []
    for old_text in reversed(against):  # the latest first: its problems matter most
        old = parse_schema(old_text)
        for direction in _DIRECTIONS[lvl]:
            reader, writer = (new, old) if direction == "BACKWARD" else (old, new)
            found.extend(_Explainer(direction).explain_pair(reader, writer))
        found.extend(_logical_type_changes(_load_json(old_text), _load_json(schema_text(new_schema)), lvl))
    return found


def _logical(schema: Any) -> tuple[str, ...] | None:
    """The logical type of a field's (non-null) type, with decimal precision and scale."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return _logical(branches[0]) if len(branches) == 1 else None
    if isinstance(schema, dict) and "logicalType" in schema:
        lt = str(schema["logicalType"])
        if lt == "decimal":
            return (lt, str(schema.get("precision")), str(schema.get("scale", 0)))
        return (lt,)
    return ("none",)


def _logical_type_changes(old: Any, new: Any, level: Level, path: tuple[str, ...] = ()) -> list[Incompatibility]:
    """Hub rule on top of Avro's: a field may not change its logical type.

    Avro resolution ignores logical types, so decimal bytes -> string or
    timestamp-millis -> long pass its checker while readers silently misread
    money and time. The hub refuses them, naming the field.
    """
    if not (isinstance(old, dict) and isinstance(new, dict) and old.get("type") == new.get("type") == "record"):
        return []
    out: list[Incompatibility] = []
    old_fields = {f["name"]: f["type"] for f in old.get("fields", []) if isinstance(f, dict)}
    for field in new.get("fields", []):
        if not isinstance(field, dict) or field.get("name") not in old_fields:
            continue
        name = str(field["name"])
        before, after = _logical(old_fields[name]), _logical(field["type"])
        where = ".".join((*path, name))
        if before is not None and after is not None and before != after:
            out.append(
                Incompatibility(
                    where,
                    "logical_type_changed",
                    "BACKWARD" if level is not Level.FORWARD and level is not Level.FORWARD_TRANSITIVE else "FORWARD",
                    f"field '{where}': logical type changed from {'/'.join(before)} to {'/'.join(after)} "
                    "(hub rule: readers would misread the value)",
                )
            )
        out.extend(_logical_type_changes(old_fields[name], field["type"], level, (*path, name)))
    return out


def _result(reader: avro.schema.Schema, writer: avro.schema.Schema) -> SchemaCompatibilityResult:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    return checker.get_compatibility(reader, writer)


def _ok(reader: avro.schema.Schema, writer: avro.schema.Schema) -> bool:
    return _result(reader, writer).compatibility is SchemaCompatibilityType.compatible


def show(schema: avro.schema.Schema) -> str:
    """Short human form of a schema: ``[null, string]``, ``array<int>``, ``decimal (bytes)``."""
    if isinstance(schema, avro.schema.UnionSchema):
        return "[" + ", ".join(show(s) for s in schema.schemas) + "]"
    if isinstance(schema, avro.schema.NamedSchema):
        return str(schema.fullname)
    if isinstance(schema, avro.schema.ArraySchema):
        return f"array<{show(schema.items)}>"
    if isinstance(schema, avro.schema.MapSchema):
        return f"map<{show(schema.values)}>"
    logical = schema.get_prop("logicalType")
    return f"{logical} ({schema.type})" if logical else str(schema.type)


def _kind(schema: avro.schema.Schema) -> str:
    return str(schema.type)


class _Explainer:
    """Walks a reader/writer pair that Avro found incompatible and says where and why."""

    def __init__(self, direction: Direction) -> None:
        self.direction: Direction = direction
        self.active: set[tuple[int, int]] = set()  # pairs being explained: stops recursive types

    # old/new in the user's terms: a BACKWARD check reads old data with the new schema.
    def _old_new(self, reader: avro.schema.Schema, writer: avro.schema.Schema) -> tuple[Any, Any]:
        return (writer, reader) if self.direction == "BACKWARD" else (reader, writer)

    def _issue(self, path: list[str], rule: str, what: str, why: str) -> Incompatibility:
        where = f"field '{_render(path)}'" if path else "the schema"
        return Incompatibility(_render(path), rule, self.direction, f"{where}: {what} ({self.direction}: {why})")

    def explain_pair(self, reader: avro.schema.Schema, writer: avro.schema.Schema) -> list[Incompatibility]:
        """Every incompatibility of the pair; never empty when Avro says incompatible."""
        result = _result(reader, writer)
        if result.compatibility is SchemaCompatibilityType.compatible:
            return []
        return self.explain(reader, writer) or [self._fallback(result, [])]

    def explain(
        self,
        reader: avro.schema.Schema,
        writer: avro.schema.Schema,
        path: list[str] | None = None,
        top: tuple[avro.schema.Schema, avro.schema.Schema] | None = None,
    ) -> list[Incompatibility]:
        path = path or []
        top = top or (reader, writer)
        pair = (id(reader), id(writer))
        if pair in self.active or _ok(reader, writer):
            return []
        self.active.add(pair)
        try:
            return self._explain(reader, writer, path, top)
        finally:
            self.active.discard(pair)

    def _explain(
        self,
        reader: avro.schema.Schema,
        writer: avro.schema.Schema,
        path: list[str],
        top: tuple[avro.schema.Schema, avro.schema.Schema],
    ) -> list[Incompatibility]:
        if isinstance(writer, avro.schema.UnionSchema):
            return self._writer_union(reader, writer, path, top)
        if isinstance(reader, avro.schema.UnionSchema):
            branch = _matching_branch(reader, writer)
            if branch is not None:
                return self.explain(branch, writer, path, top)
            return [self._missing_branch(writer, path, top)]
        if reader.type != writer.type:
            return [self._type_mismatch(reader, writer, path, top)]
        found: list[Incompatibility] = []
        if (
            isinstance(reader, avro.schema.NamedSchema)
            and isinstance(writer, avro.schema.NamedSchema)
            and not schema_name_equals(reader, writer)
        ):
            found.append(self._name_mismatch(reader, writer, path))
        if isinstance(reader, avro.schema.RecordSchema) and isinstance(writer, avro.schema.RecordSchema):
            found.extend(self._record(reader, writer, path))
        elif isinstance(reader, avro.schema.EnumSchema) and isinstance(writer, avro.schema.EnumSchema):
            missing = sorted(set(writer.symbols) - set(reader.symbols))
            if missing and not _enum_default_covers(reader):
                found.append(self._enum_symbols(reader, missing, path))
        elif isinstance(reader, avro.schema.FixedSchema) and isinstance(writer, avro.schema.FixedSchema):
            if reader.size != writer.size:
                old, new = self._old_new(reader, writer)
                found.append(
                    self._issue(
                        path,
                        "fixed_size_mismatch",
                        f"fixed size changed from {old.size} to {new.size}",
                        "sizes must match",
                    )
                )
        elif isinstance(reader, avro.schema.ArraySchema) and isinstance(writer, avro.schema.ArraySchema):
            found.extend(self.explain(reader.items, writer.items, [*path, "[]"]))
        elif isinstance(reader, avro.schema.MapSchema) and isinstance(writer, avro.schema.MapSchema):
            found.extend(self.explain(reader.values, writer.values, [*path, "{}"]))
        return found

    def _record(
        self, reader: avro.schema.RecordSchema, writer: avro.schema.RecordSchema, path: list[str]
    ) -> list[Incompatibility]:
        found: list[Incompatibility] = []
        for field in reader.fields:
            writer_field = lookup_writer_field(writer_schema=writer, reader_field=field)
            here = [*path, field.name]
            if writer_field is None:
                if not field.has_default:
                    found.append(self._missing_default(here))
            else:
                found.extend(self.explain(field.type, writer_field.type, here))
        return found

    def _writer_union(
        self,
        reader: avro.schema.Schema,
        writer: avro.schema.UnionSchema,
        path: list[str],
        top: tuple[avro.schema.Schema, avro.schema.Schema],
    ) -> list[Incompatibility]:
        found: list[Incompatibility] = []
        for branch in writer.schemas:
            if _ok(reader, branch):
                continue
            if isinstance(reader, avro.schema.UnionSchema):
                match = _matching_branch(reader, branch)
                if match is None:
                    found.append(self._missing_branch(branch, path, top))
                else:
                    found.extend(self.explain(match, branch, path, top))
            else:
                found.extend(self.explain(reader, branch, path, top))
        return found

    def _missing_default(self, path: list[str]) -> Incompatibility:
        name = _render(path)
        if self.direction == "BACKWARD":
            return Incompatibility(
                name,
                "reader_field_missing_default_value",
                self.direction,
                f"reader field '{name}' has no default and is missing from the writer "
                "(BACKWARD: a new required field needs a default)",
            )
        return Incompatibility(
            name,
            "reader_field_missing_default_value",
            self.direction,
            f"reader field '{name}' of the old schema has no default and is missing from the new schema "
            "(FORWARD: a removed field must have a default in the old schema)",
        )

    def _type_mismatch(
        self,
        reader: avro.schema.Schema,
        writer: avro.schema.Schema,
        path: list[str],
        top: tuple[avro.schema.Schema, avro.schema.Schema],
    ) -> Incompatibility:
        old, new = self._old_new(*top)
        return self._issue(
            path,
            "type_mismatch",
            f"type changed from {show(old)} to {show(new)}",
            f"type mismatch, {_kind(reader)} cannot read {_kind(writer)}",
        )

    def _missing_branch(
        self, branch: avro.schema.Schema, path: list[str], top: tuple[avro.schema.Schema, avro.schema.Schema]
    ) -> Incompatibility:
        old, new = self._old_new(*top)
        reader_side = "new" if self.direction == "BACKWARD" else "old"
        writer_side = "old" if self.direction == "BACKWARD" else "new"
        return self._issue(
            path,
            "missing_union_branch",
            f"type changed from {show(old)} to {show(new)}",
            f"missing union branch, the {reader_side} schema cannot read {show(branch)} "
            f"written by the {writer_side} one",
        )

    def _name_mismatch(
        self, reader: avro.schema.NamedSchema, writer: avro.schema.NamedSchema, path: list[str]
    ) -> Incompatibility:
        old, new = self._old_new(reader, writer)
        return self._issue(
            path,
            "name_mismatch",
            f"{reader.type} name changed from {old.fullname} to {new.fullname}",
            "name mismatch, a named type must keep its name or list the writer's name in its aliases",
        )

    def _enum_symbols(self, reader: avro.schema.EnumSchema, missing: list[str], path: list[str]) -> Incompatibility:
        symbols = ", ".join(missing)
        if self.direction == "BACKWARD":
            what = f"enum {reader.fullname} lost symbols {symbols}"
            why = "missing enum symbols, the new enum needs them or a default symbol to read old data"
        else:
            what = f"enum {reader.fullname} gained symbols {symbols}"
            why = "missing enum symbols, old readers cannot read them because the old enum has no default"
        return self._issue(path, "missing_enum_symbols", what, why)

    def _fallback(self, result: SchemaCompatibilityResult, path: list[str]) -> Incompatibility:
        rules = ", ".join(sorted({i.value for i in result.incompatibilities})) or "incompatible"
        details = "; ".join(sorted(result.messages))
        where = ", ".join(sorted(result.locations))
        return self._issue(path, rules, f"incompatible at {where}: {details}", rules.replace("_", " "))


def _render(path: list[str]) -> str:
    out = ""
    for token in path:
        out += token if token in ("[]", "{}") or not out else f".{token}"
    return out


def _enum_default_covers(reader: avro.schema.EnumSchema) -> bool:
    default = reader.get_prop("default")
    return bool(default) and default in reader.symbols


def _matching_branch(union: avro.schema.UnionSchema, schema: avro.schema.Schema) -> avro.schema.Schema | None:
    """The branch of ``union`` that stands for ``schema``: same type, and same name for named types."""
    branches: list[avro.schema.Schema] = list(union.schemas)
    for branch in branches:
        if branch.type != schema.type:
            continue
        if isinstance(branch, avro.schema.NamedSchema) and isinstance(schema, avro.schema.NamedSchema):
            if schema_name_equals(branch, schema):
                return branch
            continue
        return branch
    return None


__all__ = [
    "DEFAULT_LEVEL",
    "Incompatibility",
    "Level",
    "canonical",
    "check",
    "check_detailed",
    "identity",
    "is_transitive",
    "parse_level",
    "parse_schema",
    "schema_text",
    "show",
]
