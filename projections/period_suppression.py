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
Periods enclose each other: :func:`year_patterns` decides a year, then its
quarters keeping it, then each quarter's months keeping that quarter, so no
combination of a year's outputs reveals a cell one of them withholds (see
docs/reports.md for what it does not cover). Which counts are protected is
:mod:`projections.people_counts`; how a pattern is found and audited is
:mod:`projections.suppression`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from projections.indicators import ALL, BY_NAME, INDICATORS, Indicator, IndicatorValue, splits
from projections.people_counts import suppression_family
from projections.periods import Period, parse_period
from projections.suppression import Cell, Equation, Mark, Policy, Result, disclosed, suppress

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
    """One zone's pattern of a period as published: what the patterns decided after it must keep."""

    zone: str
    cells: Mapping[CellKey, Cell[CellKey]]
    equations: Sequence[Equation[CellKey]]
    marks: Mapping[CellKey, Mark]
    unresolved: tuple[CellKey, ...] = ()
    period: Period | None = None


ZonedKey = tuple[str, CellKey]
_Table = tuple[Period, dict[CellKey, Cell[CellKey]], list[Equation[CellKey]]]


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

    ``published``: patterns decided before this one (other zones' of the same period, this zone's
    enclosing periods); the cells they share with this one keep their fate, and the audit plays the
    attacker on all of them at once.
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
    """:func:`period_suppression`, kept with its cells and equations for the patterns decided after it."""
    cells, equations = period_cells(values, period, places)
    return _decide(zone, [(period, cells, equations)], policy, published)[0]


def year_patterns(
    year: Period,
    zones: Sequence[tuple[str, Sequence[IndicatorValue], Sequence[PlaceKey]]],
    policy: Policy | None = None,
) -> dict[str, dict[str, Published]]:
    """Every pattern of one year, zone by zone in the order given: ``{zone: {period: pattern}}``.

    Within a zone the year is decided first, then its four quarters together keeping the year, then
    the three months of each quarter together keeping that quarter: a flow's year is the sum of its
    quarters and a quarter of its months, a stock's (``over_time="end"``) is its last quarter's and
    month's, so a period decided alone could show what an enclosing one withholds, or the year and
    three quarters could give the fourth away. Deciding downwards keeps every year's figure as it was
    decided alone: small months are withheld more, never the year. Each zone keeps, for each step, what
    the zones before it published for the same periods.
    """
    if year.kind != "year":
        raise ValueError(f"year_patterns: {year.value!r} is not a year")
    quarters = [parse_period(f"{year.value}-Q{q}") for q in range(1, 5)]
    out: dict[str, dict[str, Published]] = {}
    for zone, values, places in zones:
        by_period = _values_by_period(values)
        own: dict[str, Published] = {}

        def before(periods: Iterable[Period], zone: str = zone) -> list[Published]:
            wanted = {p.value for p in periods}
            return [
                pattern for z, patterns in out.items() if z != zone for v, pattern in patterns.items() if v in wanted
            ]

        def table(
            period: Period, by_period: dict[str, list[IndicatorValue]] = by_period, places: Sequence[PlaceKey] = places
        ) -> _Table:
            cells, equations = period_cells(by_period.get(period.value, []), period, places)
            return period, cells, equations

        (own[year.value],) = _decide(zone, [table(year)], policy, before([year]))
        for pattern in _decide(
            zone, [table(q) for q in quarters], policy, [own[year.value], *before([year, *quarters])]
        ):
            assert pattern.period is not None
            own[pattern.period.value] = pattern
        for q in quarters:
            months = _months_of(q)
            for pattern in _decide(zone, [table(m) for m in months], policy, [own[q.value], *before([q, *months])]):
                assert pattern.period is not None
                own[pattern.period.value] = pattern
        out[zone] = own
    return out


def _values_by_period(values: Iterable[IndicatorValue]) -> dict[str, list[IndicatorValue]]:
    out: dict[str, list[IndicatorValue]] = {}
    for v in values:
        out.setdefault(v.period, []).append(v)
    return out


def _months_of(quarter: Period) -> list[Period]:
    first = quarter.start.month
    return [parse_period(f"{quarter.start.year:04d}-{m:02d}") for m in range(first, first + 3)]


def _children(period: Period) -> list[Period]:
    if period.kind == "year":
        return [parse_period(f"{period.value}-Q{q}") for q in range(1, 5)]
    if period.kind == "quarter":
        return _months_of(period)
    return []


def _decide(zone: str, own: Sequence[_Table], policy: Policy | None, published: Sequence[Published]) -> list[Published]:
    """Decide ``own`` tables of ``zone`` together, keeping what ``published`` decided."""
    if not published and len(own) == 1:
        period, cells, equations = own[0]
        result = suppress(cells, equations, policy)
        return [Published(zone, cells, equations, result.marks, tuple(result.unresolved), period)]
    union: dict[ZonedKey, Cell[ZonedKey]] = {}
    links: list[Equation[ZonedKey]] = []
    decided: dict[ZonedKey, Mark | None] = {}
    tables: dict[str, dict[str, tuple[Period, Mapping[CellKey, Cell[CellKey]]]]] = {}
    for p in published:
        union.update({(p.zone, k): _zoned(p.zone, c) for k, c in p.cells.items()})
        links += [_zoned_equation(p.zone, eq) for eq in p.equations]
        decided.update({(p.zone, k): p.marks.get(k) for k in p.cells})
        if p.period is not None:
            tables.setdefault(p.zone, {})[p.period.value] = (p.period, p.cells)
    for period, cells, equations in own:
        union.update({(zone, k): _zoned(zone, c) for k, c in cells.items()})
        links += [_zoned_equation(zone, eq) for eq in equations]
        tables.setdefault(zone, {})[period.value] = (period, cells)
        for p in published:
            if p.zone == zone or p.period is None or p.period.value != period.value:
                continue
            for key in _shared(cells, p.cells):
                decided[(zone, key)] = p.marks.get(key)
                if cells[key].family in ("count", "amount"):
                    links.append(Equation.total((zone, key), [(p.zone, key)]))
    for z, periods in tables.items():
        links += _period_links(z, periods)
    decided.update(_known_already(union, links, decided, policy))
    joint = suppress(union, links, policy, decided=decided)
    out: list[Published] = []
    for period, cells, equations in own:
        marks = {k: m for (z, k), m in joint.marks.items() if z == zone and k in cells}
        unresolved = tuple(k for z, k in joint.unresolved if z == zone and k in cells)
        out.append(Published(zone, cells, equations, marks, unresolved, period))
    return out


def _known_already(
    cells: Mapping[ZonedKey, Cell[ZonedKey]],
    equations: Sequence[Equation[ZonedKey]],
    decided: Mapping[ZonedKey, Mark | None],
    policy: Policy | None,
) -> dict[ZonedKey, None]:
    """The undecided figures a reader can already work out from what was published: shown, not withheld.

    Withholding one protects nothing (a month of a stock equals its quarter's figure; the months of a
    flow whose quarter is 0 are 0), and a complement there would be recovered, with what it was to hide.
    A small count stays withheld (its ``<5``) even so.
    """
    policy = policy or Policy()
    probe: dict[ZonedKey, Mark] = {k: m for k, m in decided.items() if m is not None}
    undecided = [k for k, c in cells.items() if k not in decided and c.family in ("count", "amount")]
    probe.update({k: "complementary" for k in undecided})
    known = disclosed(cells, equations, probe, policy)
    return {
        k: None
        for k in undecided
        if k in known and not (cells[k].family == "count" and policy.is_small(cells[k].value))
    }


def _period_links(
    zone: str, periods: Mapping[str, tuple[Period, Mapping[CellKey, Cell[CellKey]]]]
) -> list[Equation[ZonedKey]]:
    """What a reader knows between a zone's periods: a flow's parent is the sum of its children, a stock's
    equals its last child's. Only equations that hold exactly (amounts are rounded per period)."""
    out: list[Equation[ZonedKey]] = []
    for parent, cells in periods.values():
        children = [periods[c.value] for c in _children(parent) if c.value in periods]
        if not children or len(children) != len(_children(parent)):
            continue
        for key, cell in cells.items():
            region, district, _, _, name = key
            spec = BY_NAME[name]
            if cell.family not in ("count", "amount") or spec.over_time not in ("sum", "end"):
                continue
            parts = [(region, district, c.kind, c.value, name) for c, _ in children]
            if any(part not in child for part, (_, child) in zip(parts, children, strict=True)):
                continue
            values = [child[part].value for part, (_, child) in zip(parts, children, strict=True)]
            if spec.over_time == "sum" and sum(values) == cell.value:
                out.append(Equation.total((zone, key), [(zone, part) for part in parts]))
            elif spec.over_time == "end" and values[-1] == cell.value:
                out.append(Equation.total((zone, key), [(zone, parts[-1])]))
    return out


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
    "year_patterns",
]
