"""Regions, districts and stations, from the shipped ``org-units.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Final

REGIONS: Final[tuple[str, ...]] = ("GD", "HK", "MO", "JS", "FJ")


@dataclass(frozen=True)
class District:
    code: str
    region: str
    city: str
    in_gba: bool
    name_en: str
    name_zh: str | None = None
    stations: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class OrgUnits:
    regions: dict[str, dict[str, object]]
    districts: dict[str, District]

    def district(self, code: str) -> District | None:
        return self.districts.get(code)

    def districts_of(self, region: str) -> list[District]:
        return [d for d in self.districts.values() if d.region == region]


def parse_org_units(doc: dict[str, object]) -> OrgUnits:
    regions = dict(doc["regions"])  # type: ignore[call-overload]
    districts: dict[str, District] = {}
    for raw in doc["districts"]:  # type: ignore[attr-defined]
        districts[raw["code"]] = District(
            code=raw["code"],
            region=raw["region"],
            city=raw["city"],
            in_gba=bool(raw["in_gba"]),
            name_en=raw["name_en"],
            name_zh=raw.get("name_zh"),
            stations=tuple(s["code"] for s in raw.get("stations", ())),
        )
    return OrgUnits(regions=regions, districts=districts)


@cache
def org_units() -> OrgUnits:
    """The org units shipped with the hub (a copy of ``shared/data/org-units.json``)."""
    text = resources.files("hub.data").joinpath("org-units.json").read_text(encoding="utf-8")
    return parse_org_units(json.loads(text))
