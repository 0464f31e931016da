"""The query API (FastAPI): reports, indicators and projection status, for analyst tokens.

Thin: requests are checked and answered by :class:`projections.report_queries.ReportService`;
this module maps them to HTTP. The caller is read from its bearer token before
any parameter is looked at, and every error has the one shape of the hub's APIs
(:mod:`hub.http_api`), ``{"error": {"status", "code", "message", "field"?}}``:

- 401 without a bearer token, with an unknown one or with an expired one;
  429 when the token is over its rate limit; 403 for a role other than analyst
  or admin (publisher and partner tokens read nothing here: no route of this
  API serves them), the message naming the role and what the route needs;
- 413 for a request body over the limit (64 KiB by default; the routes take none);
- 400 for a malformed parameter (a period string, a format), 404 for an
  unknown zone, 422 for an unknown indicator, region or district, or a
  missing parameter; 503 when the database or the tokens file is unusable.

Suppression applies to every figure served: each output of a zone and period
is a view of that period's single suppression pattern.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub.errors import HubError, ValidationError
from hub.http_api import ApiError, admit, authenticate, require_role
from hub.http_app import DEFAULT_MAX_IN_FLIGHT, install_error_handlers, limit_body, limit_in_flight
from hub.jurisdictions import held_zones
from hub.rate_limit import RateLimit, RateLimiter
from hub.settings import HubSettings
from hub.tokens import READING_ROLES, TokenEntry, TokenSource
from hub.zones import ZONES
from projections import store
from projections.dashboard.routes import install_dashboard
from projections.report_queries import BadParameter, NotFound, ReportService
from projections.report_render import render_csv, render_metadata, report_document
from projections.report_xlsx import MEDIA_TYPE as XLSX_MEDIA_TYPE
from projections.report_xlsx import render_xlsx
from projections.store import StoreUnavailable
from projections.suppression import Policy

log = logging.getLogger("hub.query")

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
"""The largest request body: the routes take none, so anything bigger is not a query."""
DEFAULT_RATE_LIMIT: Final = RateLimit(per_second=5, burst=50)
"""Requests per token: 5 per second sustained, bursts of 50."""

LagProvider = Callable[[Engine], Mapping[tuple[str, str, int], Mapping[str, Any]]]
"""Returns extra fields per (projection, topic, partition), e.g. ``{"offsets_behind": 3, "seconds_behind": 1.5}``."""


def _from_validation(exc: ValidationError) -> ApiError:
    field = exc.errors[0][0] if exc.errors else None
    text = "; ".join(f"{f}: {m}" for f, m in exc.errors) or str(exc)
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", text, field=field)
    if isinstance(exc, BadParameter):
        return ApiError(400, "bad_parameter", text, field=field)
    return ApiError(422, "invalid_parameter", text, field=field)


def _invalid_request(exc: RequestValidationError) -> ApiError:
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(p) for p in first.get("loc", ()) if p not in ("query", "path")]
    field = ".".join(location) or None
    return ApiError(422, "invalid_parameter", f"{field or 'request'}: {first.get('msg', 'invalid')}", field=field)


def create_query_app(
    settings: HubSettings,
    engine: Engine,
    tokens: TokenSource,
    *,
    threshold: int = 5,
    refresh_interval_s: float = 2.0,
    lag: LagProvider | None = None,
    service: ReportService | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    rate_limiter: RateLimiter | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> FastAPI:
    """The query API over the read-model database ``engine``.

    ``tokens`` is a :class:`TokenSet` or a callable returning the current one
    (:class:`hub.tokens.TokenFile` re-reads the file when it changes). ``lag``
    may add fields (offsets and seconds behind) to each partition of
    ``/v1/projections/status``; without it the status shows what the database knows.
    The indicators are refreshed when behind the facts, checked at most every ``refresh_interval_s``.
    Request bodies are bounded by ``max_body_bytes``; ``rate_limiter`` limits each token
    (default :data:`DEFAULT_RATE_LIMIT`); at most ``max_in_flight`` requests are served at once
    (one more is 503 ``overloaded``, :class:`hub.http_app.InFlightLimit`).
    """
    limiter = rate_limiter if rate_limiter is not None else RateLimiter(DEFAULT_RATE_LIMIT)
    reports = service or ReportService(
        engine,
        reporting_currency=settings.reporting_currency,
        policy=Policy(threshold=threshold),
        refresh_interval_s=refresh_interval_s,
        held_zones=held_zones(settings) or ZONES,
        cluster=settings.cluster,
    )
    app = FastAPI(
        title="Social-work exchange hub: query API",
        version="1",
        description="Cross-region reports and indicators (suppressed small counts). See docs/reports.md.",
    )
    app.state.service = reports
    app.state.rate_limiter = limiter
    limit_body(app, max_body_bytes)
    limit_in_flight(app, max_in_flight)

    install_error_handlers(
        app,
        log=log,
        api_name="query API",
        internal_message="internal error (see the server log)",
        request_error=_invalid_request,
    )

    def reader(action: str) -> Callable[[Request], Awaitable[TokenEntry]]:
        """A route dependency: the caller's analyst or admin token, checked before the route's parameters."""

        async def check(request: Request) -> TokenEntry:
            entry = authenticate(tokens, request.headers.get("authorization"))
            admit(limiter, entry)
            require_role(entry, READING_ROLES, action)
            return entry

        return check

    async def _call(work: Callable[[], Any]) -> Any:
        try:
            return await run_in_threadpool(work)
        except ValidationError as exc:
            raise _from_validation(exc) from exc
        except StoreUnavailable as exc:
            raise ApiError(503, "database_unavailable", str(exc)) from exc
        except HubError as exc:
            log.error("query failed: %s", exc)
            raise ApiError(500, "query_failed", str(exc)) from exc

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/v1/reports/{zone}",
        tags=["reports"],
        summary="The report of a zone for a period",
        dependencies=[Depends(reader("read reports"))],
    )
    async def get_report(
        zone: str,
        period: str = Query(..., description="2026, 2026-Q1 or 2026-03 (Asia/Shanghai)"),
        format: str = Query("json", description="json, csv, xlsx or metadata (the CSV's sidecar)"),
        region: str | None = Query(None, description="Only this region's rows (e.g. GD)"),
        district: str | None = Query(None, description="Only this district's row (e.g. shenzhen-nanshan)"),
    ) -> Response:
        """Indicators of every district, region and the zone for the period, with the FX rates used,
        suppression marks and caveats. `format=json` (default) is the whole report; `format=csv` is plain
        long-form CSV (a header row, then one row per scope and indicator) and `format=metadata` its
        sidecar JSON (the report without its rows, plus what each CSV column holds); `format=xlsx` is a
        workbook with the CSV's rows on sheet `data` and the metadata on sheet `about`. The downloads
        are attachments named `<zone>-<period>[-<region or district>]` with their extension."""
        formats = ("json", "csv", "xlsx", "metadata")
        if format not in formats:
            raise ApiError(
                400, "bad_parameter", f"format: expected one of {', '.join(formats)}, got {format!r}", field="format"
            )
        report = await _call(lambda: reports.report(zone, period, region=region, district=district))
        stem = "-".join(p for p in (report.zone, report.period.value, report.district or report.region) if p)
        if format == "csv":
            return Response(
                render_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
            )
        if format == "xlsx":
            body = await run_in_threadpool(render_xlsx, report)
            return Response(
                body,
                media_type=XLSX_MEDIA_TYPE,
                headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
            )
        if format == "metadata":
            return JSONResponse(
                render_metadata(report),
                headers={"Content-Disposition": f'attachment; filename="{stem}.metadata.json"'},
            )
        return JSONResponse(report_document(report))

    @app.get(
        "/v1/indicators",
        tags=["indicators"],
        summary="Indicator values in long form",
        dependencies=[Depends(reader("read indicators"))],
    )
    async def get_indicators(
        zone: str = Query(..., description="gba or mainland"),
        region: str | None = Query(None),
        district: str | None = Query(None),
        period: str | None = Query(None, description="2026, 2026-Q1 or 2026-03; all periods when absent"),
        indicator: list[str] | None = Query(None, description="Repeat or comma-separate; all when absent"),
    ) -> JSONResponse:
        """Rows `{zone, region, district, level, period_kind, period, indicator, unit, value, flag}`; `*`
        means all regions/districts; a withheld value is null with `flag` `<5` or `x`. Zeros are not listed."""
        rows = await _call(
            lambda: reports.indicators(
                zone, period_text=period, region=region, district=district, indicators=indicator
            ),
        )
        return JSONResponse(
            {
                "zone": zone,
                "reporting_currency": reports.reporting_currency,
                "suppression": {"threshold": reports.policy.threshold, "primary_label": reports.policy.label},
                "rows": rows,
            }
        )

    @app.get(
        "/v1/projections/status",
        tags=["ops"],
        summary="Offsets the projections have applied",
        dependencies=[Depends(reader("read projection status"))],
    )
    async def get_status() -> JSONResponse:
        """Per projection, topic and partition: the next offset to apply, the Kafka timestamp of the last
        record applied and when the row was written; plus lag fields when the hub measures them."""

        def work() -> dict[str, Any]:
            rows = store.offset_rows(engine)
            extra = lag(engine) if lag is not None else {}
            out: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                item = asdict(row)
                projection = item.pop("projection")
                item["updated_at"] = row.updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
                item.update(extra.get((row.projection, row.topic, row.partition), {}))
                out.setdefault(projection, []).append(item)
            return {
                "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "projections": [{"projection": name, "partitions": parts} for name, parts in sorted(out.items())],
            }

        return JSONResponse(await _call(work))

    install_dashboard(app, reports, engine, reader=reader, call=_call, lag=lag)
    return app


__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_RATE_LIMIT", "LagProvider", "create_query_app"]
