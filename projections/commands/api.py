"""``hub api serve``: the query API (reports, indicators, projection status) until interrupted.

Checks before serving: the tokens file parses (a malformed entry stops the
command with an error naming it; an empty file is a warning, every request would
get 401) and the read-model database is at the newest revision
(:func:`projections.commands.db.read_model_engine`). The app is
:func:`projections.api.create_query_app`, served by uvicorn, with its body
and per-token rate limits taken from the options; the lag it reports (``/v1/projections/status`` and
the dashboard's freshness) is measured from Kafka at most every 5 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from fastapi import FastAPI
from sqlalchemy import Engine

from hub.commandline import make_console, serving_tokens, settings_of
from hub.credentials import as_principal
from hub.http_app import DEFAULT_MAX_IN_FLIGHT
from hub.jurisdictions import held_zones
from hub.principals import projection_principal
from hub.rate_limit import RateLimit, RateLimiter
from hub.settings import HubSettings
from hub.tokens import TokenSource
from projections import lag
from projections.api import DEFAULT_MAX_BODY_BYTES, DEFAULT_RATE_LIMIT, create_query_app
from projections.commands.db import read_model_engine
from projections.lag import LagSampler
from projections.status import served_zones

app = typer.Typer(help="The query API (reports, indicators, projection status).", no_args_is_help=True)
err_console = make_console(stderr=True)

DEFAULT_API_PORT = 8090


def serving_app(
    settings: HubSettings, engine: Engine, tokens: TokenSource, *, lag_as: HubSettings | None = None, **options: Any
) -> FastAPI:
    """The query API as served: its lag (``/v1/projections/status``, the dashboard's freshness) measured
    from Kafka at most every 5 s, as ``lag_as`` or else as the projection principal of the zones the
    cluster holds (it reads what its read models read; a user the settings name wins). ``options`` go
    to :func:`projections.api.create_query_app`."""
    reader = lag_as or as_principal(settings, projection_principal(served_zones(None, held_zones(settings))))
    sampler = LagSampler(lambda: lag.measure(reader, engine), min_interval_s=5.0)
    return create_query_app(settings, engine, tokens, lag=lambda _engine: sampler.fields(), **options)


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(DEFAULT_API_PORT, "--port", min=1, max=65535, help="Port to listen on."),
    tokens_file: Path | None = typer.Option(None, "--tokens-file", help="Default: HUB_TOKENS_FILE."),
    threshold: int = typer.Option(5, "--threshold", min=1, help="Counts below it are suppressed."),
    max_body_bytes: int = typer.Option(DEFAULT_MAX_BODY_BYTES, "--max-body-bytes", min=1, help="Largest body."),
    per_second: float = typer.Option(
        DEFAULT_RATE_LIMIT.per_second, "--requests-per-second", min=0.001, help="Sustained requests per token."
    ),
    burst: int = typer.Option(DEFAULT_RATE_LIMIT.burst, "--burst", min=1, help="Requests per token at once."),
    max_in_flight: int = typer.Option(
        DEFAULT_MAX_IN_FLIGHT, "--max-in-flight", min=1, help="Requests served at once; one more gets 503."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the query API until interrupted (analyst and admin tokens may read)."""
    import uvicorn

    settings = settings_of(ctx)
    tokens, path, count = serving_tokens(settings, tokens_file, hint="hub tokens add --role analyst")
    engine = read_model_engine(settings)
    rate_limit = RateLimit(per_second=per_second, burst=burst)
    query_app = serving_app(
        settings,
        engine,
        tokens,
        threshold=threshold,
        max_body_bytes=max_body_bytes,
        rate_limiter=RateLimiter(rate_limit),
        max_in_flight=max_in_flight,
    )
    err_console.print(
        f"query API on http://{host}:{port} (docs at /docs, dashboard at /dashboard), {count} token(s) from {path}, "
        f"per token at most {rate_limit}",
        highlight=False,
    )
    try:
        uvicorn.run(query_app, host=host, port=port, log_level=log_level)
    finally:
        engine.dispose()
