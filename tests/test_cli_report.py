"""``hub report``, run as a user runs it, on a SQLite database filled through the store."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from projections import indicator_store
from projections.report_queries import ReportService
from projections.report_render import CSV_COLUMNS, metadata_lines, render_csv, report_document
from tests.indicator_stream import known_database
from tests.test_report_formats import assert_nothing_cut

HUB = str(Path(sys.executable).with_name("hub"))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """Shared by the tests that only read reports (the first ``hub report`` refreshes it)."""
    with known_database(tmp_path_factory.mktemp("cli")) as loaded:
        yield loaded


@pytest.fixture
def stale_database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A database of its own, so that its indicators are stale whichever tests ran before."""
    with known_database(tmp_path / "stale") as loaded:
        yield loaded


def hub(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env["HUB_DATABASE_URL"] = url
    return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_report_refreshes_stale_indicators_then_prints_csv(stale_database: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = stale_database
    assert indicator_store.stale_zones(engine) == ["gba", "mainland"]
    proc = hub(["report", "--zone", "gba", "--period", "2026-Q2", "--format", "csv"], url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert indicator_store.stale_zones(engine) == []
    built = ReportService(engine).report("gba", "2026-Q2")
    assert proc.stdout == render_csv(built)
    assert proc.stdout.startswith(",".join(CSV_COLUMNS) + "\n") and "#" not in proc.stdout
    assert "<5" in proc.stdout
    # what describes the figures goes to stderr, so a human piping the CSV loses nothing
    assert proc.stderr.splitlines() == metadata_lines(built)
    assert "FX rates used" in proc.stderr


def test_report_as_json_and_as_a_table(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, _ = database
    proc = hub(
        ["report", "--zone", "mainland", "--period", "2026", "--format", "json", "--region", "JS"], url, tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["scope"] == {"region": "JS", "district": None}
    assert {(r["level"], r["district"]) for r in doc["rows"]} == {("region", "*"), ("district", "yancheng-tinghu")}
    table = hub(["report", "--zone", "gba", "--period", "2026"], url, tmp_path)
    assert table.returncode == 0, table.stderr
    for text in ("Report of zone gba, year 2026", "gba: zone and regions", "HK: region and districts", "home_visits"):
        assert text in table.stdout
    assert "1 HKD = 0.90000000 CNY" in table.stdout and "1 HKD = 0.92000000 CNY valid from 2026-04-01" in table.stdout


def test_unsuppressed_is_an_operator_view_with_a_warning(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, _ = database
    args = ["report", "--zone", "gba", "--period", "2026-Q2", "--format", "csv", "--district", "mo-taipa"]
    plain = hub(args, url, tmp_path)
    open_view = hub([*args, "--unsuppressed"], url, tmp_path)
    assert open_view.returncode == 0 and "unsuppressed" in open_view.stderr
    assert ",<5" in plain.stdout and ",<5" not in open_view.stdout and "UNSUPPRESSED" in open_view.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--zone", "gba", "--period", "2026-Q7"], "period"),
        (["--zone", "moon", "--period", "2026"], "zone"),
        (["--zone", "gba", "--period", "2026", "--district", "jinjiang"], "district"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    database: tuple[str, Engine], tmp_path: Path, args: list[str], needle: str
) -> None:
    proc = hub(["report", *args], database[0], tmp_path)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert needle in proc.stderr


def test_an_unknown_format_and_an_empty_database_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    bad = hub(["report", "--zone", "gba", "--period", "2026", "--format", "xml"], url, tmp_path)
    assert bad.returncode == 2 and "--format" in bad.stderr
    empty = hub(["report", "--zone", "gba", "--period", "2026"], url, tmp_path)
    assert empty.returncode == 1 and "hub db upgrade" in empty.stderr


def test_a_piped_table_cuts_no_value(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = database
    for width in ("60", "160"):
        proc = hub(
            ["report", "--zone", "gba", "--period", "2026-Q2", "--format", "table", "--width", width], url, tmp_path
        )
        assert proc.returncode == 0, proc.stderr
        assert_nothing_cut(proc.stdout, ReportService(engine).report("gba", "2026-Q2"))


def test_csv_to_a_file_writes_its_metadata_beside_it(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = database
    out = tmp_path / "gba-2026-Q2.csv"
    proc = hub(
        ["report", "--zone", "gba", "--period", "2026-Q2", "--format", "csv", "--output", str(out)], url, tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    sidecar = tmp_path / "gba-2026-Q2.metadata.json"
    assert proc.stdout == "" and f"wrote {out} and its metadata {sidecar}" in proc.stderr
    built = ReportService(engine).report("gba", "2026-Q2")
    assert out.read_text(encoding="utf-8") == render_csv(built)
    doc = report_document(built)
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    assert {r["currency"] for r in meta["fx"]["rates_used"]} == {"HKD", "MOP"}
    assert meta["suppression"]["legend"] == doc["suppression"]["legend"] and "rows" not in meta
    values = {
        (r["region"], r["district"], n): (v, r["flags"].get(n, "")) for r in doc["rows"] for n, v in r["values"].items()
    }
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == len(values)
    withheld = 0
    for r in rows:
        value, flag = values[(r["region"], r["district"], r["indicator"])]
        assert r["flag"] == flag and (r["value"] == "") == (value is None)
        withheld += flag == "<5"
    assert withheld > 0


def test_xlsx_needs_an_output_file_and_matches_the_json(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = database
    args = ["report", "--zone", "mainland", "--period", "2026", "--format", "xlsx"]
    refused = hub(args, url, tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "--output" in refused.stderr, refused.stderr
    out = tmp_path / "mainland.xlsx"
    written = hub([*args, "--output", str(out)], url, tmp_path)
    assert written.returncode == 0, written.stderr
    doc = report_document(ReportService(engine).report("mainland", "2026"))
    kinds = {i["name"]: i["kind"] for i in doc["indicators"]}
    values = {(r["region"], r["district"], n): v for r in doc["rows"] for n, v in r["values"].items()}
    header, *lines = load_workbook(out)["data"].iter_rows(values_only=True)
    assert header == CSV_COLUMNS and len(lines) == len(values)
    for line in lines:
        r = dict(zip(CSV_COLUMNS, line, strict=True))
        want = values[(r["region"], r["district"], r["indicator"])]
        if want is None or kinds[r["indicator"]] == "count":
            assert r["value"] == want
        elif kinds[r["indicator"]] == "amount":
            assert f"{r['value']:.2f}" == want
        else:
            assert r["value"] == pytest.approx(want)


def test_json_and_metadata_to_a_file(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, _ = database
    for fmt in ("json", "metadata"):
        out = tmp_path / f"report.{fmt}.json"
        proc = hub(["report", "--zone", "gba", "--period", "2026", "--format", fmt, "-o", str(out)], url, tmp_path)
        assert proc.returncode == 0 and proc.stdout == "" and f"wrote {out}" in proc.stderr
        assert ("rows" in json.loads(out.read_text(encoding="utf-8"))) == (fmt == "json")
