"""Data-sharing agreements and the crossing of one event from a raw to a shared topic.

An agreement is a declarative YAML file (``agreements/<region>.yaml``, format in
``docs/agreements.md``) naming, per event type, what happens to each raw field:
keep, drop, pseudonymise (keyed HMAC-SHA256 into a ``*_ref`` field), generalise
(e.g. birth year into an age band) or keep only under a condition. Deny by
default: a raw field no rule names is dropped, never copied.

Pure: no Kafka, no HTTP, no SQL. :func:`load_agreement` and
:func:`load_agreements` read files; everything else works on values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from hub.catalogue import RAW_KEY_FIELD
from hub.errors import PolicyError
from hub.naming import shared_topic
from hub.orgunits import REGIONS, OrgUnits, org_units
from hub.schemas import event_types, load_schema, schemas_dir
from hub.zones import ZONE_REGIONS, ZONES, zones_for

# -- constants -----------------------------------------------------------------
KEY_VARIABLE_PREFIX: Final = "HUB_AGREEMENT_KEY_"
MIN_KEY_BYTES: Final = 32
"""Shortest HMAC key accepted: 32 bytes, the HMAC-SHA256 output length (RFC 2104's minimum)."""
PSEUDONYM_DOMAIN: Final = b"hub-pseudonym-v1"
"""First part of every pseudonym message; a new construction gets a new domain."""
MUST_KEEP: Final[tuple[str, ...]] = ("event_id", "occurred_at", "region", "district")
"""Envelope fields every event rule set must keep unchanged (``station`` may be dropped)."""
GBA_ONLY_REGIONS: Final[frozenset[str]] = frozenset({"HK", "MO"})
"""Regions whose GBA standard contracts forbid onward transfer outside the Bay Area."""
MAX_AGE: Final = 120
"""Ages above this are implausible and band as ``UNKNOWN``."""
REPORTING_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Asia/Shanghai as a fixed UTC+8: China has had no DST since 1991 and none ever at a year boundary,
so the calendar year (all an age band needs) is exact without a tz database."""

_AGREEMENT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_REF_SUFFIXES: Final = ("_refs", "_ref")

Action = Literal["keep", "drop", "pseudonymise", "generalise", "keep_if"]

PseudonymFn = Callable[[bytes, str, str, str], str]
"""``(key, kind, district, value) -> pseudonym``; :func:`pseudonym` is the default."""


# -- errors ----------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong with an agreement file."""

    origin: str
    event: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.origin]
        if self.event:
            where.append(f"event {self.event}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{': '.join(where)}: {self.message}"


class AgreementError(PolicyError):
    """One or more agreement files are invalid; ``problems`` lists each (file, event, field, message)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


# -- pure functions ----------------------------------------------------------------
def key_variable(agreement_id: str) -> str:
    """Environment variable holding an agreement's HMAC key.

    Rule: ``HUB_AGREEMENT_KEY_`` + the id upper-cased with every character that is
    not A-Z or 0-9 replaced by ``_``: ``gd-exchange`` -> ``HUB_AGREEMENT_KEY_GD_EXCHANGE``.
    """
    return KEY_VARIABLE_PREFIX + re.sub(r"[^A-Z0-9]", "_", agreement_id.upper())


def _length_prefixed(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


def pseudonym(key: bytes, kind: str, district: str, value: str) -> str:
    """Pseudonym of an identifier: lowercase hex HMAC-SHA256 (64 characters).

    Message: ``PSEUDONYM_DOMAIN``, ``kind``, ``district``, ``value``, each UTF-8 encoded and
    prefixed by its length as 4 bytes big-endian, concatenated. Unambiguous for any
    values. ``kind`` names the identifier space (``case``, ``worker``...), so the
    same case id gives the same ``case_ref`` in every event type; ids are
    district-scoped, hence the district.
    """
    message = b"".join(_length_prefixed(p.encode("utf-8")) for p in (kind, district, value))
    return hmac.new(key, _length_prefixed(PSEUDONYM_DOMAIN) + message, hashlib.sha256).hexdigest()


def age_band(birth_year: int | None, on: date) -> str:
    """Age band of someone born in ``birth_year``, as of the calendar year of ``on``.

    Age is ``on.year - birth_year`` (the age reached during that year). Bands,
    inclusive: ``0-17``, ``18-59``, ``60-69``, ``70-79``, ``80+`` (80..MAX_AGE).
    ``None``, a non-int, a birth after ``on`` or an age above ``MAX_AGE`` give ``UNKNOWN``.
    """
    if birth_year is None or isinstance(birth_year, bool) or not isinstance(birth_year, int):
        return "UNKNOWN"
    age = on.year - birth_year
    if age < 0 or age > MAX_AGE:
        return "UNKNOWN"
    if age <= 17:
        return "0-17"
    if age <= 59:
        return "18-59"
    if age <= 69:
        return "60-69"
    if age <= 79:
        return "70-79"
    return "80+"


def local_date(occurred_at: datetime | int) -> date:
    """Asia/Shanghai calendar date of an ``occurred_at`` (aware datetime or epoch milliseconds)."""
    if isinstance(occurred_at, datetime):
        if occurred_at.tzinfo is None:
            raise PolicyError("occurred_at: must be timezone-aware (UTC), got a naive datetime")
        moment = occurred_at
    elif isinstance(occurred_at, int) and not isinstance(occurred_at, bool):
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=occurred_at)
    else:
        raise PolicyError(f"occurred_at: expected a datetime or epoch milliseconds, got {type(occurred_at).__name__}")
    return moment.astimezone(REPORTING_TZ).date()


Generaliser = Callable[[Any, date], Any]


@dataclass(frozen=True)
class GeneraliserSpec:
    """A named generalisation: the function, and the Avro types it reads and writes."""

    fn: Generaliser
    source_types: tuple[str, ...]
    target_type: str


#: Rule name -> generaliser. ``fn(value, local_date_of_occurred_at)``.
GENERALISERS: Final[Mapping[str, GeneraliserSpec]] = MappingProxyType(
    {"age_band": GeneraliserSpec(fn=age_band, source_types=("int",), target_type="string")}
)


# -- file model (pydantic) -----------------------------------------------------------
_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConditionFile(BaseModel):
    """``keep_if`` condition: keep the field only when ``field``'s value is (not) in a list."""

    model_config = _STRICT
    field: str
    in_: tuple[str, ...] | None = Field(None, alias="in")
    not_in: tuple[str, ...] | None = None


class PseudonymiseFile(BaseModel):
    """Long form of a pseudonymise rule; the short form is just the target name."""

    model_config = _STRICT
    to: str
    kind: str | None = None


class GeneraliseFile(BaseModel):
    model_config = _STRICT
    to: str
    rule: str


class EventRulesFile(BaseModel):
    """Rules of one event type, as written in the file."""

    model_config = _STRICT
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    pseudonymise: dict[str, str | PseudonymiseFile] = Field(default_factory=dict)
    generalise: dict[str, GeneraliseFile] = Field(default_factory=dict)
    keep_if: dict[str, ConditionFile] = Field(default_factory=dict)


class AgreementFile(BaseModel):
    """One agreement file, as written (see docs/agreements.md)."""

    model_config = _STRICT
    id: str
    version: int = Field(ge=1)
    source_region: str
    title: str = ""
    zones: tuple[str, ...] = Field(min_length=1)
    key: str
    partners: tuple[str, ...] | None = None
    events: dict[str, EventRulesFile] = Field(min_length=1)


# -- compiled agreement ------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    field: str
    values: frozenset[str]
    negate: bool

    def holds(self, record: Mapping[str, Any]) -> bool:
        """True when the record satisfies the condition; a missing or null value never does."""
        value = record.get(self.field)
        if value is None:
            return False
        return (str(value) in self.values) != self.negate

    def __str__(self) -> str:
        op = "not in" if self.negate else "in"
        return f"{self.field} {op} [{', '.join(sorted(self.values))}]"


@dataclass(frozen=True)
class FieldRule:
    """What happens to one raw field."""

    action: Action
    source: str
    target: str | None = None
    kind: str | None = None
    rule: str | None = None
    condition: Condition | None = None

    @property
    def label(self) -> str:
        """Audit form: ``field`` or ``field->target``."""
        return self.source if self.target in (None, self.source) else f"{self.source}->{self.target}"


@dataclass(frozen=True, eq=False)
class EventPlan:
    """Compiled rules of one event type, checked against the raw and shared schemas."""

    event_type: str
    rules: tuple[FieldRule, ...]
    raw_fields: tuple[str, ...]
    shared_fields: tuple[str, ...]
    defaults: Mapping[str, Any]
    key_field: str
    unnamed: tuple[str, ...]
    """Raw schema fields no rule names: dropped by default."""

    @property
    def by_source(self) -> Mapping[str, FieldRule]:
        return {r.source: r for r in self.rules}


@dataclass(frozen=True, eq=False)
class Agreement:
    """A loaded, checked data-sharing agreement."""

    id: str
    version: int
    source_region: str
    zones: tuple[str, ...]
    key_variable: str
    partners: tuple[str, ...] | None
    plans: Mapping[str, EventPlan]
    title: str = ""
    origin: str = "<memory>"

    def plan(self, event_type: str) -> EventPlan:
        """Rules of ``event_type``; an event type the agreement does not cover is a :class:`PolicyError`."""
        try:
            return self.plans[event_type]
        except KeyError:
            raise PolicyError(
                f"agreement {self.id} v{self.version} ({self.origin}) has no rules for event {event_type}: "
                "it does not cross"
            ) from None


def allows_partner(agreement: Agreement, region: str) -> bool:
    """May subscribers of ``region`` receive this agreement's shared events?

    The source region itself always may. Others must lie in one of the agreement's
    zones and, when ``partners`` is given, be listed there.
    """
    if region == agreement.source_region:
        return True
    in_zones = any(region in ZONE_REGIONS[z] for z in agreement.zones)
    return in_zones and (agreement.partners is None or region in agreement.partners)


def entitled_zones(agreements: Iterable[Agreement], region: str) -> tuple[str, ...]:
    """Zones whose shared topics ``region`` may read: every agreement that sends to the zone allows it."""
    pool = list(agreements)
    out: list[str] = []
    for zone in ZONES:
        senders = [a for a in pool if zone in a.zones]
        if region in ZONE_REGIONS[zone] and senders and all(allows_partner(a, region) for a in senders):
            out.append(zone)
    return tuple(out)


# -- schema helpers ----------------------------------------------------------------------
def _strip(avro: Any) -> Any:
    """An Avro type without docs, namespaces or name qualifiers, for comparing raw with shared."""
    if isinstance(avro, dict):
        return {k: _strip(v) for k, v in avro.items() if k not in ("doc", "namespace")}
    if isinstance(avro, list):
        return [_strip(v) for v in avro]
    if isinstance(avro, str):
        return avro.rsplit(".", 1)[-1]
    return avro


def _branches(avro: Any) -> tuple[bool, Any]:
    """``(nullable, non-null type)`` of a field type."""
    if isinstance(avro, list):
        rest = [b for b in avro if b != "null"]
        return len(rest) < len(avro), rest[0] if len(rest) == 1 else rest
    return False, avro


def _base(avro: Any) -> str:
    """Primitive or complex type name of a non-union type (logical types ignored)."""
    return str(avro.get("type")) if isinstance(avro, dict) else str(avro)


def _fields(form: Literal["raw", "shared"], event_type: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in load_schema(form, event_type)["fields"]}


# -- compile + check -----------------------------------------------------------------------
class _Collector:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.problems: list[Problem] = []

    def add(self, message: str, event: str | None = None, field_name: str | None = None) -> None:
        self.problems.append(Problem(self.origin, event, field_name, message))


def _rules_of(event_type: str, spec: EventRulesFile, out: _Collector) -> list[FieldRule]:
    rules: list[FieldRule] = [FieldRule("keep", name, name) for name in spec.keep]
    rules += [FieldRule("drop", name) for name in spec.drop]
    for name, p in spec.pseudonymise.items():
        long = p if isinstance(p, PseudonymiseFile) else PseudonymiseFile(to=p)
        kind = long.kind
        if kind is None:
            kind = next((long.to[: -len(s)] for s in _REF_SUFFIXES if long.to.endswith(s)), None)
            if not kind:
                out.add(
                    f"pseudonymise target {long.to!r} must end in _ref or _refs, or give an explicit kind",
                    event_type,
                    name,
                )
                continue
        if not _KIND.fullmatch(kind):
            out.add(f"pseudonym kind {kind!r} must be lowercase letters, digits and _", event_type, name)
            continue
        rules.append(FieldRule("pseudonymise", name, long.to, kind=kind))
    for name, g in spec.generalise.items():
        rules.append(FieldRule("generalise", name, g.to, rule=g.rule))
    for name, c in spec.keep_if.items():
        if (c.in_ is None) == (c.not_in is None):
            out.add("keep_if needs exactly one of 'in' or 'not_in'", event_type, name)
            continue
        values = c.in_ if c.in_ is not None else c.not_in
        assert values is not None
        rules.append(FieldRule("keep_if", name, name, condition=Condition(c.field, frozenset(values), c.in_ is None)))
    return rules


def _keep_problem(rule: FieldRule, raw_type: Any, shared_type: Any, raw: Mapping[str, Any]) -> str | None:
    if _strip(raw_type) != _strip(shared_type):
        return f"keep: raw type {_strip(raw_type)} differs from shared type {_strip(shared_type)}"
    return None


def _keep_if_problem(rule: FieldRule, raw_type: Any, shared_type: Any, raw: Mapping[str, Any]) -> str | None:
    cond = rule.condition
    assert cond is not None
    nullable, inner = _branches(shared_type)
    if not nullable or _strip(inner) != _strip(_branches(raw_type)[1]):
        return f"keep_if: shared field {rule.target!r} must be the raw type made nullable"
    if cond.field not in raw:
        return f"keep_if condition names {cond.field!r}, which the raw schema lacks"
    if cond.field == rule.source:
        return "keep_if condition must test another field"
    _, cond_type = _branches(raw[cond.field]["type"])
    if isinstance(cond_type, dict) and cond_type.get("type") == "enum":
        unknown = sorted(cond.values - set(cond_type["symbols"]))
        if unknown:
            return f"keep_if condition values {unknown} are not symbols of {cond.field}"
    return None


def _pseudonymise_problem(rule: FieldRule, raw_type: Any, shared_type: Any, raw: Mapping[str, Any]) -> str | None:
    r_null, r_inner = _branches(raw_type)
    s_null, s_inner = _branches(shared_type)
    r_array, s_array = _base(r_inner) == "array", _base(s_inner) == "array"
    r_item = _base(r_inner["items"]) if r_array else _base(r_inner)
    s_item = _base(s_inner["items"]) if s_array else _base(s_inner)
    if r_item != "string" or s_item != "string" or r_array != s_array or (r_null and not s_null):
        return (
            "pseudonymise: needs string -> string or array<string> -> array<string> (nullable only if the "
            f"target is); got {_strip(raw_type)} -> {_strip(shared_type)}"
        )
    return None


def _generalise_problem(rule: FieldRule, raw_type: Any, shared_type: Any, raw: Mapping[str, Any]) -> str | None:
    spec = GENERALISERS.get(rule.rule or "")
    if spec is None:
        return f"unknown generalisation rule {rule.rule!r}; known: {', '.join(GENERALISERS)}"
    if _base(_branches(raw_type)[1]) not in spec.source_types or _strip(shared_type) != spec.target_type:
        return (
            f"generalise {rule.rule}: needs {'/'.join(spec.source_types)} -> {spec.target_type}, "
            f"got {_strip(raw_type)} -> {_strip(shared_type)}"
        )
    return None


_TYPE_CHECKS: Final[Mapping[str, Callable[[FieldRule, Any, Any, Mapping[str, Any]], str | None]]] = {
    "keep": _keep_problem,
    "keep_if": _keep_if_problem,
    "pseudonymise": _pseudonymise_problem,
    "generalise": _generalise_problem,
}


def _check_rule(
    event_type: str, rule: FieldRule, raw: Mapping[str, Any], shared: Mapping[str, Any], out: _Collector
) -> bool:
    """Check one rule against both schemas; False (with the problem recorded) if it is unusable."""
    if rule.source not in raw:
        out.add(f"{rule.action} names a field the raw {event_type} schema lacks", event_type, rule.source)
        return False
    if rule.action == "drop":
        return True
    assert rule.target is not None
    if rule.target not in shared:
        message = f"{rule.action} target {rule.target!r} is not a field of the shared {event_type} schema"
        out.add(message, event_type, rule.source)
        return False
    problem = _TYPE_CHECKS[rule.action](rule, raw[rule.source]["type"], shared[rule.target]["type"], raw)
    if problem is not None:
        out.add(problem, event_type, rule.source)
    return problem is None


def _compile_event(event_type: str, spec: EventRulesFile, out: _Collector) -> EventPlan | None:
    if event_type not in event_types("raw") or event_type not in event_types("shared"):
        out.add(f"unknown event type; expected one of {', '.join(event_types('raw'))}", event_type)
        return None
    before = len(out.problems)
    raw, shared = _fields("raw", event_type), _fields("shared", event_type)
    rules = _rules_of(event_type, spec, out)
    seen: dict[str, FieldRule] = {}
    targets: dict[str, FieldRule] = {}
    for rule in rules:
        if rule.source in seen:
            first = seen[rule.source].action
            twice = "twice" if first == rule.action else f"by {first} and {rule.action}"
            out.add(f"named {twice}; a field takes exactly one rule", event_type, rule.source)
            continue
        seen[rule.source] = rule
        if not _check_rule(event_type, rule, raw, shared, out) or rule.target is None:
            continue
        if rule.target in targets:
            out.add(
                f"target {rule.target!r} is also written from {targets[rule.target].source!r}", event_type, rule.source
            )
            continue
        targets[rule.target] = rule
    for name in MUST_KEEP:
        if name in raw and (name not in seen or seen[name].action != "keep"):
            out.add("envelope field must be kept (listed under keep)", event_type, name)
    key_source = RAW_KEY_FIELD.get(event_type)
    if key_source is not None and (key_source not in seen or seen[key_source].action not in ("keep", "pseudonymise")):
        out.add("the aggregate id (the Kafka key) must be kept or pseudonymised", event_type, key_source)
    defaults: dict[str, Any] = {}
    for name, spec_field in shared.items():
        if name in targets:
            continue
        if "default" not in spec_field:
            out.add("shared field is written by no rule and has no default", event_type, name)
        else:
            defaults[name] = spec_field["default"]
    if len(out.problems) > before or key_source is None:
        return None
    key_rule = seen[key_source]
    assert key_rule.target is not None
    order = {name: i for i, name in enumerate(raw)}
    return EventPlan(
        event_type=event_type,
        rules=tuple(sorted(rules, key=lambda r: order[r.source])),
        raw_fields=tuple(raw),
        shared_fields=tuple(shared),
        defaults=MappingProxyType(defaults),
        key_field=key_rule.target,
        unnamed=tuple(n for n in raw if n not in seen),
    )


def compile_agreement(doc: AgreementFile, origin: str = "<memory>") -> Agreement:
    """Check an agreement file against regions, zones and the Avro schemas; raise :class:`AgreementError`."""
    out = _Collector(origin)
    if not _AGREEMENT_ID.fullmatch(doc.id):
        out.add(f"id: {doc.id!r} must be lowercase letters, digits and single hyphens")
    expected_key = key_variable(doc.id)
    if doc.key != expected_key:
        out.add(f"key: {doc.key!r} must be {expected_key} (HUB_AGREEMENT_KEY_ + id upper-cased, non-alphanumerics _)")
    region = doc.source_region
    if region not in REGIONS:
        out.add(f"source_region: {region!r} is not a region; expected one of {', '.join(REGIONS)}")
    for zone in doc.zones:
        if zone not in ZONES:
            out.add(f"zones: {zone!r} is not a zone; expected one of {', '.join(ZONES)}")
        elif region in GBA_ONLY_REGIONS and zone != "gba":
            out.add(
                f"zones: a {region} agreement may allow only gba, not {zone!r} "
                "(GBA standard contracts forbid onward transfer outside the Bay Area)"
            )
        elif region in REGIONS and region not in ZONE_REGIONS[zone]:
            out.add(f"zones: {region} is not a member of zone {zone!r}")
    if len(set(doc.zones)) != len(doc.zones):
        out.add("zones: a zone is listed twice")
    reachable = set().union(*(ZONE_REGIONS.get(z, frozenset()) for z in doc.zones))
    for partner in doc.partners or ():
        if partner not in REGIONS:
            out.add(f"partners: {partner!r} is not a region; expected one of {', '.join(REGIONS)}")
        elif partner not in reachable:
            out.add(f"partners: {partner} is outside the agreement's zones ({', '.join(doc.zones)})")
    plans: dict[str, EventPlan] = {}
    for event_type, spec in doc.events.items():
        plan = _compile_event(event_type, spec, out)
        if plan is not None:
            plans[event_type] = plan
    if out.problems:
        raise AgreementError(out.problems)
    return Agreement(
        id=doc.id,
        version=doc.version,
        source_region=region,
        zones=tuple(z for z in ZONES if z in doc.zones),
        key_variable=expected_key,
        partners=doc.partners,
        plans=MappingProxyType(plans),
        title=doc.title,
        origin=origin,
    )


# -- loading --------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (PyYAML silently keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _pydantic_problems(exc: PydanticValidationError, origin: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        event = loc[1] if len(loc) > 1 and loc[0] == "events" else None
        rest = loc[2:] if event else loc
        problems.append(Problem(origin, event, ".".join(rest) or None, err["msg"]))
    return problems


def parse_agreement(text: str, origin: str = "<memory>") -> Agreement:
    """Parse and check an agreement from YAML text."""
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise AgreementError([Problem(origin, None, None, f"{where}not valid YAML: {problem}")]) from exc
    if not isinstance(doc, dict):
        raise AgreementError([Problem(origin, None, None, "expected a YAML mapping at the top level")])
    try:
        parsed = AgreementFile.model_validate(doc)
    except PydanticValidationError as exc:
        raise AgreementError(_pydantic_problems(exc, origin)) from exc
    return compile_agreement(parsed, origin)


def load_agreement(path: Path) -> Agreement:
    """Read and check one agreement file; problems raise :class:`AgreementError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError([Problem(str(path), None, None, f"cannot read: {exc}")]) from exc
    return parse_agreement(text, str(path))


def agreement_files(directory: Path) -> list[Path]:
    """The ``*.yaml`` / ``*.yml`` files of an agreements directory, sorted."""
    if not directory.is_dir():
        raise AgreementError([Problem(str(directory), None, None, "agreements directory does not exist")])
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_agreements(directory: Path) -> dict[str, Agreement]:
    """Every agreement of a directory, by source region; all problems of all files in one :class:`AgreementError`."""
    files = agreement_files(directory)
    if not files:
        raise AgreementError([Problem(str(directory), None, None, "no agreement files (*.yaml)")])
    problems: list[Problem] = []
    by_region: dict[str, Agreement] = {}
    by_id: dict[str, Agreement] = {}
    for path in files:
        try:
            agreement = load_agreement(path)
        except AgreementError as exc:
            problems.extend(exc.problems)
            continue
        if agreement.source_region in by_region:
            other = by_region[agreement.source_region].origin
            problems.append(
                Problem(
                    str(path),
                    None,
                    "source_region",
                    f"second agreement for region {agreement.source_region} (first: {other})",
                )
            )
            continue
        if agreement.id in by_id:
            problems.append(
                Problem(str(path), None, "id", f"id {agreement.id} is also used by {by_id[agreement.id].origin}")
            )
            continue
        by_region[agreement.source_region] = agreement
        by_id[agreement.id] = agreement
    if problems:
        raise AgreementError(problems)
    return {region: by_region[region] for region in REGIONS if region in by_region}


def default_agreements_dir() -> Path:
    """The shipped agreements: ``hub/_agreements`` in an installed wheel, else the repository's ``agreements/``."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_agreements", package.parent / "agreements"):
        if candidate.is_dir():
            return candidate
    return package.parent / "agreements"


def agreements_dir(configured: Path | None) -> Path:
    """``settings.agreements_dir`` if set, else :func:`default_agreements_dir`."""
    return configured if configured is not None else default_agreements_dir()


# -- the crossing ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Crossing:
    """The shared form of one raw event and what happened to each field (for the audit record)."""

    event_type: str
    event_id: str
    occurred_at: datetime | int
    agreement_id: str
    agreement_version: int
    shared_record: dict[str, Any] = field(hash=False)
    key: str
    """Shared Kafka key (UTF-8): the kept or pseudonymised aggregate id, never the raw one."""
    zones: tuple[str, ...]
    """Zones the event enters; empty means the agreement lets it go nowhere (audit it, write nothing)."""
    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    pseudonymised: tuple[str, ...]
    generalised: tuple[str, ...]

    @property
    def topics(self) -> tuple[str, ...]:
        """Shared topics to write, one per zone."""
        return tuple(shared_topic(z, self.event_type) for z in self.zones)


def _pseudonymise(fn: PseudonymFn, key: bytes, rule: FieldRule, district: str, value: Any) -> Any:
    assert rule.kind is not None
    if value is None:
        return None
    if isinstance(value, str):
        return fn(key, rule.kind, district, value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [fn(key, rule.kind, district, v) for v in value]
    raise PolicyError(f"field {rule.source}: cannot pseudonymise a {type(value).__name__}; expected text")


def apply(
    agreement: Agreement,
    key: bytes,
    event_type: str,
    raw_record: Mapping[str, Any],
    *,
    pseudonym_fn: PseudonymFn = pseudonym,
    units: OrgUnits | None = None,
) -> Crossing:
    """Cross one raw record (as fastavro decodes it) into its shared form under ``agreement``.

    Deny by default: any field of ``raw_record`` that no keep / keep_if /
    pseudonymise / generalise rule names is dropped and listed in ``dropped``.
    The shared record holds exactly the shared schema's fields. Raises
    :class:`PolicyError` if the event type is not covered, the district is
    unknown or outside the agreement's region, or a named field is missing.
    """
    if len(key) < MIN_KEY_BYTES:
        raise PolicyError(f"agreement {agreement.id}: HMAC key is {len(key)} bytes; at least {MIN_KEY_BYTES} needed")
    plan = agreement.plan(event_type)
    district_code = raw_record.get("district")
    district = (units or org_units()).district(str(district_code)) if isinstance(district_code, str) else None
    if district is None:
        raise PolicyError(f"field district: {district_code!r} is not a known district")
    if district.region != agreement.source_region or raw_record.get("region") != agreement.source_region:
        raise PolicyError(
            f"field district: {district.code} (region {district.region}, record region {raw_record.get('region')}) "
            f"is outside agreement {agreement.id}, which covers {agreement.source_region}"
        )
    occurred_at = raw_record.get("occurred_at")
    if not isinstance(occurred_at, datetime | int):
        raise PolicyError(f"field occurred_at: missing or not a timestamp in {event_type}")
    on = local_date(occurred_at)
    missing = [r.source for r in plan.rules if r.action != "drop" and r.source not in raw_record]
    if missing:
        raise PolicyError(f"field {missing[0]}: missing from the raw {event_type} record")
    rules = plan.by_source
    shared: dict[str, Any] = {}
    kept: list[str] = []
    dropped: list[str] = []
    pseudonymised: list[str] = []
    generalised: list[str] = []
    for name, value in raw_record.items():
        found = rules.get(name)
        if found is None or found.action == "drop":
            dropped.append(name)
            continue
        assert found.target is not None
        if found.action == "keep":
            shared[found.target] = value
            kept.append(found.label)
        elif found.action == "keep_if":
            assert found.condition is not None
            allowed = found.condition.holds(raw_record)
            shared[found.target] = value if allowed else None
            (kept if allowed else dropped).append(found.label)
        elif found.action == "pseudonymise":
            shared[found.target] = _pseudonymise(pseudonym_fn, key, found, district.code, value)
            pseudonymised.append(found.label)
        else:
            shared[found.target] = GENERALISERS[found.rule or ""].fn(value, on)
            generalised.append(found.label)
    for name, default in plan.defaults.items():
        shared.setdefault(name, default)
    # Invariant: exactly the shared schema's fields, in its order.
    ordered = {name: shared[name] for name in plan.shared_fields}
    shared_key = ordered[plan.key_field]
    if not isinstance(shared_key, str) or not shared_key:
        raise PolicyError(f"field {plan.key_field}: the shared aggregate id is empty")
    return Crossing(
        event_type=event_type,
        event_id=str(raw_record.get("event_id")),
        occurred_at=occurred_at,
        agreement_id=agreement.id,
        agreement_version=agreement.version,
        shared_record=ordered,
        key=shared_key,
        zones=tuple(z for z in agreement.zones if z in zones_for(district)),
        kept=tuple(kept),
        dropped=tuple(dropped),
        pseudonymised=tuple(pseudonymised),
        generalised=tuple(generalised),
    )


# -- audit ---------------------------------------------------------------------------------------
AUDIT_SCHEMA_NAME: Final = "CrossingAudited"


def audit_schema() -> dict[str, Any]:
    """The Avro schema of ``hub.audit`` records (``schemas/hub/CrossingAudited.avsc``)."""
    path = schemas_dir() / "hub" / f"{AUDIT_SCHEMA_NAME}.avsc"
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot read the audit schema {path}: {exc}") from exc
    return doc


@dataclass(frozen=True)
class SourceCoordinates:
    """Where the raw record was read: topic, partition, offset."""

    topic: str
    partition: int
    offset: int


def build_audit(
    crossing: Crossing, source: SourceCoordinates, targets: Sequence[str], crossed_at: datetime
) -> dict[str, Any]:
    """The ``hub.audit`` record of one crossing (fits :func:`audit_schema`).

    ``targets`` are the shared topics actually written (normally ``crossing.topics``).
    """
    if crossed_at.tzinfo is None:
        raise PolicyError("crossed_at: must be timezone-aware (UTC), got a naive datetime")
    return {
        "event_id": crossing.event_id,
        "event_type": crossing.event_type,
        "occurred_at": crossing.occurred_at,
        "crossed_at": crossed_at,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "targets": list(targets),
        "agreement_id": crossing.agreement_id,
        "agreement_version": crossing.agreement_version,
        "kept": list(crossing.kept),
        "dropped": list(crossing.dropped),
        "pseudonymised": list(crossing.pseudonymised),
        "generalised": list(crossing.generalised),
    }


__all__ = [
    "Agreement",
    "AgreementError",
    "Crossing",
    "EventPlan",
    "FieldRule",
    "Problem",
    "SourceCoordinates",
    "age_band",
    "allows_partner",
    "apply",
    "audit_schema",
    "build_audit",
    "default_agreements_dir",
    "entitled_zones",
    "key_variable",
    "load_agreement",
    "load_agreements",
    "pseudonym",
]
