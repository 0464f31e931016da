"""How a report is written out: Rich tables, plain long-form CSV with a metadata sidecar, and JSON.

Pure: functions from a :class:`~projections.report.Report` to text (or to the
JSON document as a dict); nothing is read or written. Every format carries the
same published figures and flags (``<5``, ``x``, ``-``) as the report's cells
(:meth:`~projections.report.ReportCell.shown`); the reporting currency, the
exchange rates used, the suppression legend and the caveats are in the table
and the JSON, and, for the CSV, in its metadata (:func:`render_metadata`,
:func:`metadata_lines`), so that the CSV itself is nothing but a header row
and data rows. Money stays exact (strings with two decimals in JSON). Periods
are stated in the reporting time zone of :mod:`hub.reporting_time`. A table
never cuts a value: a block too wide for ``width`` is split into column
chunks, each repeating the indicator and unit columns, and a chunk that still
does not fit is drawn at its natural width. The XLSX form is
:mod:`projections.report_xlsx`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final, Literal

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from hub.reporting_time import REPORTING_TZ_NAME
from projections.indicators import Indicator
from projections.report import COMPLEMENTARY_LABEL, NOT_APPLICABLE, Report, ReportCell, ReportRow
from projections.suppression import Policy

Format = Literal["table", "csv", "json", "metadata"]
"""The text formats of :func:`render` (the XLSX workbook, bytes, is :func:`projections.report_xlsx.render_xlsx`)."""
FORMATS: Final[tuple[Format, ...]] = ("table", "csv", "json", "metadata")


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
        f"({report.period.start.isoformat()} to {report.period.end.isoformat()}, {REPORTING_TZ_NAME}); "
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


_MEASURE_WIDTH: Final = 100_000
"""Wide enough to measure any table at its natural width."""


def _natural_width(console: Console, table: Table) -> int:
    return Measurement.get(console, console.options.update_width(_MEASURE_WIDTH), table).maximum


def _block_table(title: str, report: Report, rows: Sequence[ReportRow]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("indicator", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    for row in rows:
        table.add_column(row.name if row.level != "district" else row.district, justify="right", no_wrap=True)
    group = None
    for spec in report.indicators:
        if group is not None and spec.group != group:
            table.add_section()
        group = spec.group
        table.add_row(
            spec.name, report.unit(spec), *(_format(spec, row.cells[spec.name], report.policy) for row in rows)
        )
    return table


def _chunks(console: Console, title: str, report: Report, rows: Sequence[ReportRow], width: int) -> list[Table]:
    """The block as tables no wider than ``width`` where possible: as many value columns per table as fit,
    each table repeating the indicator and unit columns; a single value column too wide stays whole."""
    whole = _block_table(title, report, rows)
    if _natural_width(console, whole) <= width:
        return [whole]
    groups: list[list[ReportRow]] = []
    current: list[ReportRow] = []
    for row in rows:
        if current and _natural_width(console, _block_table(title, report, [*current, row])) > width:
            groups.append(current)
            current = []
        current.append(row)
    groups.append(current)
    if len(groups) == 1:
        return [whole]
    tables = []
    first = 1
    for part in groups:
        last = first + len(part) - 1
        span = f"column {first}" if first == last else f"columns {first}-{last}"
        tables.append(_block_table(f"{title} ({span} of {len(rows)})", report, part))
        first = last + 1
    return tables


def render_table(report: Report, width: int = 160) -> str:
    """Rich tables: one per block (the zone with its regions, then each region with its districts).

    Never truncated: a block wider than ``width`` is split into tables of as many value columns as
    fit, each repeating the indicator and unit columns; a table that cannot fit (one value column
    already too wide) is drawn at its natural width, wider than ``width``.
    """
    blocks: list[tuple[str, list[ReportRow]]] = []
    zone_rows = [r for r in report.rows if r.level != "district"]
    if report.district is None and report.region is None:
        blocks.append((f"{report.zone}: zone and regions", zone_rows))
    for region in sorted({r.region for r in report.rows if r.level != "zone"}):
        members = [r for r in report.rows if r.region == region and r.level != "zone"]
        if members:
            blocks.append((f"{region}: region and districts", members))
    measuring = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    tables = [t for title, rows in blocks for t in _chunks(measuring, title, report, rows, width)]
    widest = max([width, *(_natural_width(measuring, t) for t in tables)])
    out = io.StringIO()
    console = Console(file=out, width=widest, force_terminal=False, color_system=None)
    console.print(_heading(report), highlight=False, soft_wrap=True)
    for table in tables:
        console.print(table)
    for line in metadata_lines(report)[1:]:
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    return out.getvalue()


def metadata_lines(report: Report) -> list[str]:
    """What a reader needs beside the figures, as lines: the heading, the suppression legend, the FX
    rates used and the caveats (the table prints them; ``hub report --format csv`` writes them to stderr)."""
    return [_heading(report), *_legend(report), *_rate_lines(report), *report.caveats]


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


CSV_COLUMN_DESCRIPTIONS: Final[dict[str, str]] = {
    "zone": "the zone of the report (gba or mainland)",
    "period_kind": "year, quarter or month",
    "period": "the period, e.g. 2026, 2026-Q1 or 2026-03 (reporting time zone)",
    "level": "zone, region or district: the scope the row's figure covers",
    "region": "the region code; * on the zone's rows",
    "district": "the district code; * on the zone's and regions' rows",
    "indicator": "the indicator's name (see indicators)",
    "unit": "the figure's unit; amounts are in the reporting currency",
    "value": "the published figure: an integer count, an amount with two decimals or a ratio; "
    "empty when withheld or not applicable",
    "flag": "empty for a published figure; <5 a small count withheld (primary suppression), "
    "x withheld so that no small count can be recovered, - not applicable",
}
"""What each column of :func:`render_csv` (and of the XLSX ``data`` sheet) holds."""


@dataclass(frozen=True)
class LongRow:
    """One row of the long form: a scope's figure of one indicator, as the CSV and the XLSX write it."""

    zone: str
    period_kind: str
    period: str
    level: str
    region: str
    district: str
    indicator: Indicator
    unit: str
    value: Decimal | None
    """The published figure, None when withheld or not applicable."""
    flag: str
    """``<5``, ``x``, ``-`` or empty."""


def long_rows(report: Report) -> Iterator[LongRow]:
    """The report in long form: one row per scope and indicator, in the report's order."""
    for row in report.rows:
        for spec in report.indicators:
            cell = row.cells[spec.name]
            yield LongRow(
                zone=report.zone,
                period_kind=report.period.kind,
                period=report.period.value,
                level=row.level,
                region=row.region,
                district=row.district,
                indicator=spec,
                unit=report.unit(spec),
                value=cell.published(),
                flag="" if cell.mark is None and cell.value is not None else cell.shown(report.policy),
            )


def render_csv(report: Report) -> str:
    """Plain long-form CSV: the header row (:data:`CSV_COLUMNS`), then one row per scope and indicator.

    Nothing else: what describes the figures (heading, legend, FX rates, caveats) is
    :func:`render_metadata`. ``value`` is the published figure (empty when withheld); ``flag`` is
    ``<5`` (primary), ``x`` (complementary or dependent), ``-`` (not applicable) or empty.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in long_rows(report):
        writer.writerow(
            [
                r.zone,
                r.period_kind,
                r.period,
                r.level,
                r.region,
                r.district,
                r.indicator.name,
                r.unit,
                "" if r.value is None else str(r.value),
                r.flag,
            ]
        )
    return out.getvalue()


def json_value(spec: Indicator, cell: ReportCell) -> Any:
    """The figure as JSON publishes it: None when withheld or not applicable, an int for a count, a string
    with two decimals for an amount (money stays exact), a float for a ratio."""
    published = cell.published()
    if published is None:
        return None
    if spec.kind == "count":
        return int(published)
    if spec.kind == "amount":
        return str(published)  # money stays exact: a string with two decimals
    return float(published)


def _description(report: Report) -> dict[str, Any]:
    """Everything of the JSON document but its rows."""
    return {
        "zone": report.zone,
        "period": {
            "kind": report.period.kind,
            "value": report.period.value,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "time_zone": REPORTING_TZ_NAME,
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
    }


def report_document(report: Report) -> dict[str, Any]:
    """The JSON form of a report (what ``format=json`` returns)."""
    return {
        **_description(report),
        "rows": [
            {
                "level": row.level,
                "region": row.region,
                "district": row.district,
                "name": row.name,
                "values": {s.name: json_value(s, row.cells[s.name]) for s in report.indicators},
                "flags": {
                    s.name: row.cells[s.name].shown(report.policy)
                    for s in report.indicators
                    if row.cells[s.name].mark is not None or row.cells[s.name].value is None
                },
            }
            for row in report.rows
        ],
    }


def render_metadata(report: Report) -> dict[str, Any]:
    """The sidecar of the CSV: everything of :func:`report_document` but ``rows`` (period, scope,
    currency, FX rates used, suppression and its legend, caveats, indicators with their units), plus
    ``title`` (the heading) and ``columns``, what each CSV column holds."""
    return {
        "title": _heading(report),
        **_description(report),
        "columns": [{"name": name, "description": CSV_COLUMN_DESCRIPTIONS[name]} for name in CSV_COLUMNS],
    }


def render_json(report: Report) -> str:
    """:func:`report_document` as indented JSON (UTF-8 text, not ASCII-escaped)."""
    return json.dumps(report_document(report), ensure_ascii=False, indent=2) + "\n"


def render_metadata_json(report: Report) -> str:
    """:func:`render_metadata` as indented JSON (UTF-8 text, not ASCII-escaped)."""
    return json.dumps(render_metadata(report), ensure_ascii=False, indent=2) + "\n"


def render(report: Report, fmt: Format, width: int = 160) -> str:
    """The report in ``fmt``: ``table``, ``csv``, ``json`` or ``metadata`` (the CSV's sidecar, JSON)."""
    if fmt == "table":
        return render_table(report, width)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "metadata":
        return render_metadata_json(report)
    raise ValueError(f"format: unknown {fmt!r}; expected one of {', '.join(FORMATS)}")


__all__ = [
    "CSV_COLUMNS",
    "CSV_COLUMN_DESCRIPTIONS",
    "FORMATS",
    "Format",
    "LongRow",
    "json_value",
    "long_rows",
    "metadata_lines",
    "render",
    "render_csv",
    "render_json",
    "render_metadata",
    "render_metadata_json",
    "render_table",
    "report_document",
]
