"""Avro serializers framed in the Confluent wire format.

Modelled on confluent-kafka's serializers: one serializer per writer schema,
schema ids resolved through a registry (cached), fastavro schemaless bodies,
parsed schemas cached. Deserializers take an optional reader schema so that
old and new schema versions resolve.
"""

from __future__ import annotations

import io
import json
from typing import Any, Protocol

import fastavro
from fastavro.validation import validate as avro_validate

from hub.errors import SchemaRegistryError, SerializationError
from hub.wire import frame, unframe

Record = dict[str, Any]


class SchemaSource(Protocol):
    """What the serializers need from a schema registry client."""

    def register(self, subject: str, schema: str | dict[str, Any]) -> int: ...

    def get_schema(self, schema_id: int) -> str: ...


def parse(schema: str | dict[str, Any]) -> Any:
    """Parse an Avro schema (JSON text or dict) for fastavro."""
    try:
        doc = json.loads(schema) if isinstance(schema, str) else schema
        return fastavro.parse_schema(doc)
    except (ValueError, TypeError, fastavro.schema.SchemaParseException) as exc:
        raise SerializationError(f"invalid Avro schema: {exc}") from exc


def encode_body(parsed: Any, record: Record) -> bytes:
    """Schemaless Avro body of ``record``; errors name the offending field."""
    buf = io.BytesIO()
    try:
        fastavro.schemaless_writer(buf, parsed, record)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise SerializationError(_explain(parsed, record, exc)) from exc
    return buf.getvalue()


def decode_body(body: bytes | memoryview, writer: Any, reader: Any | None = None) -> Record:
    try:
        out = fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
    except (ValueError, TypeError, EOFError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise SerializationError(f"Avro body does not decode with the writer schema: {exc}") from exc
    except fastavro.read.SchemaResolutionError as exc:
        raise SerializationError(f"writer and reader schemas do not resolve: {exc}") from exc
    if not isinstance(out, dict):
        raise SerializationError("Avro body is not a record")
    return out


def _explain(parsed: Any, record: Record, exc: Exception) -> str:
    try:
        avro_validate(record, parsed, raise_errors=True)
    except fastavro.validation.ValidationError as verr:
        return f"record does not match schema {parsed.get('name', '?')}: {verr}"
    except Exception:  # noqa: BLE001 - only used to improve the message
        pass
    return f"record does not match schema {parsed.get('name', '?')}: {exc}"


class AvroSerializer:
    """Encode records of one writer schema for a topic (TopicNameStrategy subjects).

    The schema is parsed once and each subject's id registered once (the framed 5-byte header is kept per
    subject); per record only the Avro body is written, straight after the header, in one buffer."""

    def __init__(self, registry: SchemaSource, schema: str | dict[str, Any]) -> None:
        self._registry = registry
        self._schema_text = schema if isinstance(schema, str) else json.dumps(schema, separators=(",", ":"))
        self._parsed = parse(self._schema_text)
        self._ids: dict[str, int] = {}
        self._headers: dict[str, bytes] = {}

    def schema_id(self, subject: str) -> int:
        sid = self._ids.get(subject)
        if sid is None:
            # a registry failure stays a SchemaRegistryError: it is an outage, not a bad record
            sid = self._registry.register(subject, self._schema_text)
            self._ids[subject] = sid
        return sid

    def __call__(self, record: Record, subject: str) -> bytes:
        header = self._headers.get(subject)
        if header is None:
            header = self._headers[subject] = frame(self.schema_id(subject), b"")
        buf = io.BytesIO()
        buf.write(header)
        try:
            fastavro.schemaless_writer(buf, self._parsed, record)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise SerializationError(_explain(self._parsed, record, exc)) from exc
        return buf.getvalue()


class AvroDeserializer:
    """Decode Confluent-framed Avro, resolving writer schemas by id (cached).

    A writer schema that is the reader schema itself (the same JSON document: the usual case, a
    producer of the current schema) is decoded without schema resolution, which gives the same
    record: fastavro would compare the two schemas on every record to find that out.
    """

    def __init__(self, registry: SchemaSource, reader_schema: str | dict[str, Any] | None = None) -> None:
        self._registry = registry
        self._reader = parse(reader_schema) if reader_schema is not None else None
        self._reader_doc = None if reader_schema is None else _schema_doc(reader_schema)
        self._writers: dict[int, Any] = {}
        self._readers: dict[int, Any] = {}  # schema id -> the reader schema to resolve to, None: no resolution

    def writer(self, schema_id: int) -> Any:
        parsed = self._writers.get(schema_id)
        if parsed is None:
            try:
                text = self._registry.get_schema(schema_id)
            except SchemaRegistryError as exc:
                if exc.status != 404:
                    raise  # the registry is unreachable or failing: an outage to wait out, not a bad record
                raise SerializationError(f"writer schema id {schema_id} is unknown to the registry: {exc}") from exc
            parsed = parse(text)
            same = self._reader_doc is not None and _schema_doc(text) == self._reader_doc
            self._readers[schema_id] = None if same else self._reader
            self._writers[schema_id] = parsed
        return parsed

    def decode(self, data: bytes) -> tuple[int, Record]:
        schema_id, body = unframe(data)
        writer = self.writer(schema_id)
        return schema_id, decode_body(body, writer, self._readers[schema_id])

    def __call__(self, data: bytes) -> Record:
        return self.decode(data)[1]


def _schema_doc(schema: str | dict[str, Any]) -> Any:
    """The JSON document of a schema, to compare two schemas (None if it is not JSON)."""
    try:
        return json.loads(schema) if isinstance(schema, str) else schema
    except ValueError:
        return None
