"""The gateway's per-record logic: one raw Kafka record in, what to write out.

Given a raw record (topic, partition, offset, key, value bytes), :class:`Border`
decodes it, validates it, applies the region's data-sharing agreement and
encodes the result: a :class:`Crossed` (one shared record per zone plus one
``hub.audit`` record) or a :class:`Refused` (one ``hub.dlq`` dead letter naming
the stage and the reason). Every per-record failure becomes a dead letter; the
one exception that escapes is :class:`~hub.errors.SchemaRegistryError`, because
a registry that cannot be reached is an outage to wait out, not a bad record.

Pure: no Kafka, no faust. The decoders it is given may ask a schema registry
for an unknown writer schema (through :class:`hub.serde.SchemaSource`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, Final, Protocol

from hub import naming
from hub.agreements.audit import SourceCoordinates, audit_schema, build_audit
from hub.agreements.crossing import Crossing, apply
from hub.agreements.model import Agreement
from hub.dlq import DeadLetter
from hub.errors import ConfigError, PolicyError, SchemaRegistryError, SerializationError, ValidationError
from hub.orgunits import OrgUnits
from hub.schemas import field_specs, parsed_schema, schema_text
from hub.serde import Record, encode_body, parse
from hub.validation import validate_record
from hub.wire import frame

CONSUMER: Final = "gateway"
"""``consumer`` of the gateway's dead letters."""

#: Envelope fields whose values are checked codes (UUID, region, org units): not scanned for disclosures.
_CHECKED_CODES: Final = frozenset({"event_id", "region", "district", "station"})
#: Shortest protected value looked for inside kept text: two characters when it has a non-ASCII one (a Chinese
#: name), four when it is all ASCII (shorter ids, like "12", would match by chance).
MIN_PROTECTED_LENGTH: Final = 2
MIN_PROTECTED_ASCII_LENGTH: Final = 4


class Decoder(Protocol):
    """Decodes Confluent-framed Avro into (writer schema id, record), e.g. :class:`hub.serde.AvroDeserializer`."""

    def decode(self, data: bytes) -> tuple[int, Record]: ...


@dataclass(frozen=True)
class RawRecord:
    """One record as read from a raw topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def coordinates(self) -> SourceCoordinates:
        return SourceCoordinates(self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class OutputRecord:
    """One record to write: topic, key, value bytes and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Crossed:
    """A raw event that crossed: its shared records (one per zone) and its audit record."""

    source: RawRecord
    event_id: str
    event_type: str
    region: str
    zones: tuple[str, ...]
    shared: tuple[OutputRecord, ...]
    audit: OutputRecord

    @property
    def outputs(self) -> tuple[OutputRecord, ...]:
        return (*self.shared, self.audit)


@dataclass(frozen=True)
class Refused:
    """A raw record that did not cross: its dead letter for ``hub.dlq``."""

    source: RawRecord
    dead_letter: DeadLetter

    @property
    def stage(self) -> str:
        return self.dead_letter.stage

    @property
    def reason(self) -> str:
        return self.dead_letter.reason

    @property
    def outputs(self) -> tuple[OutputRecord, ...]:
        dl = self.dead_letter
        return (OutputRecord(naming.DLQ_TOPIC, dl.key(), dl.value(), tuple(dl.headers())),)


Outcome = Crossed | Refused


class _Refusal(Exception):
    """Internal: carries a stage and reason out of the steps of :meth:`Border.cross`."""

    def __init__(self, stage: str, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason
        self.event_id = event_id


# -- what the adapter registers at start --------------------------------------------------------
def output_schemas(agreements: Iterable[Agreement]) -> dict[str, str]:
    """Registry subject -> schema text of everything the gateway writes for these agreements.

    One subject per shared topic the agreements can reach (TopicNameStrategy) and
    one for ``hub.audit``. The adapter registers (or looks up) each once at start.
    """
    out: dict[str, str] = {}
    for agreement in agreements:
        for event_type in agreement.plans:
            for zone in agreement.zones:
                out[naming.subject_for(naming.shared_topic(zone, event_type))] = schema_text("shared", event_type)
    out[naming.subject_for(naming.AUDIT_TOPIC)] = _audit_text()
    return dict(sorted(out.items()))


@cache
def _audit_text() -> str:
    return json.dumps(audit_schema(), separators=(",", ":"), ensure_ascii=False)


@cache
def _audit_parsed() -> Any:
    return parse(_audit_text())


#: The audit fields whose values are the same for every crossing with the same outcome (targets, agreement,
#: field lists): the last ones of the schema; the fields before them (event, times, source) differ per record.
_AUDIT_OUTCOME_FIELDS: Final = (
    "targets",
    "agreement_id",
    "agreement_version",
    "kept",
    "dropped",
    "pseudonymised",
    "generalised",
)


@cache
def _audit_halves() -> tuple[Any, Any]:
    """The audit schema cut in two records: the fields before :data:`_AUDIT_OUTCOME_FIELDS`, and those.

    An Avro record's body is its fields' bodies one after the other, so the first half's body
    followed by the second half's is byte for byte the body of the whole record.
    """
    doc = audit_schema()
    fields = doc["fields"]
    cut = len(fields) - len(_AUDIT_OUTCOME_FIELDS)
    if tuple(f["name"] for f in fields[cut:]) != _AUDIT_OUTCOME_FIELDS:
        raise ConfigError(f"the audit schema no longer ends with the fields {', '.join(_AUDIT_OUTCOME_FIELDS)}")
    head = parse({**doc, "name": f"{doc['name']}Head", "fields": fields[:cut]})
    tail = parse({**doc, "name": f"{doc['name']}Outcome", "fields": fields[cut:]})
    return head, tail


def _audit_body(record: dict[str, Any]) -> bytes:
    """``encode_body(audit schema, record)``, the outcome half encoded once per distinct outcome (cached)."""
    outcome = (
        tuple(record["targets"]),
        record["agreement_id"],
        record["agreement_version"],
        tuple(record["kept"]),
        tuple(record["dropped"]),
        tuple(record["pseudonymised"]),
        tuple(record["generalised"]),
    )
    return encode_body(_audit_halves()[0], record) + _audit_outcome(outcome)


@lru_cache(maxsize=4096)
def _audit_outcome(values: tuple[Any, ...]) -> bytes:
    """Body of the outcome half of an audit record (:data:`_AUDIT_OUTCOME_FIELDS`, lists given as tuples)."""
    record = {n: list(v) if isinstance(v, tuple) else v for n, v in zip(_AUDIT_OUTCOME_FIELDS, values, strict=True)}
    return encode_body(_audit_halves()[1], record)


@cache
def _text_fields(event_type: str) -> frozenset[str]:
    """Raw fields holding free text or identifiers: string, nullable string or array of string (not enums)."""

    def is_text(avro: Any) -> bool:
        if avro == "string":
            return True
        if isinstance(avro, list):
            return any(is_text(b) for b in avro if b != "null")
        if isinstance(avro, dict) and avro.get("type") == "array":
            return is_text(avro.get("items"))
        return isinstance(avro, dict) and avro.get("type") == "string"

    return frozenset(f["name"] for f in field_specs("raw", event_type) if is_text(f["type"]))


def _guarded(value: str) -> bool:
    text = value.strip()
    return len(text) >= (MIN_PROTECTED_ASCII_LENGTH if text.isascii() else MIN_PROTECTED_LENGTH)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def disclosure(raw_record: Mapping[str, Any], crossing: Crossing) -> tuple[str, str] | None:
    """A kept shared field that contains the value of a raw field the agreement protects, or None.

    Protected: the text fields (identifiers, names, free text) that the crossing
    dropped, pseudonymised or generalised. A kept text that contains one of their
    values would disclose it, e.g. a ``visit_id`` built as ``<case_id>-V001``
    carries the raw case number into the shared zone. (The shared key is a kept
    field or a pseudonym, so it is covered.) Returns ``(shared field, protected raw field)``.
    """
    sources, targets = _disclosure_fields(
        crossing.event_type, crossing.dropped, crossing.pseudonymised, crossing.generalised, crossing.kept
    )
    protected = [(source, v) for source in sources for v in _strings(raw_record.get(source)) if _guarded(v)]
    if not protected:
        return None
    shared = crossing.shared_record
    for target in targets:
        for shown in _strings(shared.get(target)):
            for source, secret in protected:
                if secret in shown:
                    return target, source
    return None


@lru_cache(maxsize=4096)
def _disclosure_fields(
    event_type: str,
    dropped: tuple[str, ...],
    pseudonymised: tuple[str, ...],
    generalised: tuple[str, ...],
    kept: tuple[str, ...],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The raw text fields a crossing protects and the shared fields it keeps that are scanned.

    Cached per distinct outcome of the rules (few per event type: ``keep_if`` varies them).
    """
    text = _text_fields(event_type)
    sources = [_source_of(label) for labels in (dropped, pseudonymised, generalised) for label in labels]
    targets = [_target_of(label) for label in kept]
    return tuple(s for s in sources if s in text), tuple(t for t in targets if t not in _CHECKED_CODES)


def _source_of(label: str) -> str:
    """``source`` of an audit label ``source`` or ``source->target``."""
    return label.split("->", 1)[0]


def _target_of(label: str) -> str:
    """``target`` of an audit label ``target`` or ``source->target``."""
    return label.split("->", 1)[-1]


# -- the border ----------------------------------------------------------------------------------
class Border:
    """Crosses raw records of the regions it serves; one instance per gateway worker (not thread-safe).

    ``decoders`` maps an event type to the decoder of its raw topics (a reader
    schema of that type, so another type's writer schema fails to resolve);
    ``schema_ids`` maps every subject of :func:`output_schemas` to its registry id.
    """

    def __init__(
        self,
        agreements: Mapping[str, Agreement],
        keys: Mapping[str, bytes],
        decoders: Mapping[str, Decoder],
        schema_ids: Mapping[str, int],
        *,
        units: OrgUnits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        consumer: str = CONSUMER,
    ) -> None:
        missing = sorted(set(agreements) - set(keys))
        if missing:
            raise PolicyError(f"no HMAC key given for the agreements of {', '.join(missing)}")
        self._agreements = dict(agreements)
        self._keys = dict(keys)
        self._decoders = dict(decoders)
        self._ids = dict(schema_ids)
        self._units = units
        self._clock = clock
        self._consumer = consumer
        # per topic, computed once: a raw topic's route, an output topic's frame header
        self._routes: dict[str, tuple[naming.RawCoordinates, Agreement]] = {}
        self._headers: dict[str, bytes] = {}

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self._agreements)

    def cross_batch(self, records: Iterable[RawRecord]) -> list[Outcome]:
        """:meth:`cross` each record, in order; the audit records of one batch share one ``crossed_at``."""
        now = self._clock()
        return [self.cross(r, now) for r in records]

    def cross(self, src: RawRecord, now: datetime | None = None) -> Outcome:
        """Cross one raw record; never raises for a bad record (only :class:`SchemaRegistryError`).

        ``now`` is the audit record's ``crossed_at`` (default: the clock's now).
        """
        try:
            return self._cross(src, self._clock() if now is None else now)
        except _Refusal as refusal:
            return self._refuse(src, refusal.stage, refusal.reason, refusal.event_id)
        except SchemaRegistryError:
            raise  # an outage: the caller waits and retries
        except Exception as exc:  # noqa: BLE001 - a record must never stop the gateway; keep it in the DLQ
            return self._refuse(src, "apply", f"unexpected {type(exc).__name__}: {exc}", None)

    # -- steps ------------------------------------------------------------------------------------
    def _cross(self, src: RawRecord, now: datetime) -> Crossed:
        coords, agreement = self._route(src)
        schema_id, record = self._decode(src, coords.event_type)
        raw_id = record.get("event_id")
        event_id = raw_id if isinstance(raw_id, str) else None
        validated = self._validate(src, coords, schema_id, record, event_id)
        try:
            crossing = apply(agreement, self._keys[coords.region], coords.event_type, validated, units=self._units)
        except PolicyError as exc:
            raise _Refusal("policy", str(exc), event_id) from exc
        leak = disclosure(validated, crossing)
        if leak is not None:
            target, source = leak
            raise _Refusal(
                "policy",
                f"field {target}: contains the value of {source}, which agreement {agreement.id} "
                f"v{agreement.version} does not let cross; the event is withheld",
                event_id,
            )
        return self._encode(src, coords.region, crossing, now)

    def _route(self, src: RawRecord) -> tuple[naming.RawCoordinates, Agreement]:
        route = self._routes.get(src.topic)
        if route is None:
            route = self._routes[src.topic] = self._new_route(src)  # bounded: the consumed topics
        return route

    def _new_route(self, src: RawRecord) -> tuple[naming.RawCoordinates, Agreement]:
        try:
            coords = naming.parse_raw_topic(src.topic)
        except ValueError as exc:
            raise _Refusal("decode", f"topic {src.topic}: {exc}") from exc
        agreement = self._agreements.get(coords.region)
        if agreement is None:
            raise _Refusal("policy", f"topic {src.topic}: region {coords.region} is not served by this gateway")
        if coords.event_type not in self._decoders:
            raise _Refusal("decode", f"topic {src.topic}: unknown event type {coords.event_type}")
        return coords, agreement

    def _decode(self, src: RawRecord, event_type: str) -> tuple[int, Record]:
        if src.value is None:
            raise _Refusal("decode", "record has no value (a tombstone); raw topics hold events only")
        try:
            return self._decoders[event_type].decode(src.value)
        except SerializationError as exc:
            raise _Refusal("decode", str(exc)) from exc

    def _validate(
        self,
        src: RawRecord,
        coords: naming.RawCoordinates,
        schema_id: int,
        record: Record,
        event_id: str | None,
    ) -> dict[str, Any]:
        try:
            # the decoded record itself, not its JSON form: the same rules (validate_record says why)
            validated = validate_record(coords.event_type, record)
        except ValidationError as exc:
            raise _Refusal("validate", f"{coords.event_type} (schema id {schema_id}): {exc}", event_id) from exc
        except SerializationError as exc:
            raise _Refusal("validate", str(exc), event_id) from exc
        if validated.region != coords.region or validated.district != coords.district:
            raise _Refusal(
                "validate",
                f"field district: {validated.region}/{validated.district} does not match the topic {src.topic} "
                f"({coords.region}/{coords.district}); a district publishes only to its own topics",
                event_id,
            )
        return validated.record

    def _encode(self, src: RawRecord, region: str, crossing: Crossing, now: datetime) -> Crossed:
        try:
            key = crossing.key.encode("utf-8")
            body = encode_body(parsed_schema("shared", crossing.event_type), crossing.shared_record)
            topics = crossing.topics
            shared = tuple(OutputRecord(t, key, self._header(t) + body) for t in topics)
            audit_record = build_audit(crossing, src.coordinates, topics, now)
            audit = OutputRecord(
                naming.AUDIT_TOPIC,
                crossing.event_id.encode("utf-8"),
                self._header(naming.AUDIT_TOPIC) + _audit_body(audit_record),
            )
        except SerializationError as exc:
            raise _Refusal("encode", str(exc), crossing.event_id) from exc
        return Crossed(src, crossing.event_id, crossing.event_type, region, crossing.zones, shared, audit)

    def _header(self, topic: str) -> bytes:
        """The Confluent frame header (magic byte, schema id) of ``topic``'s records, built once per topic."""
        found = self._headers.get(topic)
        if found is not None:
            return found
        subject = naming.subject_for(topic)
        try:
            schema_id = self._ids[subject]
        except KeyError:
            raise SerializationError(f"no schema id registered at start for subject {subject}") from None
        found = self._headers[topic] = frame(schema_id, b"")
        return found

    def _refuse(self, src: RawRecord, stage: str, reason: str, event_id: str | None) -> Refused:
        return Refused(src, DeadLetter.of(src, consumer=self._consumer, stage=stage, reason=reason, event_id=event_id))


__all__ = [
    "CONSUMER",
    "Border",
    "Crossed",
    "Decoder",
    "Outcome",
    "OutputRecord",
    "RawRecord",
    "Refused",
    "disclosure",
    "output_schemas",
]
