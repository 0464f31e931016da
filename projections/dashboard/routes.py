"""The dashboard's HTTP surface on the query API: the page, its static files, its texts and its data.

- ``GET /dashboard``: the page (a shell with no figures in it, so it needs no token);
- ``GET /dashboard/static/...``: its script, styles and the vendored ECharts with its licence;
- ``GET /dashboard/messages.json``: the message catalogue (:mod:`projections.dashboard.catalogue`);
- ``GET /v1/dashboard/{zone}?period=&region=&district=``: the dashboard document
  (:func:`projections.dashboard.view.dashboard_view`), behind the same analyst and admin tokens,
  rate limit and error shape as every other ``/v1`` route; a region or district of the zone with no
  figures in it in any period has no dashboard (404 naming the parameter), where its report is empty.

The page keeps the token in the tab's session storage and sends it as a bearer header: it never
travels in a URL, so it is in no log line, history entry or ``Referer``. Every page response
carries a content security policy that allows scripts from this origin only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

from fastapi import Depends, FastAPI, Query
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from hub.orgunits import org_units
from projections import store
from projections.dashboard.catalogue import catalogue
from projections.dashboard.view import dashboard_view, freshness
from projections.indicators import ALL
from projections.periods import months_of_year, previous_period
from projections.report import Report
from projections.report_queries import NotFound, ReportService, check_period
from projections.tables import READ_MODELS

LagSource = Callable[[Engine], Mapping[tuple[str, str, int], Mapping[str, Any]]]

STATIC: Final = Path(str(resources.files("projections.dashboard").joinpath("static")))
PAGE_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
"""Scripts only from this origin (ECharts sets inline styles, hence ``'unsafe-inline'`` for styles only)."""


def install_dashboard(
    app: FastAPI,
    service: ReportService,
    engine: Engine,
    *,
    reader: Callable[[str], Callable[..., Awaitable[Any]]],
    call: Callable[[Callable[[], Any]], Awaitable[Any]],
    lag: LagSource | None = None,
) -> None:
    """Add the dashboard's routes to the query API ``app``.

    ``reader(action)`` is the API's token check; ``call(work)`` runs ``work`` off the event loop and
    translates its errors into the API's error shape; ``lag`` measures how far behind the stream the
    projections are (without it the page shows when the figures were last updated, not the lag).
    """
    texts = catalogue()  # a broken catalogue stops the API from starting, not a page from rendering

    @app.get("/dashboard", include_in_schema=False)
    async def page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    @app.get("/dashboard/messages.json", include_in_schema=False)
    async def messages() -> JSONResponse:
        return JSONResponse(texts.document(), headers={"Cache-Control": "no-cache"})

    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get(
        "/v1/dashboard/{zone}",
        tags=["reports"],
        summary="The dashboard of a zone for a period",
        dependencies=[Depends(reader("read the dashboard"))],
    )
    async def get_dashboard(
        zone: str,
        period: str = Query(..., description="2026, 2026-Q1 or 2026-03 (Asia/Shanghai)"),
        region: str | None = Query(None, description="Narrow the tiles and trend to a region (e.g. GD)"),
        district: str | None = Query(None, description="Narrow them to a district (e.g. shenzhen-nanshan)"),
    ) -> JSONResponse:
        """Headline figures with their change against the previous period, the regions or districts
        compared, the months of the year, donations by donor type, evaluation outcomes, the FX rates
        used, the suppression rule and how far behind the stream the figures are. Every figure is the
        report's (suppressed, flagged `<5` or `x` when withheld)."""

        def work() -> dict[str, Any]:
            asked = check_period(period)
            service.report(zone, asked.value, region=region, district=district)  # checks the scope
            years = service.years(zone)
            current = service.report(zone, asked.value)
            unit = org_units().district(district) if district is not None else None
            _check_shown(current, zone, region if unit is None else unit.region, district)
            before = previous_period(asked)
            previous = (
                service.report(zone, before.value)
                if before is not None and f"{before.start.year:04d}" in years
                else None
            )
            months = [service.report(zone, m.value) for m in months_of_year(asked)]
            rows = store.offset_rows(engine, READ_MODELS)
            measured = lag(engine) if lag is not None else None
            parts = [v for k, v in measured.items() if k[0] == READ_MODELS] if measured is not None else None
            return dashboard_view(
                current,
                region=region,
                district=district,
                district_region=unit.region if unit is not None else None,
                previous=previous,
                previous_period=before,
                months=months,
                years=years,
                zones=service.held_zones,
                fresh=freshness((r.last_record_ms for r in rows), parts),
                illustrative=service.illustrative_districts(zone),
            )

        return JSONResponse(await call(work))


def _check_shown(report: Report, zone: str, region: str | None, district: str | None) -> None:
    """A 404 naming the parameter when the scope asked for has no row in the zone's ``report``.

    A report has a row for every region and district with figures in the zone in any period; a
    region or district of the zone that has none (no event of it shared to the zone yet) has no
    dashboard, whereas its report is only empty.
    """
    key = (region or ALL, district or ALL)
    if any((row.region, row.district) == key for row in report.rows):
        return
    name, value = ("district", district) if district is not None else ("region", region)
    rows = [row for row in report.rows if name == "region" or row.region == key[0]]
    shown = ", ".join(sorted({row.district if name == "district" else row.region for row in rows} - {ALL}))
    why = f"{name} {value} has no figures in zone {zone}, so no dashboard; with figures: {shown or 'none'}"
    raise NotFound([(name, why)])


__all__ = ["PAGE_HEADERS", "LagSource", "install_dashboard"]
