"""The Kafka principals a deployment declares, and the consumer-group names they own.

Every SCRAM username the hub uses is produced here (the design contract of
issue 11, ``docs/security.md``):

- super users, which need no ACL: :data:`ADMIN`, :data:`CONTROLLER`, :data:`BROKER`;
- :data:`REGISTRY` (the schema registry's ``_schemas`` store) and :data:`INGEST` (HTTP ingest);
- ``district.<region>.<district>`` (:func:`district_principal`), one per district of the org units;
- ``gateway.<regions>`` (:func:`gateway_principal`), one per jurisdiction plus the all-regions one, with
  the zones its regions' events may enter (:func:`gateway_zones`);
- ``projection.<zones>`` (:func:`projection_principal`), one per non-empty set of zones;
- ``partner.<id>`` (:func:`partner_principal`), one per partner id of :data:`hub.tokens.PARTNER_IDS`.

The consumer-group names of the gateway and of the projection workers live
here too (:func:`gateway_group_id`, :func:`projection_group_id`), because
the ACLs grant exactly those groups; the workers' ``group_id`` functions call
these.

Guarantees: pure (values in, values out; no I/O); every name is lower case and
does not depend on the order its regions or zones are given in;
:func:`declared_principals` returns every non-super-user principal exactly
once, in a stable order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from typing import Final

from hub.agreements.model import Agreement, entitled_zones
from hub.errors import ConfigError
from hub.orgunits import OrgUnits
from hub.tokens import PARTNER_IDS
from hub.zones import ZONES, zones_for

ADMIN: Final = "admin"
"""Super user: hub admin tooling (topics apply, acls apply, users, demo setup, tests)."""
CONTROLLER: Final = "controller"
"""Super user on the controller listener only (PLAIN): KRaft votes and broker registration."""
BROKER: Final = "broker"
"""Super user of the inter-broker listener (SCRAM)."""
REGISTRY: Final = "registry"
"""The schema registry's store (topic ``_schemas``)."""
INGEST: Final = "ingest"
"""The HTTP ingest service: a publisher proxy for every district."""

SUPER_USERS: Final[tuple[str, ...]] = (ADMIN, CONTROLLER, BROKER)
"""Principals the broker lists in ``super.users``: the plan grants them nothing."""

KAFKA_PRINCIPAL_TYPE: Final = "User"
GATEWAY_GROUP_PREFIX: Final = "hub-gateway-"
PROJECTION_GROUP_PREFIX: Final = "hub-projection-"


class Kind(StrEnum):
    """What a declared principal is; the order is the order of :func:`declared_principals`."""

    DISTRICT = "district"
    INGEST = "ingest"
    GATEWAY = "gateway"
    PROJECTION = "projection"
    PARTNER = "partner"
    REGISTRY = "registry"
    REPLICATOR = "replicator"


KIND_ORDER: Final[dict[Kind, int]] = {kind: i for i, kind in enumerate(Kind)}


@dataclass(frozen=True)
class Principal:
    """One declared principal and the declarations its ACLs come from.

    ``regions``: the district's region (district) or the served regions (gateway), upper case, sorted;
    ``district``: the district code (district); ``zones``, in :data:`hub.zones.ZONES` order: the zones the
    served regions' events may enter (gateway), the projected zones (projection) or the entitled zones
    (partner); ``partner``: the partner id (partner); ``sources``: the clusters whose copies
    (``<source>.shared.<zone>.``) of those zones it also reads (projection and partner, on a cluster of the
    topology); ``flow`` and ``side``: a replicator's (source, target) and which end this cluster is.
    """

    name: str
    kind: Kind
    regions: tuple[str, ...] = ()
    district: str | None = None
    zones: tuple[str, ...] = ()
    partner: str | None = None
    sources: tuple[str, ...] = ()
    flow: tuple[str, str] | None = None
    side: str | None = None

    @property
    def kafka(self) -> str:
        """``User:<name>``, as the broker names it."""
        return kafka_principal(self.name)


# -- names (pure) ----------------------------------------------------------------------------------
def kafka_principal(name: str) -> str:
    """The broker's name of the SCRAM user ``name``: ``User:<name>``."""
    if not name or ":" in name:
        raise ValueError(f"a principal name is non-empty and has no ':', got {name!r}")
    return f"{KAFKA_PRINCIPAL_TYPE}:{name}"


def _joined(codes: Iterable[str], what: str) -> str:
    given = list(codes)
    parts = sorted({c.strip().lower() for c in given})
    if not parts or not all(parts):
        raise ValueError(f"a {what} set needs at least one non-empty {what}, got {given!r}")
    return "-".join(parts)


def district_principal(region: str, district: str) -> str:
    """``district.<region>.<district>``, e.g. ``district.gd.shenzhen-nanshan``."""
    return f"district.{region.lower()}.{district}"


def gateway_principal(regions: Iterable[str]) -> str:
    """``gateway.<regions>``: the served regions, lower case, sorted, joined by ``-`` (``gateway.fj-gd-js``)."""
    return "gateway." + _joined(regions, "region")


def projection_principal(zones: Iterable[str]) -> str:
    """``projection.<zones>``: the zones sorted, joined by ``-`` (``projection.gba-mainland``)."""
    return "projection." + _joined(zones, "zone")


def partner_principal(partner_id: str) -> str:
    """``partner.<id>``, e.g. ``partner.hk``."""
    return f"partner.{partner_id.strip().lower()}"


def gateway_group_id(regions: Iterable[str]) -> str:
    """Consumer group (and faust app id) of a served-region set: stable, e.g. ``hub-gateway-fj-gd-hk-js-mo``."""
    return GATEWAY_GROUP_PREFIX + _joined(regions, "region")


def projection_group_id(projection: str, zones: Iterable[str]) -> str:
    """Consumer group (and faust app id) of a projection over a zone set, e.g. ``hub-projection-read-models-gba``."""
    return f"{PROJECTION_GROUP_PREFIX}{projection.replace('_', '-')}-{_joined(zones, 'zone')}"


def partner_group_prefix(partner_id: str) -> str:
    """The consumer-group prefix a partner may use: ``partner.<id>.``."""
    return partner_principal(partner_id) + "."


# -- the declared sets (pure) ------------------------------------------------------------------------
def gateway_region_sets(units: OrgUnits) -> tuple[tuple[str, ...], ...]:
    """The region sets a gateway is declared for: one per jurisdiction, and all regions; sorted, unique.

    A region of ``org-units.json`` without a ``jurisdiction`` is a :class:`~hub.errors.ConfigError`.
    """
    by_jurisdiction: dict[str, set[str]] = {}
    for code, info in units.regions.items():
        jurisdiction = info.get("jurisdiction")
        if not isinstance(jurisdiction, str) or not jurisdiction:
            raise ConfigError(f"org units: region {code} has no 'jurisdiction', so no gateway can be declared for it")
        by_jurisdiction.setdefault(jurisdiction, set()).add(code.upper())
    sets = {tuple(sorted(regions)) for regions in by_jurisdiction.values()}
    if units.regions:
        sets.add(tuple(sorted(c.upper() for c in units.regions)))
    return tuple(sorted(sets))


def gateway_zones(
    units: OrgUnits, agreements: Mapping[str, Agreement] | Iterable[Agreement], regions: Iterable[str]
) -> tuple[str, ...]:
    """The zones a gateway serving ``regions`` writes to, in :data:`hub.zones.ZONES` order.

    A zone is written when some district of those regions may enter it (:func:`hub.zones.zones_for`) and
    its region's agreement sends to it - exactly the zones :func:`hub.agreements.apply` can give an event
    of those regions. A region without an agreement sends nowhere.
    """
    served = {r.upper() for r in regions}
    sends = {a.source_region: set(a.zones) for a in _pool(agreements) if a.source_region in served}
    found = {
        zone for d in units.districts.values() if d.region in sends for zone in zones_for(d) if zone in sends[d.region]
    }
    return tuple(z for z in ZONES if z in found)


def projection_zone_sets(zones: Iterable[str] = ZONES) -> tuple[tuple[str, ...], ...]:
    """Every non-empty subset of ``zones``, each sorted; the subsets sorted."""
    pool = sorted(set(zones))
    return tuple(sorted(tuple(c) for n in range(1, len(pool) + 1) for c in combinations(pool, n)))


def _pool(agreements: Mapping[str, Agreement] | Iterable[Agreement]) -> list[Agreement]:
    return list(agreements.values()) if isinstance(agreements, Mapping) else list(agreements)


@dataclass(frozen=True)
class ClusterScope:
    """What one cluster of the topology homes: its regions, the zones it holds, its replication flows.

    ``sources[zone]``: the clusters whose copies of ``zone`` land here; ``outgoing`` and ``incoming``: the
    flows (source, target, zones) that read from or write to this cluster.
    """

    cluster: str
    regions: frozenset[str]
    zones: tuple[str, ...]
    sources: Mapping[str, tuple[str, ...]]
    outgoing: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    incoming: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def units(self, units: OrgUnits) -> OrgUnits:
        """``units`` with only the regions (and their districts) homed here."""
        return OrgUnits(
            regions={c: info for c, info in units.regions.items() if c.upper() in self.regions},
            districts={k: d for k, d in units.districts.items() if d.region in self.regions},
        )

    def sources_of(self, zones: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted({s for z in zones for s in self.sources.get(z, ())}))


def replicator_principal(source: str, target: str) -> str:
    """``replicator.<source>-<target>``: one flow's principal on both clusters, and its transactional id."""
    return f"replicator.{source}-{target}"


def _declared(units: OrgUnits, agreements: list[Agreement], scope: ClusterScope | None) -> Iterator[Principal]:
    if scope is not None:
        units = scope.units(units)
    for d in units.districts.values():
        yield Principal(district_principal(d.region, d.code), Kind.DISTRICT, regions=(d.region,), district=d.code)
    yield Principal(INGEST, Kind.INGEST)
    for regions in gateway_region_sets(units):
        zones = gateway_zones(units, agreements, regions)
        yield Principal(gateway_principal(regions), Kind.GATEWAY, regions=regions, zones=zones)
    held = ZONES if scope is None else scope.zones
    for zones in projection_zone_sets(held):
        sources = () if scope is None else scope.sources_of(zones)
        yield Principal(projection_principal(zones), Kind.PROJECTION, zones=zones, sources=sources)
    for pid in PARTNER_IDS:
        if scope is not None and pid.upper() not in scope.regions:
            continue  # a partner subscribes to its own jurisdiction's cluster
        zones = tuple(z for z in entitled_zones(agreements, pid.upper()) if z in held)
        sources = () if scope is None else scope.sources_of(zones)
        yield Principal(partner_principal(pid), Kind.PARTNER, zones=zones, partner=pid, sources=sources)
    yield Principal(REGISTRY, Kind.REGISTRY)
    if scope is not None:
        for side, flows in (("source", scope.outgoing), ("target", scope.incoming)):
            for source, target, zones in flows:
                name = replicator_principal(source, target)
                yield Principal(name, Kind.REPLICATOR, zones=zones, flow=(source, target), side=side)


def declared_principals(
    units: OrgUnits,
    agreements: Mapping[str, Agreement] | Iterable[Agreement],
    scope: ClusterScope | None = None,
) -> tuple[Principal, ...]:
    """Every non-super-user principal of the deployment, each once, ordered by kind (:class:`Kind`) then name.

    Districts come from ``units``; gateways from :func:`gateway_region_sets` (with :func:`gateway_zones`);
    projections from
    :func:`projection_zone_sets`; partners from :data:`hub.tokens.PARTNER_IDS`, each with the zones
    :func:`hub.agreements.entitled_zones` gives its region (the partner id upper-cased).

    With a ``scope`` (one cluster of the topology), only what that cluster homes: its districts, its
    gateway, projections of the zones it holds (reading the copies that land there too), the partners
    of its regions, and one replicator per flow that reads from or writes to it.
    """
    found: dict[str, Principal] = {}
    for principal in _declared(units, _pool(agreements), scope):
        if principal.name in found:
            first = found[principal.name].kind
            raise ConfigError(f"principal {principal.name} is declared twice ({first}, {principal.kind})")
        found[principal.name] = principal
    return tuple(sorted(found.values(), key=lambda p: (KIND_ORDER[p.kind], p.name)))


__all__ = [
    "ADMIN",
    "BROKER",
    "CONTROLLER",
    "GATEWAY_GROUP_PREFIX",
    "INGEST",
    "PROJECTION_GROUP_PREFIX",
    "REGISTRY",
    "SUPER_USERS",
    "ClusterScope",
    "Kind",
    "Principal",
    "declared_principals",
    "district_principal",
    "gateway_group_id",
    "gateway_principal",
    "gateway_region_sets",
    "gateway_zones",
    "kafka_principal",
    "partner_group_prefix",
    "partner_principal",
    "projection_group_id",
    "projection_principal",
    "projection_zone_sets",
    "replicator_principal",
]
