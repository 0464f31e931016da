"""One district's part of the demo stream: its seeded random source and the envelope of its events.

Determinism: a :class:`Section` draws every choice from ``random.Random``
seeded with the text ``hub.demo_data/v<FORMAT_VERSION>/<seed>/<year>/<district>``
(data, not a module path: changing it changes every byte of the stream), so the
same ``(seed, year)`` gives byte-identical events on any platform and in any
process, and districts do not disturb each other.
"""

from __future__ import annotations

import random
import uuid
from typing import Any, Final

from demo.calendar import Calendar
from demo.districts import CURRENCY_OF_REGION
from demo.people import AREA_CODES, People
from hub.orgunits import District

Event = dict[str, Any]
"""One event in the flat JSON ingest form (``docs/events.md``), keys in the order written."""

FORMAT_VERSION: Final = 1
"""Version of the generated stream; part of every section's seed and of the sidecar."""


class Section:
    """One district's random stream and envelope."""

    def __init__(self, seed: int, cal: Calendar, district: District) -> None:
        self.rng = random.Random(f"hub.demo_data/v{FORMAT_VERSION}/{seed}/{cal.year}/{district.code}")
        self.cal = cal
        self.region = district.region
        self.district = district.code
        self.currency = CURRENCY_OF_REGION[district.region]
        self.people = People(self.rng, district.region, AREA_CODES.get(district.code, ("440305",)))
        self.visits = 0

    def next_visit_id(self, prefix: str) -> str:
        """A district-wide visit number; it never embeds the case number, which is pseudonymised when shared."""
        self.visits += 1
        return f"{prefix}-V-{self.cal.year}-{self.visits:06d}"

    def event(self, event_type: str, minute: int, station: str | None, fields: dict[str, Any]) -> Event:
        doc: Event = {
            "type": event_type,
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "occurred_at": self.cal.stamp(minute),
            "region": self.region,
            "district": self.district,
            "station": station,
        }
        doc.update(fields)
        return doc

    def ids(self, prefix: str, n: int, digits: int) -> list[str]:
        """``n`` distinct random identifiers ``prefix`` + ``digits`` digits."""
        low = 10 ** (digits - 1)
        return [f"{prefix}{k}" for k in self.rng.sample(range(low, low * 10), n)]

    def day(self, first: int = 0, last: int | None = None) -> int:
        return self.rng.randint(first, self.cal.last_day if last is None else last)


__all__ = ["FORMAT_VERSION", "Event", "Section"]
