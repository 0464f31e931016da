"""Facts a rule sets aside are counted and said, never dropped silently (SQLite, the real pipeline, no Kafka).

The known stream (:mod:`tests.indicator_stream`) holds, per district, two cases closed in a month before
the one they were opened in, and a closing whose opening never arrives. ``expected`` counts them with
its own code; here the report and the dashboard must say what the rules did with them.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from projections.dashboard.view import dashboard_view
from projections.report import DATA_QUALITY
from projections.report_queries import ReportService
from projections.suppression import Policy
from tests.indicator_stream import PLACES, expected, known_database, known_stream


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportService]:
    folder: Path = tmp_path_factory.mktemp("quality")
    engine: Engine
    with known_database(folder) as (_, engine):
        yield ReportService(engine)


def test_every_set_aside_closing_is_counted_where_and_when_it_happened(service: ReportService) -> None:
    want = expected(known_stream(), "gba")
    unsuppressed = service.report("gba", "2026", suppressed=False)
    for district, (region, _, _, zones) in PLACES.items():
        if "gba" not in zones:
            continue
        row = unsuppressed.row(region, district)
        assert row.cells["closures_set_aside"].value == Decimal(2)
        assert row.cells["closures_awaiting_opening"].value == Decimal(1)
        assert row.cells["cases_open_reopened"].value == Decimal(2)  # opened after their closing: still open
        for name in DATA_QUALITY:  # the store agrees with the independent count
            assert row.cells[name].value == want.get((region, district, "year", "2026", name), Decimal(0)), name


def test_the_report_says_what_the_rules_set_aside_with_its_published_figures_only(service: ReportService) -> None:
    report = service.report("gba", "2026")
    [said] = [c for c in report.caveats if c.startswith("Data quality:")]
    zone = report.row("*")
    for name in DATA_QUALITY:
        assert zone.cells[name].shown(report.policy) in said
    district = service.report("gba", "2026", district="hk-sham-shui-po")
    [small] = [c for c in district.caveats if c.startswith("Data quality:")]
    assert "<5 closing(s)" in small and " 2 " not in small and " 1 " not in small  # 2 and 1 are withheld
    assert district.row("HK", "hk-sham-shui-po").cells["closures_set_aside"].mark == "primary"


def test_a_period_without_set_aside_facts_has_no_data_quality_caveat(service: ReportService) -> None:
    quiet = service.report("gba", "2025")  # before the stream: every figure 0
    assert not any(quiet.row("*").cells[n].value for n in DATA_QUALITY)
    assert not [c for c in quiet.caveats if c.startswith("Data quality:")]


def test_the_dashboard_lists_the_data_quality_figures_as_the_report_shows_them(service: ReportService) -> None:
    report = service.report("gba", "2026")
    doc = dashboard_view(report)
    zone = report.row("*")
    policy = Policy()
    shown = {q["indicator"]: q["flag"] or str(q["value"]) for q in doc["quality"]}
    assert shown == {name: zone.cells[name].shown(policy) for name in DATA_QUALITY}
