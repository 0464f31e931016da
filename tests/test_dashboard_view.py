"""The dashboard document (pure: reports in, a dict out) and its routes on the query API (SQLite, no Kafka).

The pure part builds reports from indicator values with :func:`projections.report.build_report`, so the
suppression pattern is the real one. The API part serves a database filled through the real pipeline
(:mod:`tests.indicator_stream`) and checks the dashboard against the API's own report JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hub.settings import load_settings
from hub.tokens import TokenSet, issue
from projections.api import create_query_app
from projections.dashboard.catalogue import catalogue, problems
from projections.dashboard.view import HEADLINE, dashboard_view, freshness
from projections.indicators import IndicatorValue
from projections.periods import parse_period, previous_period
from projections.report import Report, build_report
from tests.indicator_stream import known_database

PLACES = [("*", "*"), ("GD", "*"), ("GD", "shenzhen-nanshan"), ("GD", "guangzhou-tianhe"), ("HK", "*")]
PLACES += [("HK", "hk-sham-shui-po")]


def report(period: str, **figures: dict[str, int]) -> Report:
    """A gba report of ``period`` whose districts have ``figures`` (district -> indicator -> value)."""
    p = parse_period(period)
    region = {"shenzhen-nanshan": "GD", "guangzhou-tianhe": "GD", "hk-sham-shui-po": "HK"}
    values: list[IndicatorValue] = []
    totals: dict[tuple[str, str, str], int] = {}
    for key, by_indicator in figures.items():
        district = key.replace("_", "-")
        for name, value in by_indicator.items():
            for r, d in ((region[district], district), (region[district], "*"), ("*", "*")):
                totals[(r, d, name)] = totals.get((r, d, name), 0) + value
    for (r, d, name), value in totals.items():
        values.append(IndicatorValue("gba", r, d, p.kind, p.value, name, Decimal(value)))
    return build_report("gba", p, values, reporting_currency="CNY", places=PLACES)


def tile(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in doc["tiles"] if t["indicator"] == name)
    return found


# -- pure -------------------------------------------------------------------------------------------------
def test_a_tile_changes_against_the_previous_period_only_between_published_figures() -> None:
    now = report("2026-Q2", shenzhen_nanshan={"visits": 30, "cases_opened": 12}, hk_sham_shui_po={"visits": 10})
    before = report("2026-Q1", shenzhen_nanshan={"visits": 20, "cases_opened": 2}, hk_sham_shui_po={"visits": 12})
    doc = dashboard_view(now, previous=before)
    assert doc["period"]["previous"] == "2026-Q1"
    visits = tile(doc, "visits")
    assert (visits["value"], visits["flag"]) == (40, None)
    assert visits["change"] == pytest.approx(40 / 32 - 1, abs=1e-4) and visits["reason"] is None

    # the zone's cases opened of Q1 (2) is withheld: no percentage may be computed from it
    opened = tile(doc, "cases_opened")
    assert opened["previous"]["value"] is None and opened["previous"]["flag"] == "<5"
    assert (opened["change"], opened["reason"]) == (None, "withheld")


def test_a_change_from_nothing_says_so_and_no_previous_period_says_so() -> None:
    now = report("2026-Q2", shenzhen_nanshan={"visits": 30})
    empty = report("2026-Q1")
    assert tile(dashboard_view(now, previous=empty), "visits")["reason"] == "zero"
    assert tile(dashboard_view(empty, previous=empty), "visits")["reason"] == "same"
    alone = dashboard_view(now, previous_period=previous_period(now.period))
    assert (tile(alone, "visits")["reason"], alone["period"]["previous"]) == ("no_previous", "2026-Q1")


def test_a_withheld_figure_is_a_flag_and_never_a_number_anywhere_in_the_document() -> None:
    now = report("2026", shenzhen_nanshan={"cases_opened": 3}, guangzhou_tianhe={"cases_opened": 40})
    doc = dashboard_view(now, region="GD")
    rows = {r["code"]: r for r in doc["comparison"]["rows"]}
    assert set(rows) == {"shenzhen-nanshan", "guangzhou-tianhe"}  # a region compares its districts
    small = rows["shenzhen-nanshan"]["figures"]["cases_opened"]
    assert small == {"value": None, "flag": "<5"}
    # its sibling would give it away by subtraction from the region: withheld too
    assert rows["guangzhou-tianhe"]["figures"]["cases_opened"]["value"] is None


def test_a_district_scope_compares_it_with_its_siblings_and_marks_it() -> None:
    now = report("2026", shenzhen_nanshan={"visits": 30}, guangzhou_tianhe={"visits": 50})
    doc = dashboard_view(now, district="guangzhou-tianhe", district_region="GD")
    assert doc["scope"]["level"] == "district" and doc["scope"]["code"] == "guangzhou-tianhe"
    assert tile(doc, "visits")["value"] == 50
    assert {(r["code"], r["selected"]) for r in doc["comparison"]["rows"]} == {
        ("guangzhou-tianhe", True),
        ("shenzhen-nanshan", False),
    }
    assert [t["indicator"] for t in doc["tiles"]] == list(HEADLINE)


def test_the_trend_has_a_point_per_month_with_its_flag() -> None:
    months = [report(f"2026-{m:02d}", shenzhen_nanshan={"cases_opened": m * 3}) for m in range(1, 13)]
    doc = dashboard_view(report("2026"), months=months)
    assert doc["trend"]["months"] == [f"2026-{m:02d}" for m in range(1, 13)]
    series = doc["trend"]["series"]["cases_opened"]
    assert [p["flag"] for p in series[:1]] == ["<5"] and series[0]["value"] is None  # 3 cases in January
    assert [p["value"] for p in series[2:]] == [m * 3 for m in range(3, 13)]


def test_freshness_is_unknown_unless_every_partition_was_measured() -> None:
    stamps = [1_700_000_000_000, None, 1_700_000_500_000]
    unmeasured = freshness(stamps, None)
    assert (unmeasured.offsets_behind, unmeasured.seconds_behind) == (None, None)
    assert unmeasured.as_of is not None and unmeasured.as_of.timestamp() == 1_700_000_500
    measured = freshness(stamps, [{"offsets_behind": 3, "seconds_behind": 1.5}, {"offsets_behind": 0}])
    assert (measured.offsets_behind, measured.seconds_behind) == (3, 1.5)
    nan = freshness([], [{"offsets_behind": 2, "seconds_behind": math.nan}])
    assert (nan.offsets_behind, nan.seconds_behind, nan.as_of) == (2, None, None)
    assert freshness([], [{"seconds_behind": 0.0}]).offsets_behind is None  # a partition without its count


def test_the_catalogue_check_names_the_section_key_and_language() -> None:
    doc = catalogue().document()
    broken = {**doc, "ui": {**doc["ui"], "login.failed": {"en": "Sign-in failed: {reason}", "zh-Hans": "失败"}}}
    found = problems(broken, required={"indicators": ["no_such_indicator"]})
    assert "ui.login.failed: no zh-Hant text" in found
    assert any(p.startswith("ui.login.failed: placeholders differ") for p in found)
    assert "indicators.no_such_indicator: missing" in found
    assert problems(doc) == []


# -- on the query API -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with known_database(tmp_path_factory.mktemp("dashboard-api")) as (_, engine):
        yield engine


@pytest.fixture(scope="module")
def client(database: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    token, entry = issue("analyst")
    settings = load_settings(env_file=None, data_dir=tmp_path_factory.mktemp("state"))
    app = create_query_app(settings, database, TokenSet((entry,)))
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_the_page_loads_without_a_token_with_a_policy_that_allows_only_its_own_scripts(client: TestClient) -> None:
    page = client.get("/dashboard", headers={"Authorization": ""})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'src="/dashboard/static/vendor/echarts/echarts.min.js"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    licence = client.get("/dashboard/static/vendor/echarts/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text
    assert client.get("/dashboard/messages.json").json() == catalogue().document()


def test_the_dashboard_data_needs_an_analyst_token_and_names_a_bad_parameter(client: TestClient) -> None:
    assert client.get("/v1/dashboard/gba", params={"period": "2026"}, headers={"Authorization": ""}).status_code == 401
    bad = client.get("/v1/dashboard/gba", params={"period": "2026-13"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "period"
    elsewhere = client.get("/v1/dashboard/gba", params={"period": "2026", "district": "yancheng-tinghu"})
    assert elsewhere.status_code == 422 and elsewhere.json()["error"]["field"] == "district"
    assert client.get("/v1/dashboard/nowhere", params={"period": "2026"}).status_code == 404


@pytest.mark.parametrize(("region", "district"), [(None, "guangzhou-tianhe"), ("GD", "guangzhou-tianhe")])
def test_a_district_of_the_zone_without_figures_has_no_dashboard_but_a_404_naming_it(
    client: TestClient, region: str | None, district: str
) -> None:
    # found by tests/test_api_fuzz.py: the district's report is empty, and the dashboard was a 500 with no row
    params = {"period": "2026", "district": district, **({"region": region} if region else {})}
    assert client.get("/v1/reports/gba", params=params).status_code == 200
    refused = client.get("/v1/dashboard/gba", params=params)
    assert refused.status_code == 404, refused.text
    error = refused.json()["error"]
    assert error["code"] == "not_found" and error["field"] == "district"
    assert "district guangzhou-tianhe has no figures in zone gba" in error["message"]
    assert error["message"].endswith("with figures: shenzhen-nanshan")  # the districts of GD with a dashboard


@pytest.mark.parametrize(("region", "district"), [(None, None), ("GD", None), (None, "hk-sham-shui-po")])
def test_the_dashboards_figures_are_the_reports(client: TestClient, region: str | None, district: str | None) -> None:
    params = {
        "period": "2026-Q3",
        **({"region": region} if region else {}),
        **({"district": district} if district else {}),
    }
    doc = client.get("/v1/dashboard/gba", params=params).json()
    rows = client.get("/v1/reports/gba", params=params).json()["rows"]
    scope = next(r for r in rows if (r["region"], r["district"]) == (doc["scope"]["region"], doc["scope"]["district"]))
    for t in doc["tiles"]:
        assert t["value"] == scope["values"][t["indicator"]], t["indicator"]
        assert t["flag"] == scope["flags"].get(t["indicator"]), t["indicator"]
    for d in doc["donors"]:
        assert d["count"]["value"] == scope["values"][f"donations_count_{d['donor_type']}"]
    assert sum(o["count"]["value"] for o in doc["outcomes"]) == scope["values"]["evaluations"]  # public counts
    assert len(doc["trend"]["months"]) == 12 and doc["period"]["previous"] == "2026-Q2"
