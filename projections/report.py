"""Reports of a zone and period: indicator values, suppression marks, FX rates and caveats, rendered.

Pure. Every output of one zone and period (the report, a region's or a
district's part of it, a query of the indicators) is a view of ONE suppression
pattern computed over every district, region and the zone for that period,
with the equations a reader knows: the zone is the sum of its regions, a
region the sum of its districts, a total the sum of its parts. So no
combination of the views of a period reveals a cell one of them withholds.
Outputs of different periods are protected separately (see docs/reports.md
for what that leaves open).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final, Literal

from rich.console import Console
from rich.table import Table

from hub.orgunits import org_units
from projections.fx import AppliedRate
from projections.indicators import (
    ALL,
    INDICATORS,
    REPORTING,
    Indicator,
    IndicatorValue,
    parts_of,
)
from projections.people_counts import suppression_family
from projections.periods import Period
from projections.suppression import Cell, Equation, Mark, Policy, Result, suppress

CellKey = tuple[str, str, str, str, str]
"""(region, district, period_kind, period, indicator)."""
Level = Literal["zone", "region", "district"]
Format = Literal["table", "csv", "json"]
FORMATS: Final[tuple[Format, ...]] = ("table", "csv", "json")

COMPLEMENTARY_LABEL: Final = "x"
NOT_APPLICABLE: Final = "-"


# -- the suppression pattern of one period -------------------------------------------------------------
def _scaled(spec: Indicator, value: Decimal) -> int:
    return int(value * 100) if spec.kind == "amount" else int(value)


Place = tuple[str, str]
"""(region, district) of a district; (region, ALL) a region; (ALL, ALL) the zone."""


def _scopes(places: Iterable[Place]) -> list[tuple[Level, str, str]]:
    found = set(places)
    regions = sorted({r for r, _ in found if r != ALL})
    scopes: list[tuple[Level, str, str]] = [("zone", ALL, ALL)]
    for r in regions:
        scopes.append(("region", r, ALL))
        scopes += [("district", r, d) for d in sorted({d for rr, d in found if rr == r and d != ALL})]
    return scopes


def period_cells(
    values: Iterable[IndicatorValue], period: Period, places: Iterable[Place] = ()
) -> tuple[dict[CellKey, Cell[CellKey]], list[Equation[CellKey]]]:
    """Every cell of one period of a zone (absent values are 0) and the equations a reader knows between them.

    ``values`` may hold other periods (ignored). ``places`` adds districts without values in this
    period. Counts are integers, amounts integers in cents; ratios carry no value, only their basis.
    The equations: the zone is the sum of its regions, a region the sum of its districts, and a total
    the sum of its parts (certifications by level, donations by currency, funding by programme).
    """
    given: dict[tuple[str, str, str], Decimal] = {}
    found: set[Place] = set(places)
    for v in values:
        found.add((v.region, v.district))
        if (v.period_kind, v.period) == (period.kind, period.value):
            given[(v.region, v.district, v.indicator)] = v.value
    scopes = _scopes(found)
    kind, value = period.kind, period.value
    cells: dict[CellKey, Cell[CellKey]] = {}
    for _, region, district in scopes:
        for spec in INDICATORS:
            key = (region, district, kind, value, spec.name)
            basis = tuple((region, district, kind, value, b) for b in spec.basis)
            amount = given.get((region, district, spec.name), Decimal(0))
            cells[key] = Cell(0 if spec.kind == "ratio" else _scaled(spec, amount), suppression_family(spec), basis)
    equations: list[Equation[CellKey]] = []
    regions = [r for level, r, _ in scopes if level == "region"]
    for spec in INDICATORS:
        if not spec.additive:
            continue
        name = spec.name
        equations.append(Equation.total((ALL, ALL, kind, value, name), [(r, ALL, kind, value, name) for r in regions]))
        for r in regions:
            members = [d for level, rr, d in scopes if level == "district" and rr == r]
            equations.append(Equation.total((r, ALL, kind, value, name), [(r, d, kind, value, name) for d in members]))
    for _, region, district in scopes:
        for total in _TOTALS:
            equations.append(
                Equation.total(
                    (region, district, kind, value, total),
                    [(region, district, kind, value, p) for p in parts_of(total)],
                )
            )
    return cells, equations


_TOTALS: Final[tuple[str, ...]] = tuple(sorted({s.part_of for s in INDICATORS if s.part_of}))


def period_suppression(
    values: Iterable[IndicatorValue], period: Period, places: Iterable[Place] = (), policy: Policy | None = None
) -> Result[CellKey]:
    """The suppression pattern of one period of a zone: every scope, every indicator."""
    cells, equations = period_cells(values, period, places)
    return suppress(cells, equations, policy)


# -- the report ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportCell:
    """One figure: ``value`` (None when not applicable, e.g. a rate of nothing) and its suppression mark."""

    value: Decimal | None
    mark: Mark | None = None

    def shown(self, policy: Policy) -> str:
        """The figure as published: the value, ``<5``, ``x`` or ``-``."""
        if self.mark == "primary":
            return policy.label
        if self.mark is not None:
            return COMPLEMENTARY_LABEL
        if self.value is None:
            return NOT_APPLICABLE
        return str(self.value)

    def published(self) -> Decimal | None:
        """The value when it may be published, else None."""
        return None if self.mark is not None else self.value


@dataclass(frozen=True)
class ReportRow:
    """The indicators of one scope: the zone, a region or a district."""

    level: Level
    region: str
    district: str
    name: str
    cells: Mapping[str, ReportCell] = field(hash=False)


@dataclass(frozen=True)
class Report:
    """A zone's report for one period (or a region's or district's part of it)."""

    zone: str
    period: Period
    reporting_currency: str
    rows: tuple[ReportRow, ...]
    indicators: tuple[Indicator, ...]
    rates: tuple[AppliedRate, ...]
    fx_source: str
    policy: Policy
    suppressed: bool
    caveats: tuple[str, ...]
    region: str | None = None
    district: str | None = None

    def row(self, region: str, district: str = ALL) -> ReportRow:
        """The row of a scope (``row(ALL)`` is the zone, ``row("GD")`` a region)."""
        for r in self.rows:
            if (r.region, r.district) == (region, district):
                return r
        raise KeyError(f"no row for region {region!r} district {district!r} in the {self.zone} report")

    def unit(self, spec: Indicator) -> str:
        return self.reporting_currency if spec.unit == REPORTING else spec.unit


def _name(region: str, district: str, zone: str) -> str:
    if region == ALL:
        return f"{zone} (all regions)"
    if district == ALL:
        info = org_units().regions.get(region, {})
        return f"{region} {info.get('name_en', '')}".strip()
    unit = org_units().district(district)
    return unit.name_en if unit is not None else district


def build_report(
    zone: str,
    period: Period,
    values: Sequence[IndicatorValue],
    *,
    reporting_currency: str,
    places: Iterable[Place] = (),
    rates: Sequence[AppliedRate] = (),
    fx_source: str = "",
    policy: Policy | None = None,
    suppressed: bool = True,
    marks: Mapping[CellKey, Mark] | None = None,
    caveats: Sequence[str] = (),
    region: str | None = None,
    district: str | None = None,
) -> Report:
    """The report of ``zone`` for ``period`` from the zone's indicator values of that period.

    ``places`` lists every (region, district) of the zone, so that a district without figures in
    the period still shows its zeros. The suppression pattern is computed over the whole zone and
    period, then ``region`` / ``district`` narrow the rows shown (a part of the report is a view of
    the same pattern). With ``suppressed=False`` nothing is withheld: an operator's view, never a
    cross-region output. ``marks`` is the pattern when already computed (e.g. cached).
    """
    policy = policy or Policy()
    values = [v for v in values if (v.period_kind, v.period) == (period.kind, period.value)]
    all_places = set(places) | {(v.region, v.district) for v in values}
    if not suppressed:
        marks = {}
    elif marks is None:
        marks = period_suppression(values, period, all_places, policy).marks
    here = {(v.region, v.district, v.indicator): v.value for v in values}
    scopes = _scopes(all_places)
    if district is not None:
        scopes = [s for s in scopes if s[2] == district]
    elif region is not None:
        scopes = [s for s in scopes if s[1] == region]
    rows: list[ReportRow] = []
    for level, r, d in scopes:
        cells: dict[str, ReportCell] = {}
        for spec in INDICATORS:
            value = here.get((r, d, spec.name))
            if value is None and spec.kind != "ratio":
                value = Decimal(0).quantize(Decimal(1).scaleb(-spec.places))
            cells[spec.name] = ReportCell(value, marks.get((r, d, period.kind, period.value, spec.name)))
        rows.append(ReportRow(level, r, d, _name(r, d, zone), cells))
    return Report(
        zone=zone,
        period=period,
        reporting_currency=reporting_currency,
        rows=tuple(rows),
        indicators=INDICATORS,
        rates=tuple(rates),
        fx_source=fx_source,
        policy=policy,
        suppressed=suppressed,
        caveats=tuple(caveats),
        region=region,
        district=district,
    )


def illustrative_caveat(districts: Iterable[str]) -> str | None:
    """The caveat naming districts whose data is illustrative demo data (None if there are none)."""
    names = sorted(districts)
    if not names:
        return None
    return (
        "Illustrative data: the figures of "
        + ", ".join(names)
        + " are invented demo data (no source reports figures for them), not reported statistics."
    )


# -- rendering -------------------------------------------------------------------------------------------------
def _legend(report: Report) -> list[str]:
    lines = []
    if report.suppressed:
        t = report.policy.threshold
        lines.append(
            f"Suppression: a count below {t} is shown as {report.policy.label}; "
            f"'{COMPLEMENTARY_LABEL}' marks a figure withheld so that no suppressed figure can be recovered "
            f"by subtraction, or an amount or rate computed from a suppressed count."
        )
    else:
        lines.append("UNSUPPRESSED: small counts are shown as they are; not for publication across regions.")
    lines.append(f"'{NOT_APPLICABLE}': not applicable (a rate with nothing to divide by).")
    return lines


def _rate_lines(report: Report) -> list[str]:
    if not report.rates:
        return [f"FX: no conversion into {report.reporting_currency} was needed in this period."]
    lines = [
        f"FX rates used (units of {report.reporting_currency} per unit; source: {report.fx_source or 'fx rates'}):"
    ]
    for rate in report.rates:
        since = "" if rate.valid_from == date.min else f" valid from {rate.valid_from.isoformat()}"
        lines.append(f"  1 {rate.currency} = {rate.rate} {rate.to}{since}")
    return lines


def _heading(report: Report) -> str:
    scope = ""
    if report.district:
        scope = f", district {report.district}"
    elif report.region:
        scope = f", region {report.region}"
    return (
        f"Report of zone {report.zone}{scope}, {report.period.kind} {report.period.value} "
        f"({report.period.start.isoformat()} to {report.period.end.isoformat()}, Asia/Shanghai); "
        f"amounts in {report.reporting_currency}"
    )


def _format(spec: Indicator, cell: ReportCell, policy: Policy) -> str:
    if cell.mark is not None or cell.value is None:
        return cell.shown(policy)
    if spec.kind == "amount":
        return f"{cell.value:,.2f}"
    if spec.kind == "count":
        return f"{cell.value:,}"
    return str(cell.value)


def render_table(report: Report, width: int = 160) -> str:
    """Rich tables: one per block (the zone with its regions, then each region with its districts)."""
    blocks: list[tuple[str, list[ReportRow]]] = []
    zone_rows = [r for r in report.rows if r.level != "district"]
    if report.district is None and report.region is None:
        blocks.append((f"{report.zone}: zone and regions", zone_rows))
    for region in sorted({r.region for r in report.rows if r.level != "zone"}):
        members = [r for r in report.rows if r.region == region and r.level != "zone"]
        if members:
            blocks.append((f"{region}: region and districts", members))
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    console.print(_heading(report), highlight=False, soft_wrap=True)
    for title, rows in blocks:
        table = Table(title=title, title_justify="left", show_lines=False)
        table.add_column("indicator", no_wrap=True)
        table.add_column("unit", no_wrap=True)
        for row in rows:
            table.add_column(row.name if row.level != "district" else row.district, justify="right")
        group = None
        for spec in report.indicators:
            if group is not None and spec.group != group:
                table.add_section()
            group = spec.group
            table.add_row(
                spec.name, report.unit(spec), *(_format(spec, row.cells[spec.name], report.policy) for row in rows)
            )
        console.print(table)
    for line in [*_legend(report), *_rate_lines(report), *report.caveats]:
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    return out.getvalue()


CSV_COLUMNS: Final[tuple[str, ...]] = (
    "zone",
    "period_kind",
    "period",
    "level",
    "region",
    "district",
    "indicator",
    "unit",
    "value",
    "flag",
)


def render_csv(report: Report) -> str:
    """Long-form CSV (one row per scope and indicator) after ``#`` comment lines: heading, legend, FX, caveats.

    ``value`` is the published figure (empty when withheld); ``flag`` is ``<5`` (primary), ``x``
    (complementary or dependent), ``-`` (not applicable) or empty.
    """
    out = io.StringIO()
    for line in [_heading(report), *_legend(report), *_rate_lines(report), *report.caveats]:
        out.write(f"# {line.strip()}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        for spec in report.indicators:
            cell = row.cells[spec.name]
            flag = "" if cell.mark is None and cell.value is not None else cell.shown(report.policy)
            published = cell.published()
            writer.writerow(
                [
                    report.zone,
                    report.period.kind,
                    report.period.value,
                    row.level,
                    row.region,
                    row.district,
                    spec.name,
                    report.unit(spec),
                    "" if published is None else str(published),
                    flag,
                ]
            )
    return out.getvalue()


def _json_value(spec: Indicator, cell: ReportCell) -> Any:
    published = cell.published()
    if published is None:
        return None
    if spec.kind == "count":
        return int(published)
    if spec.kind == "amount":
        return str(published)  # money stays exact: a string with two decimals
    return float(published)


def report_document(report: Report) -> dict[str, Any]:
    """The JSON form of a report (what ``format=json`` returns)."""
    return {
        "zone": report.zone,
        "period": {
            "kind": report.period.kind,
            "value": report.period.value,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "time_zone": "Asia/Shanghai",
        },
        "scope": {"region": report.region, "district": report.district},
        "reporting_currency": report.reporting_currency,
        "fx": {
            "source": report.fx_source,
            "rates_used": [
                {
                    "currency": r.currency,
                    "to": r.to,
                    "rate": str(r.rate),
                    "valid_from": None if r.valid_from == date.min else r.valid_from.isoformat(),
                }
                for r in report.rates
            ],
        },
        "suppression": {
            "applied": report.suppressed,
            "threshold": report.policy.threshold,
            "primary_label": report.policy.label,
            "complementary_label": COMPLEMENTARY_LABEL,
            "legend": _legend(report),
        },
        "caveats": list(report.caveats),
        "indicators": [
            {"name": s.name, "unit": report.unit(s), "kind": s.kind, "description": s.description}
            for s in report.indicators
        ],
        "rows": [
            {
                "level": row.level,
                "region": row.region,
                "district": row.district,
                "name": row.name,
                "values": {s.name: _json_value(s, row.cells[s.name]) for s in report.indicators},
                "flags": {
                    s.name: row.cells[s.name].shown(report.policy)
                    for s in report.indicators
                    if row.cells[s.name].mark is not None or row.cells[s.name].value is None
                },
            }
            for row in report.rows
        ],
    }


def render_json(report: Report) -> str:
    """:func:`report_document` as indented JSON (UTF-8 text, not ASCII-escaped)."""
    return json.dumps(report_document(report), ensure_ascii=False, indent=2) + "\n"


def render(report: Report, fmt: Format, width: int = 160) -> str:
    """The report in ``fmt``: ``table``, ``csv`` or ``json``."""
    if fmt == "table":
        return render_table(report, width)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    raise ValueError(f"format: unknown {fmt!r}; expected one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "CellKey",
    "Report",
    "ReportCell",
    "ReportRow",
    "build_report",
    "illustrative_caveat",
    "period_cells",
    "period_suppression",
    "render",
    "render_csv",
    "render_json",
    "render_table",
    "report_document",
]
