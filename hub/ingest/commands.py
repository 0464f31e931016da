"""``hub ingest serve``: the HTTP ingest API under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import cast, get_args

import typer
import uvicorn

from hub.commandline import make_console, serving_tokens, settings_of
from hub.credentials import district_logins
from hub.http_app import DEFAULT_MAX_IN_FLIGHT
from hub.ingest.app import create_ingest_app
from hub.ingest.batch import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENTS, DEFAULT_RATE_LIMIT, Limits
from hub.kafka_clients import ProducerClient
from hub.publishing.publisher import Publisher
from hub.rate_limit import RateLimit, RateLimiter
from hub.settings import HubSettings

app = typer.Typer(help="The HTTP ingest API (POST /v1/events).", no_args_is_help=True)
err_console = make_console(stderr=True)


def publisher_factory(settings: HubSettings, client: ProducerClient = "kafka-python") -> Publisher:
    """A publisher on the configured broker and schema registry.

    Its Kafka login: the user the settings name (``ingest`` in a deployment, allowed to write every district's
    raw topics); with none named and a local secured broker, each event's district's own principal, so that a
    publisher token maps to its district's principal and the broker checks the district a second time.
    """
    from hub.registry.client import RegistryClient

    registry = RegistryClient(settings.schema_registry_url, settings.request_timeout_s)
    return Publisher(settings, registry, logins=district_logins(settings), client=client)


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    tokens_file: Path | None = typer.Option(None, "--tokens-file", help="Default: HUB_TOKENS_FILE."),
    max_body_bytes: int = typer.Option(DEFAULT_MAX_BODY_BYTES, "--max-body-bytes", min=1, help="Largest body."),
    max_events: int = typer.Option(DEFAULT_MAX_EVENTS, "--max-events", min=1, help="Largest batch."),
    per_second: float = typer.Option(
        DEFAULT_RATE_LIMIT.per_second, "--requests-per-second", min=0.001, help="Sustained requests per token."
    ),
    burst: int = typer.Option(DEFAULT_RATE_LIMIT.burst, "--burst", min=1, help="Requests per token at once."),
    max_in_flight: int = typer.Option(
        DEFAULT_MAX_IN_FLIGHT,
        "--max-in-flight",
        min=1,
        help="Requests served at once, across tokens; one more gets 503 (memory <= this x --max-body-bytes).",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    kafka_client: str = typer.Option(
        "kafka-python",
        "--kafka-client",
        help="Producer library: kafka-python, or confluent (librdkafka; needs confluent-kafka installed).",
    ),
) -> None:
    """Serve the ingest API until interrupted."""
    if kafka_client not in get_args(ProducerClient):
        raise typer.BadParameter(f"expected one of {', '.join(get_args(ProducerClient))}", param_hint="--kafka-client")
    client = cast(ProducerClient, kafka_client)
    settings = settings_of(ctx)
    tokens, path, count = serving_tokens(
        settings, tokens_file, hint="hub tokens add --role publisher --district <code>"
    )
    rate_limit = RateLimit(per_second=per_second, burst=burst)
    api = create_ingest_app(
        settings,
        lambda: publisher_factory(settings, client),
        tokens,
        limits=Limits(max_body_bytes=max_body_bytes, max_events=max_events),
        rate_limiter=RateLimiter(rate_limit),
        max_in_flight=max_in_flight,
    )
    err_console.print(
        f"ingest API on http://{host}:{port} (docs at /docs), {count} token(s) from {path}, "
        f"Kafka {settings.bootstrap_servers}, registry {settings.schema_registry_url}, "
        f"per token at most {rate_limit}, at most {max_in_flight} request(s) at once",
        highlight=False,
    )
    uvicorn.run(api, host=host, port=port, log_level=log_level)
