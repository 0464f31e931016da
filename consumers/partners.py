"""Partner regions and the shared topics each may read.

A partner (hk, mo, gd, js, fj: the partner ids of ``hub.tokens``) is a region's
subscriber. The zones it is entitled to are not written down here: they are
derived from the data-sharing agreements (:func:`hub.agreements.entitled_zones`),
so a zone is readable only when every agreement that sends into it allows the
partner. With the shipped agreements: HK and MO read ``gba``; GD reads
``gba`` and ``mainland``; JS and FJ read ``mainland``.

Pure: no Kafka, no SQL. Every refusal is a :class:`~hub.errors.PolicyError`
naming the partner, what it asked for and the zones it is entitled to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from hub.agreements import Agreement, entitled_zones
from hub.catalogue import EVENT_TYPES
from hub.errors import PolicyError
from hub.naming import parse_shared_topic, shared_topic
from hub.tokens import PARTNER_IDS
from hub.zones import ZONES

#: Partner id -> the region whose subscriber it is.
PARTNER_REGIONS: Final[Mapping[str, str]] = {pid: pid.upper() for pid in PARTNER_IDS}


@dataclass(frozen=True)
class Partner:
    """A partner region and the shared zones it may read."""

    id: str
    region: str
    zones: tuple[str, ...]

    def describe_zones(self) -> str:
        return ", ".join(self.zones) if self.zones else "no zone"


def partners(agreements: Mapping[str, Agreement] | Iterable[Agreement]) -> dict[str, Partner]:
    """Every partner with the zones the ``agreements`` entitle it to, in ``PARTNER_IDS`` order."""
    pool = list(agreements.values()) if isinstance(agreements, Mapping) else list(agreements)
    return {pid: Partner(pid, region, entitled_zones(pool, region)) for pid, region in PARTNER_REGIONS.items()}


def partner(partner_id: str, agreements: Mapping[str, Agreement] | Iterable[Agreement]) -> Partner:
    """The partner ``partner_id`` (case-insensitive); an unknown id or one entitled to nothing is refused."""
    pid = partner_id.strip().lower()
    found = partners(agreements).get(pid)
    if found is None:
        raise PolicyError(f"partner: unknown partner {partner_id!r}; expected one of {', '.join(PARTNER_IDS)}")
    if not found.zones:
        raise PolicyError(f"partner {pid}: the agreements entitle it to no zone, so it may read no shared topic")
    return found


def resolve_zones(p: Partner, requested: Sequence[str] | None = None) -> tuple[str, ...]:
    """The zones to read: ``requested`` (deduplicated, in zone order) or all of ``p``'s zones.

    A zone that does not exist, or that ``p`` is not entitled to, is refused.
    """
    if not requested:
        return p.zones
    wanted = {z.strip().lower() for z in requested}
    for zone in sorted(wanted):
        if zone not in ZONES:
            raise PolicyError(
                f"partner {p.id}: zone {zone!r} does not exist (zones: {', '.join(ZONES)}); "
                f"{p.id} is entitled to {p.describe_zones()}"
            )
        if zone not in p.zones:
            raise PolicyError(
                f"partner {p.id} may not read zone {zone} (shared.{zone}.*): "
                f"{p.id} is entitled to {p.describe_zones()} only"
            )
    return tuple(z for z in ZONES if z in wanted)


def check_topic(p: Partner, topic: str, zones: Sequence[str] | None = None) -> str:
    """``topic`` if ``p`` may read it (a ``shared.<zone>.<event>`` topic of one of ``zones``, default its zones).

    Returns the topic's event type; anything else is refused with a :class:`PolicyError`.
    """
    allowed = tuple(zones) if zones else p.zones
    try:
        coords = parse_shared_topic(topic)
    except ValueError:
        raise PolicyError(
            f"partner {p.id} may not read topic {topic}: only shared.<zone>.<event> topics of the zones "
            f"it is entitled to ({p.describe_zones()})"
        ) from None
    if coords.zone not in p.zones:
        raise PolicyError(
            f"partner {p.id} may not read topic {topic}: zone {coords.zone} is outside the zones "
            f"{p.id} is entitled to ({p.describe_zones()})"
        )
    if coords.zone not in allowed:
        raise PolicyError(
            f"partner {p.id}: topic {topic} is outside the zones selected for this subscription ({', '.join(allowed)})"
        )
    return coords.event_type


def partner_topics(
    p: Partner, zones: Sequence[str] | None = None, event_types: Iterable[str] = EVENT_TYPES
) -> list[str]:
    """The shared topics ``p`` may read: ``shared.<zone>.<event>`` of ``event_types`` in ``zones``.

    ``zones`` defaults to all of ``p``'s; a zone outside them is refused.
    """
    chosen = resolve_zones(p, zones)
    return sorted(shared_topic(z, t) for z in chosen for t in set(event_types))


def select_topics(
    p: Partner,
    available: Iterable[str],
    *,
    zones: Sequence[str] | None = None,
    topics: Sequence[str] | None = None,
    event_types: Iterable[str] | None = None,
) -> list[str]:
    """The topics of ``available`` (e.g. the broker's) that ``p`` reads, sorted.

    - ``zones``: restrict to these zones (refused if ``p`` is not entitled to one);
    - ``topics``: read exactly these (each refused if outside the zones); they need not exist yet;
    - ``event_types``: only topics of these event types (those with a pinned reader schema).

    Topics of other zones, non-shared topics and unknown slugs in ``available`` are ignored.
    """
    chosen = resolve_zones(p, zones)
    types = None if event_types is None else set(event_types)
    if topics:
        picked = {t: check_topic(p, t, chosen) for t in topics}
        if types is not None:
            unknown = sorted(t for t, ev in picked.items() if ev not in types)
            if unknown:
                raise PolicyError(
                    f"partner {p.id}: no pinned reader schema for topic {unknown[0]} "
                    f"(known event types: {', '.join(sorted(types))})"
                )
        return sorted(picked)
    out: set[str] = set()
    for name in available:
        try:
            coords = parse_shared_topic(name)
        except ValueError:
            continue
        if coords.zone in chosen and (types is None or coords.event_type in types):
            out.add(name)
    return sorted(out)


def zone_of(topic: str) -> str:
    """Zone of a shared topic (``shared.gba.case-opened`` -> ``gba``)."""
    return parse_shared_topic(topic).zone


__all__ = [
    "PARTNER_REGIONS",
    "Partner",
    "check_topic",
    "partner",
    "partner_topics",
    "partners",
    "resolve_zones",
    "select_topics",
    "zone_of",
]
