"""Compile an agreement file into an :class:`~hub.agreements.model.Agreement`, checking it against the hub.

:func:`compile_agreement` checks a parsed file (:mod:`hub.agreements.file_schema`)
against the regions, the zones and the raw and shared Avro schemas, and
collects every fault as a :class:`~hub.agreements.problems.Problem` before
raising one :class:`~hub.agreements.problems.AgreementError`:

- the id, the key variable (:func:`hub.agreements.keys.key_variable`), the
  region, the zones (HK and MO may allow only ``gba``) and the partners;
- per event type, every rule against both schemas: a field takes exactly one
  rule, a target is written once, a kept field keeps its type, a pseudonymised
  one is text, a generaliser reads and writes the types it declares, a
  ``keep_if`` tests another field with values of its enum;
- the envelope (:data:`MUST_KEEP`) is kept and the aggregate id (the Kafka
  key) is kept or pseudonymised; every shared field is written by a rule or
  has a default.

Pure apart from reading the shipped Avro schemas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from hub.agreements.file_schema import AgreementFile, EventRulesFile, PseudonymiseFile
from hub.agreements.keys import key_variable
from hub.agreements.model import Agreement, Condition, EventPlan, FieldRule
from hub.agreements.problems import AgreementError, Problem
from hub.agreements.transforms import GENERALISERS
from hub.catalogue import RAW_KEY_FIELD
from hub.orgunits import REGIONS
from hub.schemas import event_types, load_schema
from hub.zones import ZONE_REGIONS, ZONES

MUST_KEEP: Final[tuple[str, ...]] = ("event_id", "occurred_at", "region", "district")
"""Envelope fields every event rule set must keep unchanged (``station`` may be dropped)."""
GBA_ONLY_REGIONS: Final[frozenset[str]] = frozenset({"HK", "MO"})
"""Regions whose GBA standard contracts forbid onward transfer outside the Bay Area."""

_AGREEMENT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_REF_SUFFIXES: Final = ("_refs", "_ref")


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
        if len(set(values)) != len(values):
            listed = "in" if c.in_ is not None else "not_in"
            out.add(f"keep_if: a value of {listed!r} is listed twice", event_type, name)
            continue
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
    if len(set(doc.partners or ())) != len(doc.partners or ()):
        out.add("partners: a region is listed twice")
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


__all__ = ["GBA_ONLY_REGIONS", "MUST_KEEP", "compile_agreement"]
