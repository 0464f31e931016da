"""The suppression pattern of one zone and period: every cell, the equations a reader knows, and the marks.

Pure: no I/O. Every output of one zone and period (the report, a region's or a
district's part of it, a query of the indicators) is a view of ONE pattern
computed here over every district, region and the zone for that period, with
the equations a reader knows: the zone is the sum of its regions, a region the
sum of its districts, a total the sum of its parts (of each way it is split:
donations by currency and by donor type are two equations). So no combination of the
views of a period reveals a cell one of them withholds.

Zones overlap: a Guangdong district of the Bay Area is in ``gba`` and in
``mainland``, with the same figures. Their patterns are decided in the order of
:data:`hub.zones.ZONES`, each keeping what the zones before it published
(:class:`Published`): ``gba`` is computed from ``gba`` alone, so every cluster
that holds it (Hong Kong and Macao hold no mainland data) publishes the same
pattern; ``mainland`` then withholds every shared cell ``gba`` withholds, never
withholds one ``gba`` shows (it would protect nothing), and is audited against
both reports at once: its own complements close whatever the union reveals.
Outputs of different periods are protected separately (see docs/reports.md for
what that leaves open). Which counts are protected is
:mod:`projections.people_counts`; how a pattern is found and audited is
:mod:`projections.suppression`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from projections.indicators import ALL, INDICATORS, Indicator, IndicatorValue, splits
from projections.people_counts import suppression_family
from projections.periods import Period
from projections.suppression import Cell, Equation, Mark, Policy, Result, suppress

CellKey = tuple[str, str, str, str, str]
"""(region, district, period_kind, period, indicator)."""
Level = Literal["zone", "region", "district"]
PlaceKey = tuple[str, str]
"""(region, district) of a district; (region, ALL) a region; (ALL, ALL) the zone."""


def _scaled(spec: Indicator, value: Decimal) -> int:
    return int(value * 100) if spec.kind == "amount" else int(value)


def scopes(places: Iterable[PlaceKey]) -> list[tuple[Level, str, str]]:
    """Every scope of a zone with ``places``, in report order: the zone, then each region followed by its districts."""
    found = set(places)
    regions = sorted({r for r, _ in found if r != ALL})
    out: list[tuple[Level, str, str]] = [("zone", ALL, ALL)]
    for r in regions:
        out.append(("region", r, ALL))
        out += [("district", r, d) for d in sorted({d for rr, d in found if rr == r and d != ALL})]
    return out


def period_cells(
    values: Iterable[IndicatorValue], period: Period, places: Iterable[PlaceKey] = ()
) -> tuple[dict[CellKey, Cell[CellKey]], list[Equation[CellKey]]]:
    """Every cell of one period of a zone (absent values are 0) and the equations a reader knows between them.

    ``values`` may hold other periods (ignored). ``places`` adds districts without values in this
    period. Counts are integers, amounts integers in cents; ratios carry no value, only their basis.
    The equations: the zone is the sum of its regions, a region the sum of its districts, and a total
    the sum of the parts of each of its splits (certifications by level, donations by currency and by
    donor type, their converted amounts by donor type, evaluations by outcome, funding by programme).
    """
    given: dict[tuple[str, str, str], Decimal] = {}
    found: set[PlaceKey] = set(places)
    for v in values:
        found.add((v.region, v.district))
        if (v.period_kind, v.period) == (period.kind, period.value):
            given[(v.region, v.district, v.indicator)] = v.value
    in_order = scopes(found)
    kind, value = period.kind, period.value
    cells: dict[CellKey, Cell[CellKey]] = {}
    for _, region, district in in_order:
        for spec in INDICATORS:
            key = (region, district, kind, value, spec.name)
            basis = tuple((region, district, kind, value, b) for b in spec.basis)
            amount = given.get((region, district, spec.name), Decimal(0))
            cells[key] = Cell(0 if spec.kind == "ratio" else _scaled(spec, amount), suppression_family(spec), basis)
    equations: list[Equation[CellKey]] = []
    regions = [r for level, r, _ in in_order if level == "region"]
    for spec in INDICATORS:
        if not spec.additive:
            continue
        name = spec.name
        equations.append(Equation.total((ALL, ALL, kind, value, name), [(r, ALL, kind, value, name) for r in regions]))
        for r in regions:
            members = [d for level, rr, d in in_order if level == "district" and rr == r]
            equations.append(Equation.total((r, ALL, kind, value, name), [(r, d, kind, value, name) for d in members]))
    for _, region, district in in_order:
        for total, parts in _SPLITS:
            equations.append(
                Equation.total(
                    (region, district, kind, value, total),
                    [(region, district, kind, value, p) for p in parts],
                )
            )
    return cells, equations


#: (total, parts) of every split of every total: one equation each (a total split two ways has two).
_SPLITS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = tuple(
    (total, parts) for total in sorted({s.part_of for s in INDICATORS if s.part_of}) for parts in splits(total).values()
)


@dataclass(frozen=True)
class Published:
    """One zone's pattern of a period as published: what a later zone's pattern of the period must keep."""

    zone: str
    cells: Mapping[CellKey, Cell[CellKey]]
    equations: Sequence[Equation[CellKey]]
    marks: Mapping[CellKey, Mark]
    unresolved: tuple[CellKey, ...] = ()


ZonedKey = tuple[str, CellKey]


def period_suppression(
    values: Iterable[IndicatorValue],
    period: Period,
    places: Iterable[PlaceKey] = (),
    policy: Policy | None = None,
    *,
    zone: str = "",
    published: Sequence[Published] = (),
) -> Result[CellKey]:
    """The suppression pattern of one period of ``zone``: every scope, every indicator.

    ``published``: the patterns of the same period that zones before this one published; the cells
    they share with this zone keep their fate, and the audit plays the attacker on all of them at once.
    """
    pattern = published_pattern(zone, values, period, places, policy, published=published)
    return Result(dict(pattern.marks), unresolved=list(pattern.unresolved))


def published_pattern(
    zone: str,
    values: Iterable[IndicatorValue],
    period: Period,
    places: Iterable[PlaceKey] = (),
    policy: Policy | None = None,
    *,
    published: Sequence[Published] = (),
) -> Published:
    """:func:`period_suppression`, kept with its cells and equations for the zones after this one."""
    cells, equations = period_cells(values, period, places)
    if not published:
        result = suppress(cells, equations, policy)
        return Published(zone, cells, equations, result.marks, tuple(result.unresolved))
    earlier = [p for p in published if p.zone != zone]
    union: dict[ZonedKey, Cell[ZonedKey]] = {}
    links: list[Equation[ZonedKey]] = []
    decided: dict[ZonedKey, Mark | None] = {}
    for p in earlier:
        union.update({(p.zone, k): _zoned(p.zone, c) for k, c in p.cells.items()})
        links += [_zoned_equation(p.zone, eq) for eq in p.equations]
        decided.update({(p.zone, k): p.marks.get(k) for k in p.cells})
    union.update({(zone, k): _zoned(zone, c) for k, c in cells.items()})
    links += [_zoned_equation(zone, eq) for eq in equations]
    for p in earlier:
        for key in _shared(cells, p.cells):
            decided[(zone, key)] = p.marks.get(key)
            if cells[key].family in ("count", "amount"):
                links.append(Equation.total((zone, key), [(p.zone, key)]))
    joint = suppress(union, links, policy, decided=decided)
    marks = {k: m for (z, k), m in joint.marks.items() if z == zone}
    unresolved = tuple(k for z, k in joint.unresolved if z == zone)
    return Published(zone, cells, equations, marks, unresolved)


def _zoned(zone: str, cell: Cell[CellKey]) -> Cell[ZonedKey]:
    return Cell(cell.value, cell.family, tuple((zone, b) for b in cell.basis))


def _zoned_equation(zone: str, eq: Equation[CellKey]) -> Equation[ZonedKey]:
    return Equation(tuple(((zone, k), c) for k, c in eq.terms))


def _shared(mine: Mapping[CellKey, Cell[CellKey]], theirs: Mapping[CellKey, Cell[CellKey]]) -> list[CellKey]:
    """The cells that are the same figure in both zones.

    A district's cell when both zones hold the district with the same value (the same facts reach
    both); a region's when both hold the same districts of it and the same value; a ratio when every
    cell it is computed from is shared. The zone rows never are.
    """

    def districts(cells: Mapping[CellKey, Cell[CellKey]], region: str) -> frozenset[str]:
        return frozenset(k[1] for k in cells if k[0] == region and k[1] != ALL)

    same_region: dict[str, bool] = {}
    out: set[CellKey] = set()
    for key, cell in mine.items():
        region, district = key[0], key[1]
        other = theirs.get(key)
        if region == ALL or other is None or cell.family in ("ratio", "public") or other.family != cell.family:
            continue
        if district == ALL:
            if region not in same_region:
                same_region[region] = districts(mine, region) == districts(theirs, region)
            if not same_region[region]:
                continue
        if other.value == cell.value:
            out.add(key)
    ratios = [k for k, c in mine.items() if c.family == "ratio" and k in theirs and c.basis]
    out.update(k for k in ratios if all(b in out for b in mine[k].basis))
    return sorted(out)


__all__ = [
    "CellKey",
    "Level",
    "PlaceKey",
    "Published",
    "period_cells",
    "period_suppression",
    "published_pattern",
    "scopes",
]
