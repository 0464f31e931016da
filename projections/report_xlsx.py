"""A report as an XLSX workbook (openpyxl): the long-form figures on sheet ``data``, what describes them on ``about``.

Pure: :func:`render_xlsx` builds the workbook in memory and returns its bytes;
nothing is read or written. Sheet ``data`` holds the same rows, in the same
order and with the same columns, as :func:`projections.report_render.render_csv`,
its header row frozen: counts are integers, amounts numbers with a two-decimal
number format, ratios numbers; a withheld or not applicable figure is an empty
cell with its ``flag`` (``<5``, ``x``, ``-``). Amounts have two decimals; below
1e13 that is at most 15 significant digits, which a float (what a spreadsheet
cell holds) gives back exactly when formatted with two decimals. Sheet
``about`` is :func:`~projections.report_render.render_metadata` as label/value
lines: heading, period, scope, currency, suppression legend, FX rates used,
caveats, indicators with their units, and the columns of ``data``.
Two workbooks of one report differ only in the timestamps openpyxl stamps on save.
"""

from __future__ import annotations

import io
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from projections.report import Report
from projections.report_render import CSV_COLUMNS, LongRow, long_rows, render_metadata

MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
"""The media type of an XLSX workbook."""
AMOUNT_FORMAT: Final = "#,##0.00"
"""The number format of an amount: two decimals."""


def cell_value(row: LongRow) -> int | float | None:
    """The figure as the ``data`` sheet holds it: an int for a count, a float otherwise, None when withheld."""
    if row.value is None:
        return None
    if row.indicator.kind == "count":
        return int(row.value)
    return float(row.value)


def _number_format(row: LongRow) -> str | None:
    if row.indicator.kind == "amount":
        return AMOUNT_FORMAT
    if row.indicator.kind == "ratio" and row.indicator.places > 0:
        return "0." + "0" * row.indicator.places
    return None


def _data_sheet(sheet: Worksheet, report: Report) -> None:
    bold = Font(bold=True)
    sheet.append(list(CSV_COLUMNS))
    for cell in sheet[1]:
        cell.font = bold
    value_column = CSV_COLUMNS.index("value") + 1
    widths = [len(name) for name in CSV_COLUMNS]
    for r in long_rows(report):
        texts = [r.zone, r.period_kind, r.period, r.level, r.region, r.district, r.indicator.name, r.unit]
        sheet.append([*texts, cell_value(r), r.flag])
        number_format = _number_format(r)
        if number_format is not None:
            sheet.cell(row=sheet.max_row, column=value_column).number_format = number_format
        for i, text in enumerate(texts):
            widths[i] = max(widths[i], len(text))
    widths[value_column - 1] = max(widths[value_column - 1], 18)
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width + 2
    sheet.freeze_panes = "A2"


def about_lines(report: Report) -> list[tuple[str, str]]:
    """The ``about`` sheet: :func:`~projections.report_render.render_metadata` as (label, value) lines."""
    meta: dict[str, Any] = render_metadata(report)
    period = meta["period"]
    scope = meta["scope"]
    suppression = meta["suppression"]
    lines: list[tuple[str, str]] = [
        ("report", meta["title"]),
        ("zone", meta["zone"]),
        ("period", f"{period['kind']} {period['value']} ({period['start']} to {period['end']}, {period['time_zone']})"),
        ("region", scope["region"] or "all"),
        ("district", scope["district"] or "all"),
        ("reporting currency", meta["reporting_currency"]),
        ("suppression applied", "yes" if suppression["applied"] else "no (operator view: not for publication)"),
        ("suppression threshold", str(suppression["threshold"])),
        *(("legend", line) for line in suppression["legend"]),
        ("FX source", meta["fx"]["source"] or "-"),
    ]
    rates = meta["fx"]["rates_used"]
    if not rates:
        lines.append(("FX rate", f"no conversion into {meta['reporting_currency']} was needed in this period"))
    for rate in rates:
        since = f" valid from {rate['valid_from']}" if rate["valid_from"] else ""
        lines.append(("FX rate", f"1 {rate['currency']} = {rate['rate']} {rate['to']}{since}"))
    lines += [("caveat", text) for text in meta["caveats"]]
    lines += [(f"indicator {i['name']}", f"{i['unit']}: {i['description']}") for i in meta["indicators"]]
    lines += [(f"column {c['name']}", c["description"]) for c in meta["columns"]]
    return lines


def _about_sheet(sheet: Worksheet, report: Report) -> None:
    sheet.append(["label", "value"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    lines = about_lines(report)
    for label, value in lines:
        sheet.append([label, value])
    sheet.column_dimensions["A"].width = max(len(label) for label, _ in lines) + 2
    sheet.column_dimensions["B"].width = 120
    sheet.freeze_panes = "A2"


def render_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook: sheet ``data`` (the long-form rows) and sheet ``about`` (the metadata)."""
    workbook = Workbook()
    data = workbook.active
    assert data is not None  # a new workbook has one sheet
    data.title = "data"
    _data_sheet(data, report)
    _about_sheet(workbook.create_sheet("about"), report)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


__all__ = ["AMOUNT_FORMAT", "MEDIA_TYPE", "about_lines", "cell_value", "render_xlsx"]
