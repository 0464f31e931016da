"""Pure naming functions for topics and registry subjects.

Every name the hub puts on the wire is produced here, so a deployment that
needs other conventions swaps these functions and nothing else. The functions a
worker calls per record (slugs, shared topics, subjects, raw topic parsing) keep
their answers in a bounded cache: they are pure, and their results immutable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

AUDIT_TOPIC: Final = "hub.audit"
DLQ_TOPIC: Final = "hub.dlq"
SCHEMAS_TOPIC: Final = "_schemas"
TRANSFERS_TOPIC: Final = "hub.transfers"
"""The signed, hash-chained record of every replicated transaction (on both clusters of a flow)."""
REPLICATION_OFFSETS_TOPIC: Final = "hub.replication.offsets"
"""Target-side, compacted: the source positions each flow reached, written in the flow's transactions."""
REMOTE_SEPARATOR: Final = "."

_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=4096)
def event_slug(event_type: str) -> str:
    """``CaseOpened`` -> ``case-opened``."""
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", event_type):
        raise ValueError(f"event type must be CamelCase, got {event_type!r}")
    return _CAMEL_BOUNDARY.sub("-", event_type).lower()


@lru_cache(maxsize=4096)
def event_type_of(slug: str) -> str:
    """``case-opened`` -> ``CaseOpened`` (inverse of :func:`event_slug`)."""
    if not _CODE.fullmatch(slug):
        raise ValueError(f"not an event slug: {slug!r}")
    return "".join(part.capitalize() for part in slug.split("-"))


def _code(value: str, what: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError(f"{what} must be lowercase letters, digits and single hyphens, got {value!r}")
    return value


def raw_topic(region: str, district: str, event_type: str) -> str:
    """Private topic of one district's events: ``raw.gd.shenzhen-nanshan.case-opened``."""
    return f"raw.{_code(region.lower(), 'region')}.{_code(district, 'district')}.{event_slug(event_type)}"


def raw_prefix(region: str, district: str | None = None) -> str:
    """ACL / subscription prefix: ``raw.gd.`` or ``raw.gd.shenzhen-nanshan.``."""
    base = f"raw.{_code(region.lower(), 'region')}."
    return base if district is None else f"{base}{_code(district, 'district')}."


def raw_pattern(region: str) -> str:
    """Regex matching every raw topic of ``region`` (for pattern subscriptions)."""
    return rf"^raw\.{re.escape(region.lower())}\.[a-z0-9-]+\.[a-z0-9-]+$"


@lru_cache(maxsize=4096)
def shared_topic(zone: str, event_type: str) -> str:
    """De-identified topic of one zone: ``shared.gba.case-opened``."""
    return f"shared.{_code(zone, 'zone')}.{event_slug(event_type)}"


def shared_prefix(zone: str) -> str:
    return f"shared.{_code(zone, 'zone')}."


def shared_pattern(zone: str) -> str:
    return rf"^shared\.{re.escape(zone)}\.[a-z0-9-]+$"


def copied_shared_pattern(zone: str) -> str:
    """Regex of the copies of ``zone``'s shared topics from any cluster: ``<alias>.shared.<zone>.<event>``."""
    return rf"^[a-z][a-z0-9]*\.shared\.{re.escape(zone)}\.[a-z0-9-]+$"


def remote_topic(source_alias: str, topic: str) -> str:
    """Name of ``topic`` copied from cluster ``source_alias`` (MirrorMaker 2's DefaultReplicationPolicy):
    ``cn.shared.gba.case-opened``."""
    return f"{_code(source_alias, 'cluster alias')}{REMOTE_SEPARATOR}{topic}"


def split_remote(topic: str, aliases: frozenset[str] | set[str]) -> tuple[str | None, str]:
    """``(source alias, upstream topic)`` of a replicated topic; ``(None, topic)`` for a local one.

    Only a first segment that is one of the known cluster ``aliases`` counts, so a local topic whose
    first segment happens to look like an alias is never mistaken for a copy.
    """
    head, sep, rest = topic.partition(REMOTE_SEPARATOR)
    if sep and head in aliases:
        return head, rest
    return None, topic


@lru_cache(maxsize=4096)
def subject_for(topic: str, *, is_key: bool = False) -> str:
    """Registry subject under TopicNameStrategy: ``<topic>-value``."""
    return f"{topic}-{'key' if is_key else 'value'}"


@dataclass(frozen=True)
class RawCoordinates:
    region: str
    district: str
    event_type: str


@dataclass(frozen=True)
class SharedCoordinates:
    zone: str
    event_type: str


@lru_cache(maxsize=4096)
def parse_raw_topic(topic: str) -> RawCoordinates:
    parts = topic.split(".")
    if len(parts) != 4 or parts[0] != "raw":
        raise ValueError(f"not a raw topic: {topic!r}")
    return RawCoordinates(parts[1].upper(), parts[2], event_type_of(parts[3]))


def parse_shared_topic(topic: str) -> SharedCoordinates:
    """Zone and event type of ``shared.<zone>.<event>``, or of its copy ``<alias>.shared.<zone>.<event>``."""
    parts = topic.split(".")
    if len(parts) == 4 and parts[1] == "shared" and _CODE.fullmatch(parts[0]):
        parts = parts[1:]
    if len(parts) != 3 or parts[0] != "shared":
        raise ValueError(f"not a shared topic: {topic!r}")
    return SharedCoordinates(parts[1], event_type_of(parts[2]))
