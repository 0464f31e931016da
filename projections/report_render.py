"""How a report is written out: Rich tables, long-form CSV, and JSON.

Pure: functions from a :class:`~projections.report.Report` to text (or to the
JSON document as a dict); nothing is read or written. Every format carries the
same published figures and flags (``<5``, ``x``, ``-``) as the report's cells
(:meth:`~projections.report.ReportCell.shown`), the reporting currency, the
exchange rates used, the suppression legend and the caveats; money stays exact
(strings with two decimals in JSON). Periods are stated in the reporting time
zone of :mod:`hub.reporting_time`.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any, Final, Literal

from rich.console import Console
from rich.table import Table

from hub.reporting_time import REPORTING_TZ_NAME
from projections.indicators import Indicator
from projections.report import COMPLEMENTARY_LABEL, NOT_APPLICABLE, Report, ReportCell, ReportRow
from projections.suppression import Policy

Format = Literal["table", "csv", "json"]
FORMATS: Final[tuple[Format, ...]] = ("table", "csv", "json")


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


def report_document(report: Report) -> dict[str, Any]:
    """The JSON form of a report (what ``format=json`` returns)."""
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
    "CSV_COLUMNS",
    "FORMATS",
    "Format",
    "json_value",
    "render",
    "render_csv",
    "render_json",
    "render_table",
    "report_document",
]
