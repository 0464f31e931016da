"""The suppression pattern of one zone and period: every cell, the equations a reader knows, and the marks.

Pure: no I/O. Every output of one zone and period (the report, a region's or a
district's part of it, a query of the indicators) is a view of ONE pattern
computed here over every district, region and the zone for that period, with
the equations a reader knows: the zone is the sum of its regions, a region the
sum of its districts, a total the sum of its parts (of each way it is split:
donations by currency and by donor type are two equations). So no combination of the
views of a period reveals a cell one of them withholds. Outputs of different
periods are protected separately (see docs/reports.md for what that leaves
open). Which counts are protected is :mod:`projections.people_counts`; how a
pattern is found and audited is :mod:`projections.suppression`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final, Literal

from projections.indicators import ALL, INDICATORS, Indicator, IndicatorValue, splits
from projections.people_counts import suppression_family
from projections.periods import Period
from projections.suppression import Cell, Equation, Policy, Result, suppress

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


def period_suppression(
    values: Iterable[IndicatorValue], period: Period, places: Iterable[PlaceKey] = (), policy: Policy | None = None
) -> Result[CellKey]:
    """The suppression pattern of one period of a zone: every scope, every indicator."""
    cells, equations = period_cells(values, period, places)
    return suppress(cells, equations, policy)


__all__ = ["CellKey", "Level", "PlaceKey", "period_cells", "period_suppression", "scopes"]
