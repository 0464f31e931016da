"""The ACL plan: the declarations (org units, agreements) in, the broker's ACLs out.

:func:`plan` grants each principal of :func:`hub.principals.declared_principals`
exactly what the design contract gives it (``docs/security.md``):

- ``district.<r>.<d>``: WRITE, DESCRIBE on PREFIXED ``raw.<r>.<d>.``;
- ``ingest``: WRITE, DESCRIBE on PREFIXED ``raw.<r>.<d>.`` for every district; no raw READ;
- ``gateway.<regions>``: READ, DESCRIBE on PREFIXED ``raw.<r>.`` per served region; WRITE, DESCRIBE on
  PREFIXED ``shared.<zone>.`` per zone its regions' events may enter (:func:`hub.principals.gateway_zones`:
  the broker itself keeps Hong Kong and Macao events out of ``shared.mainland.``) and on LITERAL
  ``hub.audit`` and ``hub.dlq``; READ on the LITERAL group of its regions;
- ``projection.<zones>``: READ, DESCRIBE on PREFIXED ``shared.<zone>.`` per zone; WRITE, DESCRIBE on LITERAL
  ``hub.dlq``; READ on the PREFIXED group ``hub-projection-``;
- ``partner.<id>``: READ, DESCRIBE on PREFIXED ``shared.<zone>.`` per entitled zone; WRITE, DESCRIBE on LITERAL
  ``hub.dlq``; READ on the PREFIXED group ``partner.<id>.``;
- ``registry``: READ, WRITE, DESCRIBE, CREATE, DESCRIBE_CONFIGS on LITERAL ``_schemas``;
- ``replicator.<source>-<target>`` (a cluster of the topology only): on the source, READ, DESCRIBE on
  PREFIXED ``shared.<zone>.`` per replicated zone (never a copy: nothing is replicated onwards), with
  DESCRIBE_CONFIGS (a copy gets its source's retention), and READ,
  WRITE, DESCRIBE on LITERAL ``hub.transfers``; on the target, CREATE, WRITE, READ, DESCRIBE,
  DESCRIBE_CONFIGS on PREFIXED ``<source>.shared.<zone>.``, READ, WRITE, DESCRIBE on LITERAL
  ``hub.transfers`` and ``hub.replication.offsets``, and DENY ALL on PREFIXED ``<source>.raw.``; on
  both, WRITE, DESCRIBE on the PREFIXED transactional id ``replicator.<source>-<target>``;
- on a cluster of the topology, projections and partners also READ, DESCRIBE the copies of their zones
  that land there (PREFIXED ``<source>.shared.<zone>.``);
- every principal that is not a district, ingest or a gateway: DENY ALL on PREFIXED ``raw.`` (a DENY
  beats any ALLOW in the ``StandardAuthorizer``, and metadata then hides the raw topics).

Super users (:data:`hub.principals.SUPER_USERS`) get nothing: the broker lets them do everything.

Guarantees: pure (no I/O); the plan holds each entry once, sorted by :meth:`AclEntry.sort_key`, so the
same declarations always give the same tuple; :func:`diff` is pure too, and ``diff(x, x)`` is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from hub import naming
from hub.agreements.model import Agreement
from hub.orgunits import OrgUnits
from hub.principals import (
    PROJECTION_GROUP_PREFIX,
    ClusterScope,
    Kind,
    Principal,
    declared_principals,
    gateway_group_id,
    partner_group_prefix,
)

RAW_PREFIX: Final = "raw."
ANY_HOST: Final = "*"


class ResourceType(StrEnum):
    """The kinds of resource an ACL names (the concrete ones of Kafka; the plan uses TOPIC and GROUP)."""

    TOPIC = "TOPIC"
    GROUP = "GROUP"
    CLUSTER = "CLUSTER"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"
    DELEGATION_TOKEN = "DELEGATION_TOKEN"
    USER = "USER"


class PatternType(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


class Operation(StrEnum):
    """Kafka's ACL operations (every concrete one, so that any ACL read from a cluster has a value)."""

    ALL = "ALL"
    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DELETE = "DELETE"
    ALTER = "ALTER"
    DESCRIBE = "DESCRIBE"
    CLUSTER_ACTION = "CLUSTER_ACTION"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
    ALTER_CONFIGS = "ALTER_CONFIGS"
    IDEMPOTENT_WRITE = "IDEMPOTENT_WRITE"
    CREATE_TOKENS = "CREATE_TOKENS"
    DESCRIBE_TOKENS = "DESCRIBE_TOKENS"


class Permission(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"


@dataclass(frozen=True)
class AclEntry:
    """One ACL binding: ``permission`` for ``principal`` (``User:<name>``) to ``operation`` on a resource pattern."""

    principal: str
    resource_type: ResourceType
    pattern_type: PatternType
    name: str
    operation: Operation
    permission: Permission
    host: str = ANY_HOST

    def sort_key(self) -> tuple[str, ...]:
        """Principal, then resource (type, name, pattern), then permission and operation."""
        return (
            self.principal,
            self.resource_type.value,
            self.name,
            self.pattern_type.value,
            self.permission.value,
            self.operation.value,
            self.host,
        )

    @property
    def resource(self) -> str:
        """``TOPIC PREFIXED raw.gd.`` - the resource pattern in words."""
        return f"{self.resource_type} {self.pattern_type} {self.name}"

    def __str__(self) -> str:
        host = "" if self.host == ANY_HOST else f" from {self.host}"
        return f"{self.permission} {self.principal} {self.operation} on {self.resource}{host}"

    def to_json(self) -> dict[str, str]:
        return {
            "principal": self.principal,
            "permission": self.permission.value,
            "operation": self.operation.value,
            "resource_type": self.resource_type.value,
            "pattern_type": self.pattern_type.value,
            "name": self.name,
            "host": self.host,
        }


@dataclass(frozen=True)
class AclDiff:
    """What makes a cluster's ACLs equal to the plan: ``added`` to create, ``removed`` to delete (each sorted)."""

    added: tuple[AclEntry, ...] = ()
    removed: tuple[AclEntry, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.added and not self.removed

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.removed)} removed"

    def to_json(self) -> dict[str, Any]:
        return {"added": [e.to_json() for e in self.added], "removed": [e.to_json() for e in self.removed]}


def ordered(entries: Iterable[AclEntry]) -> tuple[AclEntry, ...]:
    """``entries`` once each, sorted by :meth:`AclEntry.sort_key`."""
    return tuple(sorted(set(entries), key=AclEntry.sort_key))


def diff(current: Iterable[AclEntry], wanted: Iterable[AclEntry]) -> AclDiff:
    """The entries of ``wanted`` missing from ``current`` (added) and those of ``current`` not wanted (removed)."""
    have, want = set(current), set(wanted)
    return AclDiff(added=ordered(want - have), removed=ordered(have - want))


# -- the plan ------------------------------------------------------------------------------------------
def _allow(p: Principal, rtype: ResourceType, ptype: PatternType, name: str, *ops: Operation) -> Iterator[AclEntry]:
    for op in ops:
        yield AclEntry(p.kafka, rtype, ptype, name, op, Permission.ALLOW)


def _topic_prefix(p: Principal, prefix: str, *ops: Operation) -> Iterator[AclEntry]:
    return _allow(p, ResourceType.TOPIC, PatternType.PREFIXED, prefix, *ops)


def _topic(p: Principal, name: str, *ops: Operation) -> Iterator[AclEntry]:
    return _allow(p, ResourceType.TOPIC, PatternType.LITERAL, name, *ops)


_WRITE = (Operation.WRITE, Operation.DESCRIBE)
_READ = (Operation.READ, Operation.DESCRIBE)
_COPY_TARGET = (
    Operation.CREATE,
    Operation.WRITE,
    Operation.READ,
    Operation.DESCRIBE,
    Operation.DESCRIBE_CONFIGS,
)
_LOG = (Operation.READ, Operation.WRITE, Operation.DESCRIBE)
_REGISTRY_STORE = (
    Operation.READ,
    Operation.WRITE,
    Operation.DESCRIBE,
    Operation.CREATE,
    Operation.DESCRIBE_CONFIGS,
)
#: Kinds that handle raw (personal) data; every other principal is denied ``raw.`` outright.
RAW_KINDS: Final[frozenset[Kind]] = frozenset({Kind.DISTRICT, Kind.INGEST, Kind.GATEWAY})


def _scope(value: str | None, p: Principal) -> str:
    # A district or partner principal without its district or id would widen to a whole region: refuse.
    if not value:
        raise ValueError(f"principal {p.name} ({p.kind}) has no district or partner id to scope its ACLs")
    return value


def _one(regions: tuple[str, ...], p: Principal) -> str:
    if len(regions) != 1:
        raise ValueError(f"district principal {p.name} needs exactly one region, got {regions!r}")
    return regions[0]


def _shared_reads(p: Principal) -> Iterator[AclEntry]:
    for zone in p.zones:
        yield from _topic_prefix(p, naming.shared_prefix(zone), *_READ)
        for source in p.sources:
            yield from _topic_prefix(p, naming.remote_topic(source, naming.shared_prefix(zone)), *_READ)


def _replicator(p: Principal) -> Iterator[AclEntry]:
    if p.flow is None or p.side not in ("source", "target"):
        raise ValueError(f"replicator principal {p.name} needs its flow and side, got {p.flow!r}, {p.side!r}")
    source, _target = p.flow
    if p.side == "source":
        for zone in p.zones:  # DESCRIBE_CONFIGS: a copy is created with its source topic's retention
            yield from _topic_prefix(p, naming.shared_prefix(zone), *_READ, Operation.DESCRIBE_CONFIGS)
        yield from _topic(p, naming.TRANSFERS_TOPIC, *_LOG)
    else:
        for zone in p.zones:
            yield from _topic_prefix(p, naming.remote_topic(source, naming.shared_prefix(zone)), *_COPY_TARGET)
        yield from _topic(p, naming.TRANSFERS_TOPIC, *_LOG)
        yield from _topic(p, naming.REPLICATION_OFFSETS_TOPIC, *_LOG)
        copied_raw = naming.remote_topic(source, RAW_PREFIX)
        yield AclEntry(p.kafka, ResourceType.TOPIC, PatternType.PREFIXED, copied_raw, Operation.ALL, Permission.DENY)
    yield from _allow(p, ResourceType.TRANSACTIONAL_ID, PatternType.PREFIXED, p.name, *_WRITE)


def grants(p: Principal, units: OrgUnits) -> Iterator[AclEntry]:
    """The ACL entries of one declared principal (``units`` gives ingest its districts)."""
    if p.kind is Kind.DISTRICT:
        yield from _topic_prefix(p, naming.raw_prefix(_one(p.regions, p), _scope(p.district, p)), *_WRITE)
    elif p.kind is Kind.INGEST:
        for d in units.districts.values():
            yield from _topic_prefix(p, naming.raw_prefix(d.region, d.code), *_WRITE)
    elif p.kind is Kind.GATEWAY:
        for region in p.regions:
            yield from _topic_prefix(p, naming.raw_prefix(region), *_READ)
        for zone in p.zones:
            yield from _topic_prefix(p, naming.shared_prefix(zone), *_WRITE)
        yield from _topic(p, naming.AUDIT_TOPIC, *_WRITE)
        yield from _topic(p, naming.DLQ_TOPIC, *_WRITE)
        yield from _allow(p, ResourceType.GROUP, PatternType.LITERAL, gateway_group_id(p.regions), Operation.READ)
    elif p.kind is Kind.PROJECTION:
        yield from _shared_reads(p)
        yield from _topic(p, naming.DLQ_TOPIC, *_WRITE)
        yield from _allow(p, ResourceType.GROUP, PatternType.PREFIXED, PROJECTION_GROUP_PREFIX, Operation.READ)
    elif p.kind is Kind.PARTNER:
        group = partner_group_prefix(_scope(p.partner, p))
        yield from _shared_reads(p)
        yield from _topic(p, naming.DLQ_TOPIC, *_WRITE)
        yield from _allow(p, ResourceType.GROUP, PatternType.PREFIXED, group, Operation.READ)
    elif p.kind is Kind.REGISTRY:
        yield from _topic(p, naming.SCHEMAS_TOPIC, *_REGISTRY_STORE)
    elif p.kind is Kind.REPLICATOR:
        yield from _replicator(p)
    if p.kind not in RAW_KINDS:
        yield AclEntry(p.kafka, ResourceType.TOPIC, PatternType.PREFIXED, RAW_PREFIX, Operation.ALL, Permission.DENY)


def plan(
    units: OrgUnits,
    agreements: Mapping[str, Agreement] | Iterable[Agreement],
    scope: ClusterScope | None = None,
) -> tuple[AclEntry, ...]:
    """Every ACL entry of the deployment the declarations describe (of one cluster, with ``scope``),
    once each, in :func:`ordered` order."""
    units = units if scope is None else scope.units(units)
    return ordered(e for p in declared_principals(units, agreements, scope) for e in grants(p, units))


# -- the text table ------------------------------------------------------------------------------------
TABLE_COLUMNS: Final = ("principal", "permission", "operation", "resource", "pattern", "name")


def table_rows(entries: Iterable[AclEntry]) -> list[tuple[str, ...]]:
    """One row of :data:`TABLE_COLUMNS` per entry, in the given order."""
    return [
        (e.principal, e.permission.value, e.operation.value, e.resource_type.value, e.pattern_type.value, e.name)
        for e in entries
    ]


def render_table(entries: Iterable[AclEntry]) -> str:
    """The entries as a plain text table (header, then one aligned line per entry), ending in a newline."""
    rows = [TABLE_COLUMNS, *table_rows(entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


__all__ = [
    "RAW_KINDS",
    "TABLE_COLUMNS",
    "AclDiff",
    "AclEntry",
    "Operation",
    "PatternType",
    "Permission",
    "ResourceType",
    "diff",
    "grants",
    "ordered",
    "plan",
    "render_table",
    "table_rows",
]
