"""Report formats: tables never cut a value (render_table and the commands' console), plain CSV, its metadata, XLSX."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from rich.console import Console
from rich.table import Table

from hub.commandline import make_console
from projections.fx import AppliedRate
from projections.indicators import ALL, BY_NAME, INDICATORS, Indicator, IndicatorValue
from projections.periods import parse_period
from projections.report import Report, ReportCell, build_report
from projections.report_render import CSV_COLUMNS, render_csv, render_metadata, render_table, report_document
from projections.report_xlsx import AMOUNT_FORMAT, render_xlsx

LONG_DISTRICTS = [f"district-with-a-rather-long-name-number-{i:02d}" for i in range(1, 13)]


def shown_value(spec: Indicator, cell: ReportCell, report: Report) -> str:
    """What a table cell must show, whole: the grouped figure, or its flag (the table's own rule, restated)."""
    if cell.mark is not None or cell.value is None:
        return cell.shown(report.policy)
    if spec.kind == "amount":
        return f"{cell.value:,.2f}"
    if spec.kind == "count":
        return f"{cell.value:,}"
    return str(cell.value)


def table_cells(text: str) -> set[str]:
    """Every cell of every table in ``text``, stripped (headers included)."""
    return {c.strip() for line in text.splitlines() for c in re.split("[│┃]", line)}


def assert_nothing_cut(text: str, report: Report) -> None:
    """Every district code and every figure of ``report`` is a whole cell of ``text``; no ellipsis anywhere."""
    assert "…" not in text
    cells = table_cells(text)
    missing = [d for d in {r.district for r in report.rows if r.level == "district"} if d not in cells]
    assert not missing, missing
    for row in report.rows:
        for spec in report.indicators:
            want = shown_value(spec, row.cells[spec.name], report)
            assert want in cells, (row.district, spec.name, want)


def long_names_report() -> Report:
    """A region of twelve districts with long codes and large figures, unsuppressed (the widths are the point;
    the suppressed known stream is in tests/test_cli_report.py and tests/test_query_api.py)."""
    values: list[IndicatorValue] = []
    totals: dict[str, Decimal] = {}
    for i, district in enumerate(LONG_DISTRICTS):
        figures = {
            "visits": Decimal(122_000 + i),
            "cases_open": Decimal(40_000 + i),
            "donations_amount_reporting": Decimal("987654321098.76") + i,
            "donations_count": Decimal(1_000 + i),
        }
        for name, value in figures.items():
            values.append(IndicatorValue("gba", "GD", district, "year", "2026", name, value))
            if BY_NAME[name].additive:
                totals[name] = totals.get(name, Decimal(0)) + value
    for name, value in totals.items():
        for region in ("GD", ALL):
            values.append(IndicatorValue("gba", region, ALL, "year", "2026", name, value))
    return build_report(
        "gba",
        parse_period("2026"),
        values,
        reporting_currency="CNY",
        rates=[AppliedRate("HKD", "CNY", Decimal("0.91500000"), parse_period("2026").start)],
        fx_source="test rates",
        caveats=["Illustrative data."],
        suppressed=False,
    )


# -- tables -----------------------------------------------------------------------------------------------
def test_a_table_at_width_60_shows_every_district_and_figure_whole() -> None:
    report = long_names_report()
    text = render_table(report, 60)
    assert_nothing_cut(text, report)
    assert "(column 1 of 13)" in text and "(column 13 of 13)" in text  # split, each chunk its own table
    assert text.count("indicator") >= 13  # the indicator and unit columns repeat in every chunk


def test_a_wide_table_is_split_into_chunks_that_fit_the_width() -> None:
    report = long_names_report()
    text = render_table(report, 160)
    assert_nothing_cut(text, report)
    table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│├└"]
    assert table_lines and max(len(line) for line in table_lines) <= 160
    assert re.search(r"GD: region and districts \(columns 1-\d+ of 13\)", text)


def test_a_narrow_report_is_one_table_per_block_as_before() -> None:
    report = long_names_report()
    text = render_table(report, 2000)
    assert "of 13)" not in text and "GD: region and districts" in text
    assert_nothing_cut(text, report)


def test_the_commands_console_prints_tables_whole_into_a_file() -> None:
    console = make_console()
    out = io.StringIO()
    console.file = out
    assert not console.is_terminal and console.width < 200
    table = Table("district", *(f"value {i}" for i in range(10)), title="wide")
    table.add_row("shenzhen-nanshan-a-long-name", *(f"{122_000 + i:,}.00" for i in range(10)))
    console.print(table)
    console.rule("a rule")
    console.print("a line")
    text = out.getvalue()
    assert "…" not in text
    cells = table_cells(text)
    assert "shenzhen-nanshan-a-long-name" in cells
    assert all(f"{122_000 + i:,}.00" in cells and f"value {i}" in cells for i in range(10))
    widest = max(len(line) for line in text.splitlines())
    assert widest > console.width  # the table is drawn at its natural width ...
    [rule] = [line for line in text.splitlines() if "a rule" in line]
    assert len(rule) == console.width  # ... and a rule keeps the console's width


def test_a_rule_whose_title_does_not_fit_draws_the_whole_title_under_it() -> None:
    console = make_console()
    out = io.StringIO()
    console.file = out
    title = "gba report computed in hk, 2026 (suppressed: counts of people below 5 show as <5) " * 2
    console.rule(title.strip())
    console.rule("short")
    lines = out.getvalue().splitlines()
    assert "…" not in out.getvalue()
    assert set(lines[0]) == {"─"} and len(lines[0]) == console.width
    assert lines[1] == title.strip()
    assert "short" in lines[2] and len(lines[2]) == console.width


def test_a_table_that_fits_is_printed_as_rich_prints_it() -> None:
    console = make_console()
    console.file = io.StringIO()
    table = Table("a", "b")
    table.add_row("1", "2")
    console.print(table)
    plain = make_console()
    plain.file = io.StringIO()
    Console.print(plain, table)  # rich's own print, on the same console
    assert console.file.getvalue() == plain.file.getvalue()


# -- CSV, metadata, XLSX ----------------------------------------------------------------------------------
def _json_cells(doc: dict[str, Any]) -> dict[tuple[str, str, str], tuple[Any, str]]:
    return {
        (row["region"], row["district"], name): (value, row["flags"].get(name, ""))
        for row in doc["rows"]
        for name, value in row["values"].items()
    }


def test_the_csv_is_a_header_row_and_data_rows_only() -> None:
    report = long_names_report()
    text = render_csv(report)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(report.rows) * len(INDICATORS)
    want = _json_cells(report_document(report))
    for r in rows:
        value, flag = want[(r["region"], r["district"], r["indicator"])]
        assert r["flag"] == flag
        if value is not None and BY_NAME[r["indicator"]].kind != "ratio":
            assert r["value"] == str(value)


def test_the_metadata_is_the_document_without_rows_plus_the_columns() -> None:
    report = long_names_report()
    doc = report_document(report)
    meta = render_metadata(report)
    assert set(meta) == (set(doc) - {"rows"}) | {"title", "columns"}
    assert all(meta[key] == doc[key] for key in doc if key != "rows")
    assert [c["name"] for c in meta["columns"]] == list(CSV_COLUMNS) and all(c["description"] for c in meta["columns"])
    assert meta["fx"]["rates_used"][0]["rate"] == "0.91500000" and meta["suppression"]["legend"]


def test_the_xlsx_holds_the_csv_rows_typed_and_the_metadata() -> None:
    report = long_names_report()
    book = load_workbook(io.BytesIO(render_xlsx(report)))
    assert book.sheetnames == ["data", "about"]
    data = book["data"]
    assert data.freeze_panes == "A2"
    header, *lines = data.iter_rows(values_only=True)
    assert header == CSV_COLUMNS
    csv_rows = list(csv.reader(io.StringIO(render_csv(report))))[1:]
    assert len(lines) == len(csv_rows)
    want = _json_cells(report_document(report))
    big = 0
    for line, csv_row in zip(lines, csv_rows, strict=True):
        r = dict(zip(CSV_COLUMNS, line, strict=True))
        assert [str(v) if v is not None else "" for v in line[:8]] == csv_row[:8]
        value, flag = want[(r["region"], r["district"], r["indicator"])]
        assert (r["flag"] or "") == flag
        kind = BY_NAME[r["indicator"]].kind
        if value is None:
            assert r["value"] is None
        elif kind == "count":
            assert type(r["value"]) is int and r["value"] == value
        elif kind == "amount":
            assert f"{r['value']:.2f}" == value  # a float gives the two-decimal figure back exactly
            big += Decimal(value) > Decimal("1e11")
        else:
            assert isinstance(r["value"], float) and Decimal(str(r["value"])) == Decimal(csv_row[8])
    assert big > 0  # the round trip was tried on amounts near 1e12
    amount_cells = [row[8] for row in data.iter_rows(min_row=2) if row[6].value == "donations_amount_reporting"]
    assert amount_cells and all(c.number_format == AMOUNT_FORMAT for c in amount_cells)
    about = list(book["about"].iter_rows(min_row=2, values_only=True))
    labels = {label for label, _ in about}
    assert {"report", "legend", "FX rate", "caveat"} <= labels
    assert ("FX rate", "1 HKD = 0.91500000 CNY valid from 2026-01-01") in about
    assert ("caveat", "Illustrative data.") in about
