"""Exchange zones: which shared zones a district's events may enter.

``gba`` is the nine Bay Area cities plus Hong Kong and Macao; ``mainland`` is
GD, JS and FJ. HK and MO events go to ``gba`` only (no onward transfer).
"""

from __future__ import annotations

from typing import Final

from hub.orgunits import District

ZONES: Final[tuple[str, ...]] = ("gba", "mainland")
ZONE_REGIONS: Final[dict[str, frozenset[str]]] = {
    "gba": frozenset({"GD", "HK", "MO"}),
    "mainland": frozenset({"GD", "JS", "FJ"}),
}


def zones_for(district: District) -> tuple[str, ...]:
    """Zones an event of ``district`` may enter, in a stable order."""
    out: list[str] = []
    if district.region in ("HK", "MO") or (district.region == "GD" and district.in_gba):
        out.append("gba")
    if district.region in ZONE_REGIONS["mainland"]:
        out.append("mainland")
    return tuple(out)
