"""The compiled data-sharing agreement: what happens to each raw field of each event type, and who may read it.

An :class:`Agreement` is what :func:`hub.agreements.compiler.compile_agreement`
makes of a checked agreement file: per event type an :class:`EventPlan` whose
:class:`FieldRule` list names, for every raw field, one action (keep, drop,
pseudonymise, generalise, keep_if under a :class:`Condition`). Deny by default:
a raw field no rule names is listed in ``unnamed`` and dropped when crossing.

Pure values; immutable once compiled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

from hub.errors import PolicyError
from hub.zones import ZONE_REGIONS, ZONES

Action = Literal["keep", "drop", "pseudonymise", "generalise", "keep_if"]


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

    @cached_property
    def label(self) -> str:
        """Audit form: ``field`` or ``field->target`` (computed once)."""
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

    @cached_property
    def by_source(self) -> Mapping[str, FieldRule]:
        """Raw field -> its rule (computed once; the plan is immutable)."""
        return MappingProxyType({r.source: r for r in self.rules})

    @cached_property
    def steps(self) -> Mapping[str, tuple[Action, str, FieldRule]]:
        """Raw field -> (action, shared target, rule) of every rule but ``drop`` (computed once)."""
        steps: dict[str, tuple[Action, str, FieldRule]] = {}
        for r in self.rules:
            if r.action != "drop":
                if r.target is None:
                    raise PolicyError(f"{self.event_type}: the {r.action} rule of {r.source} names no shared field")
                steps[r.source] = (r.action, r.target, r)
        return MappingProxyType(steps)

    @cached_property
    def required(self) -> tuple[str, ...]:
        """Raw fields a rule reads (every rule but ``drop``): a record lacking one cannot cross."""
        return tuple(r.source for r in self.rules if r.action != "drop")


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


__all__ = ["Action", "Agreement", "Condition", "EventPlan", "FieldRule", "allows_partner", "entitled_zones"]
