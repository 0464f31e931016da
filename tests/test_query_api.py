"""The query API on a real SQLite database filled through the store: auth, limits, formats, suppression, errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine

from hub.rate_limit import RateLimit, RateLimiter
from hub.settings import HubSettings, load_settings
from hub.tokens import TokenFile, TokenSet, add_token, issue
from projections.api import DEFAULT_MAX_BODY_BYTES, create_query_app
from projections.indicators import NAMES
from projections.report_queries import ReportService
from projections.report_render import CSV_COLUMNS, render_csv
from tests.indicator_stream import known_database


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with known_database(tmp_path_factory.mktemp("api")) as (_, engine):
        yield engine


@pytest.fixture(scope="module")
def tokens() -> dict[str, Any]:
    made = {
        "analyst": issue("analyst"),
        "admin": issue("admin"),
        "publisher": issue("publisher", district="shenzhen-nanshan"),
        "partner": issue("partner", partner="hk"),
        "expired": issue("analyst", now=datetime(2026, 1, 1, tzinfo=UTC), expires_at=datetime(2026, 1, 2, tzinfo=UTC)),
    }
    return {"set": TokenSet(tuple(entry for _, entry in made.values())), **{k: t for k, (t, _) in made.items()}}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> HubSettings:
    return load_settings(env_file=None, data_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def client(database: Engine, tokens: dict[str, Any], settings: HubSettings) -> Iterator[TestClient]:
    app = create_query_app(settings, database, tokens["set"])
    with TestClient(app) as c:
        yield c


def auth(tokens: dict[str, Any], role: str = "analyst") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def error(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field
        assert field in body["message"]
    return body


# -- auth ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/reports/gba?period=2026", "/v1/indicators?zone=gba", "/v1/projections/status"])
def test_reading_needs_an_analyst_or_admin_token(client: TestClient, tokens: dict[str, Any], path: str) -> None:
    assert error(client.get(path), 401)["code"] == "missing_token"
    assert client.get(path).headers["WWW-Authenticate"].startswith("Bearer")
    assert error(client.get(path, headers={"Authorization": "Bearer nope"}), 401)["code"] == "invalid_token"
    assert error(client.get(path, headers={"Authorization": "Basic abc"}), 401)["code"] == "missing_token"
    for role in ("publisher", "partner"):
        assert error(client.get(path, headers=auth(tokens, role)), 403)["code"] == "forbidden_role"
    for role in ("analyst", "admin"):
        assert client.get(path, headers=auth(tokens, role)).status_code == 200


# Every route a token reaches, with parameters that make the request valid; a route missing here fails the test below.
ROUTES: dict[str, tuple[str, str]] = {
    "/v1/reports/{zone}": ("/v1/reports/gba?period=2026", "read reports"),
    "/v1/indicators": ("/v1/indicators?zone=gba", "read indicators"),
    "/v1/projections/status": ("/v1/projections/status", "read projection status"),
    "/v1/dashboard/{zone}": ("/v1/dashboard/gba?period=2026", "read the dashboard"),
}
# the dashboard's page and its texts hold no figure: they load before the sign-in
OPEN_ROUTES = {
    "/healthz",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/dashboard",
    "/dashboard/messages.json",
}


def test_no_route_serves_publisher_or_partner_tokens_and_the_refusal_says_what_it_needs(
    client: TestClient, tokens: dict[str, Any]
) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    paths = {route.path for route in app.routes if isinstance(route, APIRoute)}
    assert paths - OPEN_ROUTES == set(ROUTES)
    for url, action in ROUTES.values():
        for role in ("publisher", "partner"):
            body = error(client.get(url, headers=auth(tokens, role)), 403)
            assert body["code"] == "forbidden_role"
            assert body["message"].endswith(f"has role {role}; only analyst and admin tokens may {action}")
        assert client.get(url, headers=auth(tokens)).status_code == 200


def test_the_token_is_checked_before_the_parameters(client: TestClient, tokens: dict[str, Any]) -> None:
    assert error(client.get("/v1/reports/atlantis"), 401)["code"] == "missing_token"
    assert error(client.get("/v1/indicators", headers=auth(tokens, "partner")), 403)["code"] == "forbidden_role"
    assert error(client.get("/v1/indicators", headers=auth(tokens)), 422, "zone")["code"] == "invalid_parameter"


def test_an_expired_token_is_401_and_says_when(client: TestClient, tokens: dict[str, Any]) -> None:
    response = client.get("/v1/projections/status", headers=auth(tokens, "expired"))
    body = error(response, 401)
    assert body["code"] == "expired_token" and "expired at 2026-01-02T00:00:00Z" in body["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_request_body_over_the_limit_is_413(client: TestClient, tokens: dict[str, Any]) -> None:
    big = b"x" * (DEFAULT_MAX_BODY_BYTES + 1)
    declared = client.request("GET", "/v1/projections/status", content=big, headers=auth(tokens))
    assert error(declared, 413)["code"] == "body_too_large"
    assert "65536 bytes (64 KiB)" in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    chunked = client.request("GET", "/v1/projections/status", content=chunks(), headers=auth(tokens))
    assert "content-length" not in chunked.request.headers
    assert error(chunked, 413)["code"] == "body_too_large"


def test_the_body_limit_is_a_parameter(database: Engine, tokens: dict[str, Any], settings: HubSettings) -> None:
    with TestClient(create_query_app(settings, database, tokens["set"], max_body_bytes=10)) as c:
        assert c.request("GET", "/v1/projections/status", content=b"x" * 10, headers=auth(tokens)).status_code == 200
        assert error(c.request("GET", "/v1/projections/status", content=b"x" * 11, headers=auth(tokens)), 413)


def test_each_token_is_rate_limited_with_a_retry_after(
    database: Engine, tokens: dict[str, Any], settings: HubSettings
) -> None:
    clock = [0.0]
    limiter = RateLimiter(RateLimit(per_second=0.5, burst=2), lambda: clock[0])
    with TestClient(create_query_app(settings, database, tokens["set"], rate_limiter=limiter)) as c:
        for _ in range(2):
            assert c.get("/v1/projections/status", headers=auth(tokens)).status_code == 200
        refused = c.get("/v1/reports/gba", params={"period": "2026"}, headers=auth(tokens))
        body = error(refused, 429)
        assert body["code"] == "rate_limited" and "retry in 2 s" in body["message"]
        assert refused.headers["Retry-After"] == "2"
        assert c.get("/v1/projections/status", headers=auth(tokens, "admin")).status_code == 200
        assert error(c.get("/v1/projections/status", headers=auth(tokens, "partner")), 403)  # own bucket, then role
        clock[0] += 2.0
        assert c.get("/v1/projections/status", headers=auth(tokens)).status_code == 200


def test_a_tokens_file_is_reread_when_it_changes(database: Engine, settings: HubSettings, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    app = create_query_app(settings, database, TokenFile(path))
    token, entry = issue("analyst")
    with TestClient(app) as c:
        assert c.get("/v1/projections/status", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        add_token(path, entry)
        assert c.get("/v1/projections/status", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        path.write_text("{not json", encoding="utf-8")
        error(c.get("/v1/projections/status", headers={"Authorization": f"Bearer {token}"}), 503)


# -- reports ------------------------------------------------------------------------------------------------
def test_a_json_report_is_the_suppressed_report(client: TestClient, tokens: dict[str, Any], database: Engine) -> None:
    response = client.get("/v1/reports/gba", params={"period": "2026-Q1"}, headers=auth(tokens))
    assert response.status_code == 200
    doc = response.json()
    assert doc["zone"] == "gba" and doc["period"]["value"] == "2026-Q1" and doc["reporting_currency"] == "CNY"
    assert {r["currency"] for r in doc["fx"]["rates_used"]} == {"HKD", "MOP"}
    assert [i["name"] for i in doc["indicators"]] == list(NAMES)
    expected = ReportService(database).report("gba", "2026-Q1")
    assert len(doc["rows"]) == len(expected.rows)
    flagged = 0
    for row, want in zip(doc["rows"], expected.rows, strict=True):
        assert (row["region"], row["district"]) == (want.region, want.district)
        for name, cell in want.cells.items():
            if cell.mark is None:
                assert row["values"][name] is not None or cell.value is None
            else:
                assert row["values"][name] is None and row["flags"][name] == cell.shown(expected.policy)
                flagged += 1
    assert flagged > 0  # the small test stream has small counts to withhold


def test_a_csv_report_and_a_district_part_of_it(client: TestClient, tokens: dict[str, Any], database: Engine) -> None:
    response = client.get(
        "/v1/reports/mainland",
        params={"period": "2026", "format": "csv", "district": "yancheng-tinghu"},
        headers=auth(tokens),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="mainland-2026-yancheng-tinghu.csv"'
    assert response.text == render_csv(ReportService(database).report("mainland", "2026", district="yancheng-tinghu"))
    assert response.text.startswith(",".join(CSV_COLUMNS) + "\n")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["district"] for r in rows} == {"yancheng-tinghu"} and len(rows) == len(NAMES)


def _json_cells(doc: dict[str, Any]) -> dict[tuple[str, str, str], tuple[Any, str]]:
    """(region, district, indicator) -> (value, flag) of a JSON report, the flag "" for a published figure."""
    return {
        (row["region"], row["district"], name): (value, row["flags"].get(name, ""))
        for row in doc["rows"]
        for name, value in row["values"].items()
    }


def test_the_csv_xlsx_and_metadata_carry_what_the_json_does(client: TestClient, tokens: dict[str, Any]) -> None:
    def get(fmt: str) -> Any:
        response = client.get("/v1/reports/gba", params={"period": "2026-Q2", "format": fmt}, headers=auth(tokens))
        assert response.status_code == 200, response.text
        return response

    doc = get("json").json()
    want = _json_cells(doc)
    assert any(flag == "<5" for _, flag in want.values())  # the known stream has small counts to withhold
    csv_response = get("csv")
    assert csv_response.headers["content-disposition"] == 'attachment; filename="gba-2026-Q2.csv"'
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == len(want)
    kinds = {i["name"]: i["kind"] for i in doc["indicators"]}
    for r in rows:
        value, flag = want[(r["region"], r["district"], r["indicator"])]
        assert r["flag"] == flag
        if value is None or kinds[r["indicator"]] != "ratio":
            assert r["value"] == ("" if value is None else str(value)), r  # counts and money: the same text
        else:
            assert Decimal(r["value"]) == Decimal(str(value)), r  # a ratio: "0.5000" in CSV is 0.5 in JSON
        assert (r["zone"], r["period_kind"], r["period"]) == ("gba", "quarter", "2026-Q2")
    suppressed = [r for r in rows if r["flag"] == "<5"]
    assert suppressed and all(r["value"] == "" for r in suppressed)

    xlsx = get("xlsx")
    assert xlsx.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert xlsx.headers["content-disposition"] == 'attachment; filename="gba-2026-Q2.xlsx"'
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["data", "about"]
    data = book["data"]
    assert data.freeze_panes == "A2"
    header, *cells = data.iter_rows(values_only=True)
    assert header == CSV_COLUMNS and len(cells) == len(rows)
    for line in cells:
        r = dict(zip(CSV_COLUMNS, line, strict=True))
        value, flag = want[(r["region"], r["district"], r["indicator"])]
        assert (r["flag"] or "") == flag
        if value is None:
            assert r["value"] is None
        elif kinds[r["indicator"]] == "count":
            assert isinstance(r["value"], int) and r["value"] == value
        elif kinds[r["indicator"]] == "amount":
            assert f"{r['value']:.2f}" == value
        else:
            assert r["value"] == pytest.approx(value)

    meta = get("metadata")
    assert meta.headers["content-disposition"] == 'attachment; filename="gba-2026-Q2.metadata.json"'
    sidecar = meta.json()
    assert "rows" not in sidecar and [c["name"] for c in sidecar["columns"]] == list(CSV_COLUMNS)
    assert {k: v for k, v in doc.items() if k != "rows"} == {k: v for k, v in sidecar.items() if k in doc}
    assert {r["currency"] for r in sidecar["fx"]["rates_used"]} == {"HKD", "MOP"}
    assert sidecar["suppression"]["legend"] and sidecar["suppression"]["primary_label"] == "<5"
    about = dict(book["about"].iter_rows(min_row=2, values_only=True))
    assert about["report"] == sidecar["title"] and about["legend"] in sidecar["suppression"]["legend"]


def test_an_unknown_format_names_the_allowed_ones(client: TestClient, tokens: dict[str, Any]) -> None:
    body = error(client.get("/v1/reports/gba", params={"period": "2026", "format": "xml"}, headers=auth(tokens)), 400)
    assert body["field"] == "format" and "json, csv, xlsx, metadata" in body["message"]


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/reports/atlantis", {"period": "2026"}, 404, "zone"),
        ("/v1/reports/gba", {"period": "2026-13"}, 400, "period"),
        ("/v1/reports/gba", {"period": "last year"}, 400, "period"),
        ("/v1/reports/gba", {}, 422, "period"),
        ("/v1/reports/gba", {"period": "2026", "format": "xml"}, 400, "format"),
        ("/v1/reports/gba", {"period": "2026", "region": "JS"}, 422, "region"),
        ("/v1/reports/mainland", {"period": "2026", "district": "hk-sham-shui-po"}, 422, "district"),
        ("/v1/indicators", {}, 422, "zone"),
        ("/v1/indicators", {"zone": "moon"}, 404, "zone"),
        ("/v1/indicators", {"zone": "gba", "indicator": "happiness"}, 422, "indicator"),
        ("/v1/indicators", {"zone": "gba", "period": "2026-Q5"}, 400, "period"),
        ("/v1/indicators", {"zone": "gba", "district": "nowhere"}, 422, "district"),
    ],
)
def test_bad_requests_name_the_parameter(
    client: TestClient, tokens: dict[str, Any], path: str, params: dict[str, str], status: int, field: str
) -> None:
    error(client.get(path, params=params, headers=auth(tokens)), status, field)


@pytest.mark.parametrize("period", ["٢٠٢٦", "２０２６-Q1", "2026-٠٣"])
@pytest.mark.parametrize("format", ["json", "csv", "xlsx", "metadata"])
def test_a_period_in_other_digits_than_ascii_is_400_in_every_format(
    client: TestClient, tokens: dict[str, Any], period: str, format: str
) -> None:
    # found by tests/test_api_fuzz.py: it parsed as 2026 but kept its text, a 500 in a download's file name
    params = {"period": period, "format": format}
    body = error(client.get("/v1/reports/gba", params=params, headers=auth(tokens)), 400, "period")
    assert "ASCII digits" in body["message"]
    error(client.get("/v1/indicators", params={"zone": "gba", "period": period}, headers=auth(tokens)), 400, "period")


# -- indicators ---------------------------------------------------------------------------------------------
def test_indicator_rows_follow_the_same_suppression_as_the_report(
    client: TestClient, tokens: dict[str, Any], database: Engine
) -> None:
    params: dict[str, Any] = {"zone": "gba", "period": "2026", "indicator": ["visits,home_visits", "cases_open"]}
    response = client.get("/v1/indicators", params=params, headers=auth(tokens))
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert {r["indicator"] for r in rows} == {"visits", "home_visits", "cases_open"}
    report = ReportService(database).report("gba", "2026")
    for r in rows:
        cell = report.row(r["region"], r["district"]).cells[r["indicator"]]
        if cell.mark is None:
            assert (r["value"], r["flag"]) == (int(cell.value or 0), None)
        else:
            assert (r["value"], r["flag"]) == (None, cell.shown(report.policy))
    one = client.get(
        "/v1/indicators", params={"zone": "gba", "region": "HK", "period": "2026-Q2"}, headers=auth(tokens)
    )
    assert {r["region"] for r in one.json()["rows"]} == {"HK"}
    every = client.get("/v1/indicators", params={"zone": "mainland"}, headers=auth(tokens)).json()["rows"]
    assert {r["period_kind"] for r in every} == {"month", "quarter", "year"}


def test_projection_status_lists_the_stored_offsets_and_takes_lag_from_a_hook(
    database: Engine, tokens: dict[str, Any], settings: HubSettings
) -> None:
    def lag(_: Engine) -> dict[tuple[str, str, int], dict[str, Any]]:
        return {("read_models", "shared.gba.test", 0): {"offsets_behind": 0, "seconds_behind": 0.0}}

    with TestClient(create_query_app(settings, database, tokens["set"], lag=lag)) as c:
        doc = c.get("/v1/projections/status", headers=auth(tokens)).json()
    [projection] = doc["projections"]
    assert projection["projection"] == "read_models"
    parts = {(p["topic"], p["partition"]): p for p in projection["partitions"]}
    assert set(parts) == {("shared.gba.test", 0), ("shared.mainland.test", 0)}
    assert parts[("shared.gba.test", 0)]["offsets_behind"] == 0
    assert parts[("shared.gba.test", 0)]["next_offset"] + parts[("shared.mainland.test", 0)]["next_offset"] > 0
    assert "offsets_behind" not in parts[("shared.mainland.test", 0)]
