"""The deterministic demo stream whose projections reproduce the source reports' figures.

``generate(seed, year)`` yields events in the flat JSON ingest form
(``docs/events.md``). For Shenzhen Nanshan, Yancheng Tinghu and Jinjiang the
stream reproduces every figure of ``seed-facts.json`` that an event can carry,
exactly (an "approx" figure is taken at its stated value);
:func:`demo.coverage.fact_coverage` says, fact by fact, which events, measure
and filter reproduce it, or why no event can. Hong Kong, Macao, Guangzhou
Tianhe and Zhuhai Xiangzhou get a small amount of *illustrative* data: no
figures exist for them.

Determinism: every random choice comes from ``random.Random`` seeded with a
string derived from ``seed`` and the section (one per district,
:mod:`demo.generators.section`), so the same ``(seed, year)`` gives
byte-identical JSON Lines on any platform, and a different seed changes
identifiers, names and spreads but not one fact total. Event counts per
district and type do not depend on the seed either (:func:`planned_counts`).

Time: every ``occurred_at`` is in Asia/Shanghai (+08:00; HK and Macao share
UTC+8) between 1 January and 28 November (:data:`demo.calendar.DATA_AS_OF`) of
``year``, so a year or quarter report of that year covers the whole stream even
for cumulative figures ("since 2023", "in three years", "last year"), which are
placed in the demo year. The stream is grouped by district and aggregate, not
globally sorted by time: the events of one case are in time order, as Kafka
keeps them per key.

The parts: :mod:`demo.districts` (which districts), :mod:`demo.generators` (one
module per source district and one for the illustrative ones),
:mod:`demo.calendar`, :mod:`demo.people`, :mod:`demo.check_digits`,
:mod:`demo.sampling`. Writing the stream and its sidecar is :mod:`demo.writers`.

Pure: no Kafka, no HTTP, no SQL, no files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Protocol

from demo.calendar import Calendar, check_year
from demo.districts import ILLUSTRATIVE_DISTRICTS, JINJIANG, NANSHAN, SOURCE_DISTRICTS, TINGHU
from demo.generators import illustrative, jinjiang, nanshan, tinghu
from demo.generators.section import Event
from demo.seedfacts import DistrictFacts, SeedFacts, seed_facts
from hub.errors import ConfigError
from hub.orgunits import District, OrgUnits, org_units


class _SourceGenerator(Protocol):
    """What a source district's generator module provides."""

    def events(self, seed: int, cal: Calendar, facts: DistrictFacts, district: District) -> Iterator[Event]: ...

    def planned_counts(self, facts: DistrictFacts) -> dict[str, int]: ...


_SOURCES: Final[dict[str, _SourceGenerator]] = {NANSHAN: nanshan, TINGHU: tinghu, JINJIANG: jinjiang}
"""The generator module of each source district."""


def _district(units: OrgUnits, code: str) -> District:
    found = units.district(code)
    if found is None:
        raise ConfigError(f"demo data: district {code!r} is not in org-units.json")
    return found


def generate(
    seed: int, year: int = 2026, *, facts: SeedFacts | None = None, units: OrgUnits | None = None
) -> Iterator[Event]:
    """The demo events of ``(seed, year)`` in the JSON ingest form, produced lazily and deterministically.

    ``facts`` and ``units`` default to the shipped ``seed-facts.json`` and ``org-units.json``.
    Raises :class:`ValidationError` (field ``year``) at once for a year outside [MIN_YEAR, MAX_YEAR],
    and :class:`ConfigError` if a district it needs is missing from the facts or org units.
    """
    check_year(year)
    facts = facts or seed_facts()
    units = units or org_units()
    sources = [(facts.district(code), _district(units, code)) for code in SOURCE_DISTRICTS]
    illustrative_districts = [_district(units, code) for code in ILLUSTRATIVE_DISTRICTS]
    return _stream(seed, Calendar(year), sources, illustrative_districts)


def _stream(
    seed: int, cal: Calendar, sources: list[tuple[DistrictFacts, District]], illustrative_districts: list[District]
) -> Iterator[Event]:
    for facts, district in sources:
        yield from _SOURCES[district.code].events(seed, cal, facts, district)
    for district in illustrative_districts:
        yield from illustrative.events(seed, cal, district)


def planned_counts(facts: SeedFacts | None = None, units: OrgUnits | None = None) -> dict[str, dict[str, int]]:
    """Events per district and type of the full stream; the same for every seed and year."""
    facts = facts or seed_facts()
    units = units or org_units()
    out: dict[str, dict[str, int]] = {code: _SOURCES[code].planned_counts(facts.district(code)) for code in _SOURCES}
    for code in ILLUSTRATIVE_DISTRICTS:
        out[code] = illustrative.planned_counts(_district(units, code))
    return out


def planned_total(facts: SeedFacts | None = None, units: OrgUnits | None = None) -> int:
    """Number of events of the full stream."""
    return sum(sum(c.values()) for c in planned_counts(facts, units).values())


__all__ = ["Event", "generate", "planned_counts", "planned_total"]
