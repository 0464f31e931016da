"""Which registry subjects hold which catalogue schema (TopicNameStrategy). Pure.

A raw schema is registered once per district (``raw.<region>.<district>.<event>-value``),
a shared schema once per zone (``shared.<zone>.<event>-value``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub import naming
from hub.errors import ValidationError
from hub.orgunits import OrgUnits
from hub.zones import ZONES, zones_for


@dataclass(frozen=True)
class CatalogueSubject:
    subject: str
    form: str  # "raw" or "shared"
    event_type: str


def catalogue_subjects(
    units: OrgUnits,
    raw_types: Iterable[str],
    shared_types: Iterable[str],
    zones: Sequence[str] | None = None,
) -> list[CatalogueSubject]:
    """Subjects of the catalogue, sorted by name.

    ``zones=None`` means every zone and every district; otherwise the shared
    subjects of those zones and the raw subjects of districts whose events enter them.
    """
    raw_types, shared_types = list(raw_types), list(shared_types)
    wanted = list(ZONES) if zones is None else list(zones)
    unknown = [z for z in wanted if z not in ZONES]
    if unknown:
        raise ValidationError([("zone", f"unknown zone {unknown[0]!r}; expected one of {', '.join(ZONES)}")])
    out: list[CatalogueSubject] = []
    for district in units.districts.values():
        if zones is not None and not set(zones_for(district)) & set(wanted):
            continue
        for event_type in raw_types:
            topic = naming.raw_topic(district.region, district.code, event_type)
            out.append(CatalogueSubject(naming.subject_for(topic), "raw", event_type))
    for zone in wanted:
        for event_type in shared_types:
            out.append(
                CatalogueSubject(naming.subject_for(naming.shared_topic(zone, event_type)), "shared", event_type)
            )
    return sorted(out, key=lambda s: s.subject)
